package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/iostreams"
	"github.com/porttracker/porttracker/tracker/report"
)

// NewCmdReport builds `porttracker report ...`.
func NewCmdReport(f *Factory) *cobra.Command {
	return newNoun("report", "Summarise progress; generate reports/current.md",
		newCmdReportSummary(f, nil),
		newCmdReportGenerate(f, nil),
	)
}

// ReportSummaryOptions are the inputs of `report summary`.
type ReportSummaryOptions struct {
	IO          *iostreams.IOStreams
	OpenDB      func() (*db.DB, error)
	StaleCounts report.StaleCounter

	JSON  bool
	Stale bool // also count stale items (fingerprints the sources: slower)
}

func newCmdReportSummary(f *Factory, runF func(*ReportSummaryOptions) error) *cobra.Command {
	opts := &ReportSummaryOptions{IO: f.IOStreams, OpenDB: f.OpenDB, StaleCounts: f.StaleCounts}
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Per-status totals (overrides apart), per-batch progress, what is not planned, drift",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return reportSummaryRun(opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON)
	cmd.Flags().BoolVar(&opts.Stale, "stale", false, "also count complete and verified items whose evidence was taken on other sources (fingerprints the sources, so it takes seconds)")
	return cmd
}

func reportSummaryRun(opts *ReportSummaryOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	s, err := report.Summarize(ctx, d)
	if err != nil {
		return err
	}
	counter := opts.StaleCounts
	if !opts.Stale {
		counter = nil
	}
	if err := s.AddStale(ctx, d, counter); err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, s)
	}
	w := opts.IO.Out
	if v := s.Meta["upstream_version"]; v != "" {
		fmt.Fprintf(w, "upstream %s %s\n\n", s.Meta["upstream_module"], v)
	}
	fmt.Fprintln(w, "Totals (honest progress; overrides counted apart)")
	t := newTable(opts.IO, "KIND", "TOTAL", "DEFERRED", "STUB", "COMPLETE", "VERIFIED", "N_A", "OVERRIDES", "NOT PLANNED")
	for _, k := range s.Kinds {
		t.add(k.Kind.Plural(), fmt.Sprint(k.Total), fmt.Sprint(k.Honest.Deferred), fmt.Sprint(k.Honest.Stub),
			fmt.Sprint(k.Honest.Complete), fmt.Sprint(k.Honest.Verified), fmt.Sprint(k.Honest.NA),
			fmt.Sprint(k.Override.Total()), fmt.Sprint(k.NotPlanned))
	}
	if err := t.render(); err != nil {
		return err
	}
	for _, k := range s.Kinds {
		if o := k.Override; o.Total() > 0 {
			fmt.Fprintf(w, "%s by override: %s\n", k.Kind.Plural(), countsLine(o))
		}
		if k.Drifted > 0 || k.Removed > 0 {
			fmt.Fprintf(w, "%s: %d drifted upstream, %d removed upstream\n", k.Kind.Plural(), k.Drifted, k.Removed)
		}
		if k.Stale > 0 {
			fmt.Fprintf(w, "%s: %d stale (evidence taken on older sources; porttracker evidence run --stale)\n", k.Kind.Plural(), k.Stale)
		}
	}
	fmt.Fprintln(w, "\nBatches")
	if len(s.Batches) == 0 {
		fmt.Fprintln(w, "no batches yet")
		return nil
	}
	t = newTable(opts.IO, "ID", "NAME", "STATE", "DEPENDS ON", "FEATURES DONE", "TESTS DONE", "OVERRIDES")
	for _, b := range s.Batches {
		t.add(fmt.Sprint(b.ID), b.Name, b.State, dash(tracker.FormatIDs(b.DependsOn)),
			fmt.Sprintf("%d/%d", b.Features.Done, b.Features.Total), fmt.Sprintf("%d/%d", b.Tests.Done, b.Tests.Total),
			fmt.Sprint(b.Features.Overrides+b.Tests.Overrides))
	}
	return t.render()
}

// ReportGenerateOptions are the inputs of `report generate`.
type ReportGenerateOptions struct {
	IO          *iostreams.IOStreams
	OpenDB      func() (*db.DB, error)
	StaleCounts report.StaleCounter

	Out string // "-" or "": stdout
}

func newCmdReportGenerate(f *Factory, runF func(*ReportGenerateOptions) error) *cobra.Command {
	opts := &ReportGenerateOptions{IO: f.IOStreams, OpenDB: f.OpenDB, StaleCounts: f.StaleCounts}
	cmd := &cobra.Command{
		Use:     "generate [--out FILE]",
		Short:   "Write the markdown report (overrides, n_a reasons, drift), deterministic for one database state",
		Example: `  porttracker report generate --out reports/current.md`,
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return reportGenerateRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Out, "out", "-", "output file (- for stdout)")
	return cmd
}

func reportGenerateRun(opts *ReportGenerateOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	s, det, err := report.Collect(ctx, d)
	if err != nil {
		return err
	}
	if err := s.AddStale(ctx, d, opts.StaleCounts); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := report.WriteMarkdown(&buf, s, det); err != nil {
		return err
	}
	if opts.Out == "" || opts.Out == "-" {
		_, err := opts.IO.Out.Write(buf.Bytes())
		return err
	}
	// Write beside the target and rename, so a reader never sees half a report.
	tmp, err := os.CreateTemp(filepath.Dir(opts.Out), ".report-*.md")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), opts.Out); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "wrote %s\n", opts.Out)
	return nil
}
