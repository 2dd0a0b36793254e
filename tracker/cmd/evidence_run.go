package cmd

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/gates"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// EvidenceRunOptions are the inputs of `evidence run`.
type EvidenceRunOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)
	// Ctx is canceled on SIGINT/SIGTERM: the running tests are killed and
	// nothing of the unfinished run is recorded as a verdict.
	Ctx context.Context

	Batch    int64
	Features []int64
	Tests    []int64
	Stale    bool
	Gates    []evidence.Gate
	Jobs     int
	Force    bool
	Execute  bool
	JSON     bool
}

// evidenceRunExport is the --json shape of `evidence run`.
type evidenceRunExport struct {
	Items     []*gates.ItemReport `json:"items"`
	Demotions []gates.Demotion    `json:"demotions"`
	Executed  bool                `json:"executed"`
}

func newCmdEvidenceRun(f *Factory, runF func(*EvidenceRunOptions) error) *cobra.Command {
	opts := &EvidenceRunOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	var features, tests, gateList string
	cmd := &cobra.Command{
		Use:   "run [--batch N | --features IDS | --tests IDS | --stale]",
		Short: "Run the gates for items and record the evidence",
		Long: `Run the gates for a batch's items, for listed features and tests, or for every
complete or verified item whose evidence was taken on other sources (--stale).

Gates: build (go build + go vet), stub (go/ast stub scan), links (per-test
coverage), test (go test -json, fresh), gut (zero-value mutants must be caught).
Evidence that passed on the current sources is reused unless --force. Every
verdict is recorded in porting.db with its log; the command ends with a verdict
table and exits 1 when any gate does not pass.

--stale re-checks complete and verified items whose sources changed and demotes
the ones that fail (verified -> complete or stub); demotions are a dry run
unless --execute.

Ctrl-C (or SIGTERM) stops a run cleanly: the test processes are killed, the
gates that had finished keep their evidence, the cut-short ones record none,
and the exit code is 1.`,
		Example: `  porttracker evidence run --batch 13
  porttracker evidence run --features 951-954 --gates build,stub
  porttracker evidence run --tests 368 -j 4
  porttracker evidence run --stale --execute`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Ctx = cmd.Context()
			modes := 0
			if cmd.Flags().Changed("batch") {
				modes++
				if opts.Batch <= 0 {
					return tracker.Usagef("--batch needs a batch ID")
				}
			}
			if features != "" || tests != "" {
				modes++
			}
			if opts.Stale {
				modes++
			}
			if modes != 1 {
				return tracker.Usagef("give one of --batch N, --features/--tests IDS, or --stale")
			}
			var err error
			if features != "" {
				if opts.Features, err = tracker.ParseIDs(features); err != nil {
					return err
				}
			}
			if tests != "" {
				if opts.Tests, err = tracker.ParseIDs(tests); err != nil {
					return err
				}
			}
			if gateList != "" {
				if opts.Stale {
					return tracker.Usagef("--stale runs the gates each item's status needs; --gates does not apply")
				}
				names, err := parseGateList(gateList)
				if err != nil {
					return err
				}
				for _, n := range names {
					g, err := evidence.ParseGate(n)
					if err != nil {
						return tracker.Usagef("%v", err)
					}
					opts.Gates = append(opts.Gates, g)
				}
			}
			if opts.Execute && !opts.Stale {
				return tracker.Usagef("--execute applies to --stale demotions only (recording evidence needs no --execute)")
			}
			if opts.Jobs < 0 {
				return tracker.Usagef("-j must be >= 1")
			}
			if runF != nil {
				return runF(opts)
			}
			return evidenceRunRun(opts)
		},
	}
	cmd.Flags().Int64Var(&opts.Batch, "batch", 0, "run the gates for every feature and test of batch `N` (n_a items excepted)")
	cmd.Flags().StringVar(&features, "features", "", `feature IDs, e.g. "951-954,971"`)
	cmd.Flags().StringVar(&tests, "tests", "", `test IDs, e.g. "368,373"`)
	cmd.Flags().BoolVar(&opts.Stale, "stale", false, "re-check complete/verified items whose sources changed; demote failures")
	cmd.Flags().StringVar(&gateList, "gates", "", "only these gates, e.g. build,stub (default: all that apply)")
	cmd.Flags().IntVarP(&opts.Jobs, "jobs", "j", 0, "test processes at once (default: config jobs, else one per CPU)")
	cmd.Flags().BoolVar(&opts.Force, "force", false, "run gates even where fresh passing evidence exists")
	cmd.Flags().BoolVar(&opts.Execute, "execute", false, "with --stale: write the demotions (otherwise a dry run)")
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

func evidenceRunRun(opts *EvidenceRunOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := orBackground(opts.Ctx)
	eng, err := gates.NewEngine(ctx, d, gates.Options{Jobs: opts.Jobs, Force: opts.Force, Progress: progressPrinter(opts.IO)})
	if err != nil {
		return err
	}
	x := evidenceRunExport{Items: []*gates.ItemReport{}, Demotions: []gates.Demotion{}}
	if opts.Stale {
		rep, err := eng.Recheck(ctx, opts.Execute)
		if err != nil {
			return err
		}
		x.Items, x.Demotions, x.Executed = rep.Report.Items, rep.Demotions, rep.Executed
		if x.Items == nil {
			x.Items = []*gates.ItemReport{}
		}
		return printStale(opts, x)
	}
	req := gates.Request{Features: opts.Features, Tests: opts.Tests, Gates: opts.Gates}
	if opts.Batch > 0 {
		if req, err = batchRequest(ctx, d, opts.Batch, opts.Gates); err != nil {
			return err
		}
		if len(req.Features)+len(req.Tests) == 0 {
			fmt.Fprintf(opts.IO.ErrOut, "batch %d has no items to check\n", opts.Batch)
			return nil
		}
	}
	rep, err := eng.Run(ctx, req)
	if err != nil {
		return err
	}
	x.Items = rep.Items
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, x); err != nil {
			return err
		}
	} else if err := printVerdictTable(opts.IO, rep.Items, opts.Gates); err != nil {
		return err
	}
	var failed []string
	for _, ir := range rep.Items {
		for _, g := range shownGates(ir.Kind, opts.Gates) {
			if !ir.FreshPass(g) {
				failed = append(failed, fmt.Sprintf("%s %d", ir.Kind, ir.ID))
				break
			}
		}
	}
	if len(failed) > 0 {
		return &tracker.RefusedError{Msg: fmt.Sprintf("gates do not pass for %d of %d items (details: porttracker evidence show KIND ID)",
			len(failed), len(rep.Items)), Problems: failed}
	}
	fmt.Fprintf(opts.IO.ErrOut, "all gates pass for %d items\n", len(rep.Items))
	return nil
}

