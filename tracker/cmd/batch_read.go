package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/iostreams"
	"github.com/porttracker/porttracker/tracker/report"
)

// BatchListOptions are the inputs of `batch list` and `batch ready`.
type BatchListOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)

	ReadyOnly bool
	JSON      bool
}

// batchListExport is one batch in `batch list --json` / `batch ready --json`.
type batchListExport struct {
	ID        int64                    `json:"id"`
	Name      string                   `json:"name"`
	State     string                   `json:"state"`
	DependsOn []int64                  `json:"depends_on"`
	Features  report.BatchKindProgress `json:"features"`
	Tests     report.BatchKindProgress `json:"tests"`
}

func newCmdBatchList(f *Factory, runF func(*BatchListOptions) error) *cobra.Command {
	opts := &BatchListOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List batches with their state, dependencies and progress",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return batchListRun(opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

func newCmdBatchReady(f *Factory, runF func(*BatchListOptions) error) *cobra.Command {
	opts := &BatchListOptions{IO: f.IOStreams, OpenDB: f.OpenDB, ReadyOnly: true}
	cmd := &cobra.Command{
		Use:   "ready",
		Short: "List batches that can start now: pending, with every dependency complete",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return batchListRun(opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

func batchListRun(opts *BatchListOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	s, err := report.Summarize(context.Background(), d)
	if err != nil {
		return err
	}
	state := map[int64]string{}
	for _, b := range s.Batches {
		state[b.ID] = b.State
	}
	out := []batchListExport{}
	for _, b := range s.Batches {
		if opts.ReadyOnly && !isReady(b, state) {
			continue
		}
		out = append(out, batchListExport{ID: b.ID, Name: b.Name, State: b.State, DependsOn: b.DependsOn,
			Features: b.Features, Tests: b.Tests})
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, out)
	}
	t := newTable(opts.IO, "ID", "NAME", "STATE", "DEPENDS ON", "FEATURES DONE", "TESTS DONE", "OVERRIDES")
	for _, b := range out {
		t.add(fmt.Sprint(b.ID), b.Name, b.State, dash(tracker.FormatIDs(b.DependsOn)),
			fmt.Sprintf("%d/%d", b.Features.Done, b.Features.Total), fmt.Sprintf("%d/%d", b.Tests.Done, b.Tests.Total),
			fmt.Sprint(b.Features.Overrides+b.Tests.Overrides))
	}
	if err := t.render(); err != nil {
		return err
	}
	if opts.ReadyOnly && len(out) == 0 && opts.IO.IsStdoutTTY() {
		fmt.Fprintln(opts.IO.Out, "no batch is ready: every pending batch waits for a dependency")
	}
	return nil
}

// isReady: pending, and every dependency complete.
func isReady(b report.BatchProgress, state map[int64]string) bool {
	if b.State != db.BatchPending {
		return false
	}
	for _, dep := range b.DependsOn {
		if state[dep] != db.BatchComplete {
			return false
		}
	}
	return true
}

// BatchShowOptions are the inputs of `batch show`.
type BatchShowOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)

	ID   int64
	JSON bool
}

// batchItem is one item line of `batch show`.
type batchItem struct {
	ID       int64          `json:"id"`
	Symbol   string         `json:"symbol"`
	Status   tracker.Status `json:"status"`
	Override bool           `json:"override"`
	Upstream string         `json:"upstream"`
	Target   string         `json:"target"`
	TargetAt string         `json:"target_location"`
}

// exercisingTest is a test statically linked to features of the batch.
type exercisingTest struct {
	ID       int64          `json:"id"`
	Symbol   string         `json:"symbol"`
	Status   tracker.Status `json:"status"`
	BatchID  int64          `json:"batch_id"`
	Features int64          `json:"features"` // how many of the batch's features it reaches
}

// batchShowExport is the --json shape of `batch show`.
type batchShowExport struct {
	Batch           db.Batch            `json:"batch"`
	Dependencies    []batchRef          `json:"dependencies"`
	FeatureCounts   report.StatusCounts `json:"feature_counts"`
	TestCounts      report.StatusCounts `json:"test_counts"`
	Overrides       int64               `json:"overrides"`
	Features        []batchItem         `json:"features"`
	Tests           []batchItem         `json:"tests"`
	ExercisingTests []exercisingTest    `json:"exercising_tests"`
}

func newCmdBatchShow(f *Factory, runF func(*BatchShowOptions) error) *cobra.Command {
	opts := &BatchShowOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	cmd := &cobra.Command{
		Use:   "show N",
		Short: "Show a batch: dependencies, counts by status, its items, and the tests that exercise it",
		Args:  exactArgs(1, "one batch ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			id, err := tracker.ParseID(args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if runF != nil {
				return runF(opts)
			}
			return batchShowRun(opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

func batchShowRun(opts *BatchShowOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	x := batchShowExport{Dependencies: []batchRef{}, Features: []batchItem{}, Tests: []batchItem{}, ExercisingTests: []exercisingTest{}}
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		b, err := tx.GetBatch(opts.ID)
		if err != nil {
			return err
		}
		x.Batch = b
		for _, dep := range b.DependsOn {
			db, err := tx.GetBatch(dep)
			if err != nil {
				return err
			}
			x.Dependencies = append(x.Dependencies, batchRef{ID: db.ID, Name: db.Name, State: db.State})
		}
		for _, kind := range tracker.Kinds {
			items, err := tx.ListItems(db.ItemFilter{Kind: kind, BatchID: opts.ID, Brief: true})
			if err != nil {
				return err
			}
			counts := &x.FeatureCounts
			list := &x.Features
			if kind == tracker.KindTest {
				counts, list = &x.TestCounts, &x.Tests
			}
			for _, it := range items {
				addCount(counts, it.Status)
				if it.Override {
					x.Overrides++
				}
				*list = append(*list, batchItem{ID: it.ID, Symbol: it.Symbol(), Status: it.Status, Override: it.Override,
					Upstream: it.Location(), Target: it.Target, TargetAt: it.TargetLocation()})
			}
		}
		x.ExercisingTests, err = exercisingTests(tx, opts.ID)
		return err
	})
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, x)
	}
	return printBatchShow(opts.IO, x)
}

