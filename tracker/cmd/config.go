package cmd

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/gates"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// NewCmdConfig builds `porttracker config ...`.
func NewCmdConfig(f *Factory) *cobra.Command {
	return newNoun("config", "Read and change the evidence gates' configuration in porting.db",
		newCmdConfigList(f, nil),
		newCmdConfigGet(f, nil),
		newCmdConfigSet(f, nil),
	)
}

// ConfigOptions are the inputs of the config verbs.
type ConfigOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)

	Key     string
	Value   string
	Execute bool
	JSON    bool
}

// configEntry is one key in `config list --json`.
type configEntry struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Default string `json:"default"`
	Set     bool   `json:"set"`
	Help    string `json:"help"`
}

func configKeysHelp() string {
	var b strings.Builder
	b.WriteString("Keys:\n")
	for _, k := range gates.Keys() {
		def := k.Default
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(&b, "  %-20s %s (default: %s)\n", k.Key, k.Help, def)
	}
	return b.String()
}

func newCmdConfigList(f *Factory, runF func(*ConfigOptions) error) *cobra.Command {
	opts := &ConfigOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List every config key with its value or default",
		Long:  "List every config key with its value or default.\n\n" + configKeysHelp(),
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return configListRun(opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

func configListRun(opts *ConfigOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	var kv map[string]string
	if err := d.Read(context.Background(), func(tx *db.Tx) error {
		kv, err = tx.AllKV(db.TableConfig)
		return err
	}); err != nil {
		return err
	}
	entries := []configEntry{}
	for _, k := range gates.Keys() {
		if strings.HasPrefix(k.Key, gates.KeyTestFlagsPrefix) {
			continue
		}
		v, set := kv[k.Key]
		if !set {
			v = k.Default
		}
		entries = append(entries, configEntry{Key: k.Key, Value: v, Default: k.Default, Set: set, Help: k.Help})
	}
	var extra []string
	for k := range kv {
		if strings.HasPrefix(k, gates.KeyTestFlagsPrefix) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		entries = append(entries, configEntry{Key: k, Value: kv[k], Set: true, Help: "extra go test build flags for " + strings.TrimPrefix(k, gates.KeyTestFlagsPrefix)})
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, entries)
	}
	t := newTable(opts.IO, "KEY", "VALUE", "SOURCE")
	for _, e := range entries {
		source := "default"
		if e.Set {
			source = "set"
		}
		t.add(e.Key, e.Value, source)
	}
	return t.render()
}

func newCmdConfigGet(f *Factory, runF func(*ConfigOptions) error) *cobra.Command {
	opts := &ConfigOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	return &cobra.Command{
		Use:   "get KEY",
		Short: "Print one config value (its default when unset)",
		Long:  "Print one config value (its default when unset).\n\n" + configKeysHelp(),
		Args:  exactArgs(1, "one KEY"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Key = args[0]
			if err := gates.CheckKeyName(opts.Key); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return configGetRun(opts)
		},
	}
}

func configGetRun(opts *ConfigOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	var v string
	var ok bool
	if err := d.Read(context.Background(), func(tx *db.Tx) error {
		v, ok, err = tx.GetKV(db.TableConfig, opts.Key)
		return err
	}); err != nil {
		return err
	}
	if !ok {
		v = gates.DefaultValue(opts.Key)
	}
	fmt.Fprintln(opts.IO.Out, v)
	return nil
}

func newCmdConfigSet(f *Factory, runF func(*ConfigOptions) error) *cobra.Command {
	opts := &ConfigOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	cmd := &cobra.Command{
		Use:   "set KEY VALUE",
		Short: "Change one config value (audited; dry run unless --execute)",
		Long:  "Change one config value. The change is recorded in the audit log. Dry run unless --execute.\n\n" + configKeysHelp(),
		Example: `  porttracker config set target_packages "./store/..." --execute
  porttracker config set --execute test_flags:./store -- -race   # "--": the value starts with "-"
  porttracker config set upstream_dir /src/nats-server --execute`,
		Args: exactArgs(2, "KEY and VALUE"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Key, opts.Value = args[0], args[1]
			if err := gates.CheckKey(opts.Key, opts.Value); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return configSetRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Execute, "execute", false, "write the change (otherwise a dry run)")
	return cmd
}

func configSetRun(opts *ConfigOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	apply := func(tx *db.Tx) (old string, err error) {
		old, ok, err := tx.GetKV(db.TableConfig, opts.Key)
		if err != nil {
			return "", err
		}
		if !ok {
			old = gates.DefaultValue(opts.Key)
		}
		if !opts.Execute || old == opts.Value {
			return old, nil
		}
		if err := tx.SetKV(db.TableConfig, opts.Key, opts.Value); err != nil {
			return "", err
		}
		_, err = tx.AppendAudit(db.AuditEntry{Kind: "db", Action: db.ActionConfig,
			From: opts.Key + "=" + old, To: opts.Key + "=" + opts.Value})
		return old, err
	}
	var old string
	if opts.Execute {
		err = d.Write(context.Background(), func(tx *db.Tx) error { old, err = apply(tx); return err })
	} else {
		err = d.Read(context.Background(), func(tx *db.Tx) error { old, err = apply(tx); return err })
	}
	if err != nil {
		return err
	}
	switch {
	case old == opts.Value:
		fmt.Fprintf(opts.IO.ErrOut, "config %s is already %q: nothing to change\n", opts.Key, opts.Value)
	case opts.Execute:
		fmt.Fprintf(opts.IO.ErrOut, "config %s: %q -> %q\n", opts.Key, old, opts.Value)
	default:
		fmt.Fprintf(opts.IO.ErrOut, "dry run: would set config %s: %q -> %q; nothing written (add --execute)\n", opts.Key, old, opts.Value)
	}
	return nil
}