// batchRequest selects a batch's features and tests, n_a items excepted.
func batchRequest(ctx context.Context, d *db.DB, batch int64, gs []evidence.Gate) (gates.Request, error) {
	req := gates.Request{Gates: gs}
	err := d.Read(ctx, func(tx *db.Tx) error {
		if _, err := tx.GetBatch(batch); err != nil {
			return err
		}
		for _, kind := range tracker.Kinds {
			items, err := tx.ListItems(db.ItemFilter{Kind: kind, BatchID: batch})
			if err != nil {
				return err
			}
			for _, it := range items {
				if it.Status == tracker.StatusNA {
					continue
				}
				if kind == tracker.KindFeature {
					req.Features = append(req.Features, it.ID)
				} else {
					req.Tests = append(req.Tests, it.ID)
				}
			}
		}
		return nil
	})
	return req, err
}

// shownGates are the gates of kind a run covered: the requested ones, or
// all that apply.
func shownGates(kind tracker.Kind, requested []evidence.Gate) []evidence.Gate {
	all := gates.FeatureGates
	if kind == tracker.KindTest {
		all = gates.TestGates
	}
	if len(requested) == 0 {
		return all
	}
	var out []evidence.Gate
	for _, g := range all {
		if slices.Contains(requested, g) {
			out = append(out, g)
		}
	}
	return out
}

// verdictCell is one gate's cell: the verdict, "*" when reused from an
// earlier run, "stale" when taken on other sources, "-" when the gate does
// not apply.
func verdictCell(ir *gates.ItemReport, g evidence.Gate, shown []evidence.Gate) string {
	if !gates.Applies(ir.Kind, g) || !slices.Contains(shown, g) {
		return "-"
	}
	o := ir.Gates[g]
	switch {
	case o == nil:
		return "none"
	case o.EvidenceID != 0 && !ir.Fresh(g):
		return "stale"
	case o.Reused:
		return string(o.Verdict) + "*"
	}
	return string(o.Verdict)
}

func printVerdictTable(ios *iostreams.IOStreams, items []*gates.ItemReport, requested []evidence.Gate) error {
	t := newTable(ios, "KIND", "ID", "TARGET", "BUILD", "STUB", "LINKS", "TEST", "GUT", "DETAIL")
	reused := false
	for _, ir := range items {
		shown := shownGates(ir.Kind, requested)
		cells := []string{string(ir.Kind), fmt.Sprint(ir.ID), ir.Target}
		detail := "ok"
		for _, g := range []evidence.Gate{evidence.GateBuild, evidence.GateStub, evidence.GateLinks, evidence.GateTest, evidence.GateGut} {
			c := verdictCell(ir, g, shown)
			reused = reused || strings.HasSuffix(c, "*")
			cells = append(cells, c)
			if detail == "ok" && c != "-" && !ir.FreshPass(g) {
				if o := ir.Gates[g]; o != nil {
					detail = fmt.Sprintf("%s: %s", g, o.Detail)
				} else {
					detail = fmt.Sprintf("%s: no evidence", g)
				}
			}
		}
		t.add(append(cells, detail)...)
	}
	if err := t.render(); err != nil {
		return err
	}
	if reused && ios.IsStdoutTTY() {
		fmt.Fprintln(ios.ErrOut, "* fresh evidence from an earlier run, reused (--force runs it again)")
	}
	return nil
}

func printStale(opts *EvidenceRunOptions, x evidenceRunExport) error {
	if opts.JSON {
		return writeJSON(opts.IO.Out, x)
	}
	if len(x.Items) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "no stale items: every complete and verified item has fresh evidence")
		return nil
	}
	if err := printVerdictTable(opts.IO, x.Items, nil); err != nil {
		return err
	}
	t := newTable(opts.IO, "KIND", "ID", "TARGET", "FROM", "TO", "REASON")
	for _, dm := range x.Demotions {
		t.add(string(dm.Kind), fmt.Sprint(dm.ID), dm.Target, string(dm.From), string(dm.To), dm.Reason)
	}
	if len(x.Demotions) > 0 {
		fmt.Fprintln(opts.IO.Out)
		if err := t.render(); err != nil {
			return err
		}
	}
	switch {
	case len(x.Demotions) == 0:
		fmt.Fprintf(opts.IO.ErrOut, "re-checked %d stale items: all still pass\n", len(x.Items))
	case x.Executed:
		fmt.Fprintf(opts.IO.ErrOut, "demoted %d of %d re-checked items\n", len(x.Demotions), len(x.Items))
	default:
		fmt.Fprintf(opts.IO.ErrOut, "dry run: would demote %d of %d re-checked items; nothing written (add --execute)\n", len(x.Demotions), len(x.Items))
	}
	return nil
}
