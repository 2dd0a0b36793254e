package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// ItemListOptions are the inputs of `feature list` / `test list`.
type ItemListOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)
	Kind   tracker.Kind

	BatchID int64
	Status  string
	File    string
	Name    string
	JSON    bool
}

func newCmdItemList(f *Factory, kind tracker.Kind, runF func(*ItemListOptions) error) *cobra.Command {
	opts := &ItemListOptions{IO: f.IOStreams, OpenDB: f.OpenDB, Kind: kind}
	cmd := &cobra.Command{
		Use:   "list",
		Short: fmt.Sprintf("List %s, filtered by batch, status, file or name", kind.Plural()),
		Example: fmt.Sprintf(`  porttracker %[1]s list --batch 15
  porttracker %[1]s list --status deferred --file filestore.go
  porttracker %[1]s list --name compact --json`, kind),
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if opts.BatchID < 0 {
				return tracker.Usagef("invalid --batch %d", opts.BatchID)
			}
			if opts.Status != "" {
				if _, err := tracker.ParseStatus(opts.Status); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return itemListRun(opts)
		},
	}
	cmd.Flags().Int64Var(&opts.BatchID, "batch", 0, "only items in batch `N`")
	cmd.Flags().StringVar(&opts.Status, "status", "", "only items with this status")
	cmd.Flags().StringVar(&opts.File, "file", "", "only items in this upstream file (path or base name)")
	cmd.Flags().StringVar(&opts.Name, "name", "", "only items whose name or receiver contains `TEXT`")
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

func itemListRun(opts *ItemListOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	var items []db.Item
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		if opts.BatchID > 0 {
			if _, err := tx.GetBatch(opts.BatchID); err != nil {
				return err
			}
		}
		items, err = tx.ListItems(db.ItemFilter{Kind: opts.Kind, BatchID: opts.BatchID,
			Status: tracker.Status(opts.Status), File: opts.File, Name: opts.Name})
		return err
	})
	if err != nil {
		return err
	}
	if opts.JSON {
		if items == nil {
			items = []db.Item{}
		}
		return writeJSON(opts.IO.Out, items)
	}
	t := newTable(opts.IO, "ID", "SYMBOL", "STATUS", "BATCH", "UPSTREAM", "TARGET")
	for _, it := range items {
		t.add(fmt.Sprint(it.ID), it.Symbol(), statusLabel(it), batchLabel(it.BatchID), it.Location(), dash(it.Target))
	}
	if err := t.render(); err != nil {
		return err
	}
	if opts.IO.IsStdoutTTY() {
		fmt.Fprintf(opts.IO.Out, "%d %s\n", len(items), opts.Kind.Plural())
	}
	return nil
}

// statusLabel marks overridden statuses so they never pass for honest ones.
func statusLabel(it db.Item) string {
	s := string(it.Status)
	if it.Override {
		s += " (override)"
	}
	return s
}

func batchLabel(id int64) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprint(id)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ItemShowOptions are the inputs of `feature show` / `test show`.
type ItemShowOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)
	Kind   tracker.Kind

	ID   int64
	JSON bool

	// Source prints the upstream and target bodies (inventory_source.go).
	Source   bool
	Upstream string
	Getenv   func(string) string
}

// linkedItem is a linked test (of a feature) or feature (of a test).
type linkedItem struct {
	ID     int64          `json:"id"`
	Symbol string         `json:"symbol"`
	Status tracker.Status `json:"status"`
	Source string         `json:"source"`
}

// batchRef names a batch in show output.
type batchRef struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
}

// itemShowExport is the --json shape of `feature show` / `test show`.
type itemShowExport struct {
	db.Item
	Batch    *batchRef     `json:"batch"`
	Links    []linkedItem  `json:"links"`
	Evidence []db.Evidence `json:"evidence"`
	History  []db.AuditRow `json:"history"`
}