func addCount(c *report.StatusCounts, s tracker.Status) {
	switch s {
	case tracker.StatusDeferred:
		c.Deferred++
	case tracker.StatusStub:
		c.Stub++
	case tracker.StatusComplete:
		c.Complete++
	case tracker.StatusVerified:
		c.Verified++
	case tracker.StatusNA:
		c.NA++
	}
}

// exercisingTests lists tests with a static link into the batch's features.
// CROSS JOIN fixes the join order (batch's features, then their links, then
// the tests); left alone, SQLite may start from all tests.
func exercisingTests(tx *db.Tx, batchID int64) ([]exercisingTest, error) {
	rows, err := tx.Query(`SELECT t.id, t.receiver, t.name, t.status, coalesce(t.batch_id, 0), count(*)
		FROM items f INDEXED BY items_kind_batch
		CROSS JOIN links l ON l.feature_id = f.id AND l.source = 'static'
		CROSS JOIN items t ON t.kind = 'test' AND t.id = l.test_id
		WHERE f.kind = 'feature' AND f.batch_id = ?
		GROUP BY t.id ORDER BY t.id`, batchID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []exercisingTest{}
	for rows.Next() {
		var e exercisingTest
		var recv, name string
		if err := rows.Scan(&e.ID, &recv, &name, &e.Status, &e.BatchID, &e.Features); err != nil {
			return nil, err
		}
		it := db.Item{Receiver: recv, Name: name}
		e.Symbol = it.Symbol()
		out = append(out, e)
	}
	return out, rows.Err()
}

func countsLine(c report.StatusCounts) string {
	var parts []string
	for _, s := range tracker.Statuses {
		parts = append(parts, fmt.Sprintf("%s %d", s, c.Get(s)))
	}
	return fmt.Sprintf("%d total: %s", c.Total(), strings.Join(parts, ", "))
}

func printBatchShow(ios *iostreams.IOStreams, x batchShowExport) error {
	w := ios.Out
	b := x.Batch
	fmt.Fprintf(w, "batch %d  %s\n", b.ID, b.Name)
	var deps []string
	for _, d := range x.Dependencies {
		deps = append(deps, fmt.Sprintf("%d %s (%s)", d.ID, d.Name, d.State))
	}
	depLine := "none"
	if len(deps) > 0 {
		depLine = strings.Join(deps, "; ")
	}
	pairs := []string{"state", b.State}
	if b.Description != "" {
		pairs = append(pairs, "description", b.Description)
	}
	if b.StartedAt != "" {
		pairs = append(pairs, "started", b.StartedAt)
	}
	if b.CompletedAt != "" {
		pairs = append(pairs, "completed", b.CompletedAt)
	}
	pairs = append(pairs, "depends on", depLine, "features", countsLine(x.FeatureCounts), "tests", countsLine(x.TestCounts),
		"overrides", fmt.Sprint(x.Overrides))
	section(w, "", pairs...)
	for _, part := range []struct {
		title string
		items []batchItem
	}{{"Features", x.Features}, {"Tests", x.Tests}} {
		fmt.Fprintf(w, "\n%s (%d)\n", part.title, len(part.items))
		t := newTable(ios, "ID", "SYMBOL", "STATUS", "UPSTREAM", "TARGET", "TARGET AT")
		for _, it := range part.items {
			st := string(it.Status)
			if it.Override {
				st += " (override)"
			}
			t.add(fmt.Sprint(it.ID), it.Symbol, st, it.Upstream, dash(it.Target), dash(it.TargetAt))
		}
		if err := t.render(); err != nil {
			return err
		}
	}
	if len(x.ExercisingTests) > 0 {
		fmt.Fprintf(w, "\nTests that exercise this batch (static links, %d)\n", len(x.ExercisingTests))
		t := newTable(ios, "ID", "SYMBOL", "STATUS", "BATCH", "FEATURES REACHED")
		for _, e := range x.ExercisingTests {
			t.add(fmt.Sprint(e.ID), e.Symbol, string(e.Status), batchLabel(e.BatchID), fmt.Sprint(e.Features))
		}
		return t.render()
	}
	return nil
}
