package cmd

import (
	"context"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/inventory"
)

// InventoryPlanApplyOptions are the inputs of `inventory plan apply`.
type InventoryPlanApplyOptions struct {
	InventoryDeps
	File     string
	Upstream string
	Execute  bool
	List     bool
}

func newCmdInventoryPlanApply(f *Factory, runF func(*InventoryPlanApplyOptions) error) *cobra.Command {
	opts := &InventoryPlanApplyOptions{InventoryDeps: inventoryDeps(f)}
	cmd := &cobra.Command{
		Use:   "apply FILE",
		Short: "Create a plan's batches and assign items to them (dry run unless --execute)",
		Long: `Apply a batch plan (plan/storage.json; rules in plan/README.md) in one transaction:
create its batches with their dependencies, move the selected features and tests
into them (one audited 'move' per item), move the tests its n_a rules match to
n_a with the rule's reason (one audited 'status' per test), and store the static
links (source 'static') of the batched tests. The call graph is built from the
upstream tree, so --upstream (or $` + EnvUpstream + `) must point at the tree
that was scanned. Applying the same plan twice changes nothing.`,
		Args: exactArgs(1, "the plan file FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(opts)
			}
			return inventoryPlanApplyRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Upstream, "upstream", "", "the scanned upstream tree (default $"+EnvUpstream+")")
	fl.BoolVar(&opts.Execute, "execute", false, "write the plan (default: dry run)")
	fl.BoolVar(&opts.List, "list", false, "list the n_a and unassigned tests")
	return cmd
}

func inventoryPlanApplyRun(opts *InventoryPlanApplyOptions) error {
	ctx := context.Background()
	plan, err := inventory.LoadPlan(opts.File)
	if err != nil {
		return err
	}
	up := upstreamDir(opts.Upstream, opts.Getenv)
	if up == "" {
		return tracker.Usagef("plan apply needs the scanned upstream tree: pass --upstream DIR or set %s", EnvUpstream)
	}
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()

	// Build the call graph before any transaction so the write lock is held
	// only for the writes.
	g, err := inventory.BuildCallGraph(ctx, up, plan.Packages())
	if err != nil {
		return &tracker.RefusedError{Msg: err.Error()}
	}
	var rep *inventory.ApplyReport
	apply := func(tx *db.Tx) error {
		var err error
		rep, err = plan.Apply(tx, g, inventory.PlanName(opts.File))
		return err
	}
	if opts.Execute {
		err = d.Write(ctx, apply)
	} else {
		err = d.Read(ctx, apply)
	}
	if err != nil {
		return err
	}

	w := opts.IO.Out
	t := newTable(opts.IO, "BATCH", "NAME", "DEPENDS ON", "FEATURES", "TESTS")
	for _, b := range plan.Batches {
		c := rep.PerBatch[b.ID]
		t.add(fmt.Sprint(b.ID), b.Name, fmt.Sprint(b.DependsOn), fmt.Sprint(c[0]), fmt.Sprint(c[1]))
	}
	if err := t.render(); err != nil {
		return err
	}
	reasons := make([]string, 0, len(rep.NAByReason))
	for r := range rep.NAByReason {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(w, "n_a %d: %s\n", rep.NAByReason[r], r)
	}
	if opts.List {
		for _, na := range rep.NAList {
			fmt.Fprintf(w, "  n_a test %d %s (%s)\n", na.ID, na.Name, na.Why)
		}
	}
	if len(rep.Unassigned) > 0 {
		fmt.Fprintf(w, "%d tests of the rule files reach no batched feature and stay unbatched:\n", len(rep.Unassigned))
		for _, it := range rep.Unassigned {
			fmt.Fprintf(w, "  test %d %s %s\n", it.ID, it.Name, it.Location())
		}
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "skipped: %s\n", s)
	}
	fmt.Fprintf(w, "batches to create %v; %d items to move; %d tests to n_a; static links +%d -%d\n",
		rep.BatchesCreated, rep.Moves, rep.NewNA, rep.LinksAdded, rep.LinksRemoved)
	empty := len(rep.BatchesCreated)+rep.Moves+rep.NewNA+rep.LinksAdded+rep.LinksRemoved == 0
	dryRunNote(w, rep.Written, empty)
	return nil
}
