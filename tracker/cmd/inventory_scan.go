package cmd

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/inventory"
)

// InventoryScanOptions are the inputs of `inventory scan`.
type InventoryScanOptions struct {
	InventoryDeps
	Dir        string
	Include    []string
	Module     string
	Version    string
	Commit     string
	SkipBroken bool
	Execute    bool
	List       bool
	JSON       bool
}

func newCmdInventoryScan(f *Factory, runF func(*InventoryScanOptions) error) *cobra.Command {
	opts := &InventoryScanOptions{InventoryDeps: inventoryDeps(f)}
	cmd := &cobra.Command{
		Use:   "scan DIR",
		Short: "Scan an upstream tree into porting.db (dry run unless --execute)",
		Long: `Scan DIR (the upstream module root, e.g. an extracted nats-server v2.14.5) with
go/parser: every function and method of the non-test files under the included
subtrees (default: server) is a feature, every func TestXxx(t *testing.T) a test.
Build-tagged files are all included, so the inventory does not depend on the
platform that ran the scan.

Against porting.db: existing items keep their IDs and get their location,
signature and body hash updated; new symbols get the next free ID of their kind;
symbols gone upstream stay, flagged removed; a body change of an item at stub
or better is flagged drifted (see 'inventory drift'). Prints the counts of new,
moved, changed, removed, restored and drifted items; --execute writes them with
one 'inventory_scan' audit row. A scan identical to the database writes nothing.`,
		Args: exactArgs(1, "the upstream directory DIR"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if runF != nil {
				return runF(opts)
			}
			return inventoryScanRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Include, "include", inventory.DefaultInclude, "subtrees of DIR to scan (relative, comma-separated)")
	fl.StringVar(&opts.Module, "module", "", "upstream module path for meta (default: from DIR/go.mod)")
	fl.StringVar(&opts.Version, "version", "", "upstream version for meta, e.g. v2.14.5 (default: keep the stored one)")
	fl.StringVar(&opts.Commit, "commit", "", "upstream commit for meta (default: keep the stored one)")
	fl.BoolVar(&opts.SkipBroken, "skip-broken", false, "report files that do not parse and go on (their items are left alone)")
	fl.BoolVar(&opts.Execute, "execute", false, "write the changes (default: dry run)")
	fl.BoolVar(&opts.List, "list", false, "list every changed item (default: the first 20)")
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

// scanExport is the --json shape of `inventory scan`.
type scanExport struct {
	Dir      string                 `json:"dir"`
	Files    int                    `json:"files"`
	Lines    int                    `json:"lines"`
	Millis   int64                  `json:"scan_ms"`
	Features inventory.Counts       `json:"features"`
	Tests    inventory.Counts       `json:"tests"`
	Meta     []inventory.MetaChange `json:"meta"`
	Changes  []inventory.Change     `json:"changes"`
	Broken   []string               `json:"broken"`
	Written  bool                   `json:"written"`
}

func inventoryScanRun(opts *InventoryScanOptions) error {
	ctx := context.Background()
	start := time.Now()
	res, err := inventory.Scan(ctx, opts.Dir, inventory.ScanOptions{Include: opts.Include, SkipBroken: opts.SkipBroken})
	if err != nil {
		return &tracker.RefusedError{Msg: err.Error()}
	}
	elapsed := time.Since(start)
	up := inventory.Upstream{Module: opts.Module, Version: opts.Version, Commit: opts.Commit}
	if up.Module == "" {
		up.Module = moduleOf(opts.Dir)
	}
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	var rep *inventory.MergeReport
	merge := func(tx *db.Tx) error {
		var err error
		rep, err = inventory.Merge(tx, res, up)
		return err
	}
	if opts.Execute {
		err = d.Write(ctx, merge)
	} else {
		err = d.Read(ctx, merge)
	}
	if err != nil {
		return err
	}
	var broken []string
	for _, b := range res.Broken {
		broken = append(broken, b.String())
	}
	if opts.JSON {
		changes := rep.Changes
		if changes == nil {
			changes = []inventory.Change{}
		}
		meta := rep.Meta
		if meta == nil {
			meta = []inventory.MetaChange{}
		}
		if broken == nil {
			broken = []string{}
		}
		return writeJSON(opts.IO.Out, scanExport{Dir: opts.Dir, Files: res.Files, Lines: res.Lines,
			Millis: elapsed.Milliseconds(), Features: rep.Features, Tests: rep.Tests, Meta: meta,
			Changes: changes, Broken: broken, Written: rep.Written})
	}
	w := opts.IO.Out
	abs, _ := filepath.Abs(opts.Dir)
	fmt.Fprintf(w, "scanned %v of %s: %s, %d lines, %s, %s in %s\n", res.Include, abs, plural(res.Files, "file"),
		res.Lines, plural(rep.Features.Scanned, "feature"), plural(rep.Tests.Scanned, "test"), elapsed.Round(time.Millisecond))
	for _, b := range broken {
		fmt.Fprintf(opts.IO.ErrOut, "skipped broken file %s\n", b)
	}
	t := newTable(opts.IO, "KIND", "NEW", "MOVED", "CHANGED", "REMOVED", "RESTORED", "DRIFTED", "UNCHANGED")
	for _, row := range []struct {
		kind string
		c    inventory.Counts
	}{{"features", rep.Features}, {"tests", rep.Tests}} {
		t.add(row.kind, fmt.Sprint(row.c.New), fmt.Sprint(row.c.Moved), fmt.Sprint(row.c.Changed), fmt.Sprint(row.c.Removed),
			fmt.Sprint(row.c.Restored), fmt.Sprint(row.c.Drifted), fmt.Sprint(row.c.Unchanged))
	}
	if err := t.render(); err != nil {
		return err
	}
	for _, m := range rep.Meta {
		fmt.Fprintf(w, "meta %s: %q -> %q\n", m.Key, m.From, m.To)
	}
	limit := 20
	if opts.List {
		limit = -1
	}
	printChanges(w, rep.Changes, limit)
	dryRunNote(w, rep.Written, rep.Empty())
	return nil
}