func newCmdItemShow(f *Factory, kind tracker.Kind, runF func(*ItemShowOptions) error) *cobra.Command {
	opts := &ItemShowOptions{IO: f.IOStreams, OpenDB: f.OpenDB, Kind: kind, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: fmt.Sprintf("Show one %s: upstream, target, status, batch, links, evidence and history", kind),
		Args:  exactArgs(1, "one "+string(kind)+" ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			id, err := tracker.ParseID(args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if runF != nil {
				return runF(opts)
			}
			return itemShowRun(opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON)
	addSourceFlags(cmd, &opts.Source, &opts.Upstream)
	return cmd
}

func itemShowRun(opts *ItemShowOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	var x itemShowExport
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		it, err := tx.GetItem(opts.Kind, opts.ID)
		if err != nil {
			return err
		}
		x = itemShowExport{Item: it, Links: []linkedItem{}}
		if it.BatchID > 0 {
			b, err := tx.GetBatch(it.BatchID)
			if err != nil {
				return err
			}
			x.Batch = &batchRef{ID: b.ID, Name: b.Name, State: b.State}
		}
		links, err := tx.ItemLinks(opts.Kind, opts.ID)
		if err != nil {
			return err
		}
		otherKind, ids := tracker.KindTest, make([]int64, 0, len(links))
		if opts.Kind == tracker.KindTest {
			otherKind = tracker.KindFeature
		}
		for _, l := range links {
			other := l.TestID
			if opts.Kind == tracker.KindTest {
				other = l.FeatureID
			}
			ids = append(ids, other)
		}
		others, _, err := tx.GetItems(otherKind, ids)
		if err != nil {
			return err
		}
		byID := map[int64]db.Item{}
		for _, o := range others {
			byID[o.ID] = o
		}
		for i, l := range links {
			o := byID[ids[i]]
			x.Links = append(x.Links, linkedItem{ID: ids[i], Symbol: o.Symbol(), Status: o.Status, Source: l.Source})
		}
		if x.Evidence, err = tx.LatestEvidence(opts.Kind, opts.ID); err != nil {
			return err
		}
		x.History, err = tx.ItemAudit(string(opts.Kind), opts.ID)
		return err
	})
	if err != nil {
		return err
	}
	if x.Evidence == nil {
		x.Evidence = []db.Evidence{}
	}
	if x.History == nil {
		x.History = []db.AuditRow{}
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, x)
	}
	if err := printItemShow(opts.IO, x); err != nil || !opts.Source {
		return err
	}
	return printItemSource(opts.IO.Out, x.Item, upstreamDir(opts.Upstream, opts.Getenv))
}

func printItemShow(ios *iostreams.IOStreams, x itemShowExport) error {
	w := ios.Out
	it := x.Item
	fmt.Fprintf(w, "%s %d  %s\n", it.Kind, it.ID, it.Symbol())
	upstream := fmt.Sprintf("%s:%d-%d (package %s)", it.File, it.StartLine, it.EndLine, it.Package)
	target := dash(it.Target)
	if it.TargetPkg != "" {
		target += "  (" + it.TargetPkg + ")"
	}
	if loc := it.TargetLocation(); loc != "" {
		target += "  " + loc
	} else if it.Target != "" {
		target += "  (not resolved)"
	}
	if it.TargetManual {
		target += "  [mapped by hand]"
	}
	override := "no"
	if it.Override {
		override = "yes"
	}
	batch := "- (not planned)"
	if x.Batch != nil {
		batch = fmt.Sprintf("%d %s (%s)", x.Batch.ID, x.Batch.Name, x.Batch.State)
	}
	drift := "no"
	switch {
	case it.Removed:
		drift = "REMOVED upstream at the last scan"
	case it.Drifted:
		drift = "DRIFTED: upstream body changed since it was ported"
	}
	section(w, "",
		"upstream", upstream,
		"signature", dash(it.Signature),
		"target", target,
		"status", string(it.Status),
		"reason", dash(it.Reason),
		"override", override,
		"batch", batch,
		"drift", drift,
	)
	linkTitle := "Linked tests"
	if it.Kind == tracker.KindTest {
		linkTitle = "Linked features"
	}
	fmt.Fprintf(w, "\n%s (%d)\n", linkTitle, len(x.Links))
	t := newTable(ios, "ID", "SYMBOL", "STATUS", "SOURCE")
	for _, l := range x.Links {
		t.add(fmt.Sprint(l.ID), l.Symbol, string(l.Status), l.Source)
	}
	if err := t.render(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nEvidence, newest per gate (%d)\n", len(x.Evidence))
	t = newTable(ios, "GATE", "VERDICT", "AT", "DETAIL", "EVIDENCE")
	for _, e := range x.Evidence {
		t.add(e.Gate, e.Verdict, e.StartedAt, e.Detail, fmt.Sprint(e.ID))
	}
	if err := t.render(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nHistory (%d)\n", len(x.History))
	t = newTable(ios, "AT", "ACTOR", "ACTION", "FROM", "TO", "OVERRIDE", "REASON")
	for _, h := range x.History {
		o := ""
		if h.Override {
			o = "override"
		}
		t.add(h.At, h.Actor, h.Action, dash(h.From), dash(h.To), dash(o), dash(strings.TrimSpace(h.Reason)))
	}
	return t.render()
}
