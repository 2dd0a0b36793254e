package cmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/iostreams"
	"github.com/porttracker/porttracker/tracker/workflow"
)

// ItemUpdateOptions are the inputs of `update` and `batch-update`.
type ItemUpdateOptions struct {
	IO         *iostreams.IOStreams
	Ctx        context.Context // canceled on SIGINT/SIGTERM; nil means Background
	OpenDB     func() (*db.DB, error)
	Gatekeeper func(*db.DB) (tracker.Gatekeeper, error)
	Hooks      workflow.Hooks
	Kind       tracker.Kind

	IDs      []int64
	Status   tracker.Status
	Reason   string
	Override string
	Execute  bool
}

func itemUpdateOptions(f *Factory, kind tracker.Kind) *ItemUpdateOptions {
	opts := &ItemUpdateOptions{IO: f.IOStreams, OpenDB: f.OpenDB, Gatekeeper: f.Gatekeeper, Kind: kind}
	opts.Hooks = workflow.PauseHook(f.PauseInWrite, func() {
		fmt.Fprintln(f.IOStreams.ErrOut, "test hook: paused inside the write transaction")
	})
	return opts
}

const statusHelp = `Statuses: deferred, stub, complete, verified, n_a. deferred and n_a need --reason.
Moving into complete or verified (not a demotion) must pass the gates; --override "why"
pushes past them and is recorded and reported as an override, apart from honest
progress. Demotions need no override. Dry run unless --execute.`

// validateStatusFlags turns the status flags into options (usage errors, exit 2).
func validateStatusFlags(cmd *cobra.Command, opts *ItemUpdateOptions, status string) error {
	st, err := tracker.ParseStatus(status)
	if err != nil {
		return err
	}
	opts.Status = st
	if cmd.Flags().Changed("override") && strings.TrimSpace(opts.Override) == "" {
		return tracker.Usagef("--override needs a reason: --override \"why\"")
	}
	if cmd.Flags().Changed("reason") && strings.TrimSpace(opts.Reason) == "" {
		return tracker.Usagef("--reason must not be empty")
	}
	req := workflow.StatusRequest{Kind: opts.Kind, IDs: opts.IDs, To: st, Reason: opts.Reason, Override: opts.Override}
	return req.Validate()
}

func addStatusFlags(cmd *cobra.Command, opts *ItemUpdateOptions) {
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (required for deferred and n_a)")
	cmd.Flags().StringVar(&opts.Override, "override", "", "push past the gates, recording this `reason` as an override")
	cmd.Flags().BoolVar(&opts.Execute, "execute", false, "write the change (otherwise a dry run)")
}

func newCmdItemUpdate(f *Factory, kind tracker.Kind, runF func(*ItemUpdateOptions) error) *cobra.Command {
	opts := itemUpdateOptions(f, kind)
	var status string
	cmd := &cobra.Command{
		Use:   "update ID --status STATUS",
		Short: fmt.Sprintf("Change one %s's status", kind),
		Long:  fmt.Sprintf("Change one %s's status.\n\n%s", kind, statusHelp),
		Example: fmt.Sprintf(`  porttracker %[1]s update 1259 --status deferred --reason "blocked: needs the cluster layer"
  porttracker %[1]s update 951 --status complete --execute`, kind),
		Args: exactArgs(1, "one "+string(kind)+" ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := tracker.ParseID(args[0])
			if err != nil {
				return err
			}
			opts.IDs = []int64{id}
			if !cmd.Flags().Changed("status") {
				return tracker.Usagef("update needs --status STATUS")
			}
			if err := validateStatusFlags(cmd, opts, status); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return itemUpdateRun(opts)
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "new status")
	addStatusFlags(cmd, opts)
	return cmd
}

func newCmdItemBatchUpdate(f *Factory, kind tracker.Kind, runF func(*ItemUpdateOptions) error) *cobra.Command {
	opts := itemUpdateOptions(f, kind)
	var status, ids string
	cmd := &cobra.Command{
		Use:   "batch-update --ids LIST --set-status STATUS",
		Short: fmt.Sprintf("Change several %s' status at once, all or nothing", kind.Plural()),
		Long: fmt.Sprintf(`Change several %s' status in one transaction, all or nothing: one unknown ID,
one gate refusal or more IDs than the policy allows (max_batch_ids, 15 by default)
refuses the whole command and nothing is written.

%s`, kind.Plural(), statusHelp),
		Example: fmt.Sprintf(`  porttracker %s batch-update --ids "951,952,953,954,971" --set-status complete --execute
  porttracker %s batch-update --ids "1,2,5-9" --set-status n_a --reason "needs a running server"`, kind, kind),
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Ctx = cmd.Context()
			if !cmd.Flags().Changed("ids") {
				return tracker.Usagef("batch-update needs --ids LIST")
			}
			parsed, err := tracker.ParseIDs(ids)
			if err != nil {
				return err
			}
			opts.IDs = parsed
			if !cmd.Flags().Changed("set-status") {
				return tracker.Usagef("batch-update needs --set-status STATUS")
			}
			if err := validateStatusFlags(cmd, opts, status); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return itemUpdateRun(opts)
		},
	}
	cmd.Flags().StringVar(&ids, "ids", "", `IDs, e.g. "1,2,5-9"`)
	cmd.Flags().StringVar(&status, "set-status", "", "new status")
	addStatusFlags(cmd, opts)
	return cmd
}

func itemUpdateRun(opts *ItemUpdateOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	gk, err := opts.Gatekeeper(d)
	if err != nil {
		return err
	}
	req := workflow.StatusRequest{Kind: opts.Kind, IDs: opts.IDs, To: opts.Status, Reason: opts.Reason,
		Override: opts.Override, Execute: opts.Execute}
	ctx := orBackground(opts.Ctx)
	plan, err := workflow.UpdateStatus(ctx, d, gk, req, opts.Hooks)
	if plan != nil {
		if perr := printStatusPlan(opts.IO, plan, err == nil); perr != nil {
			return perr
		}
	}
	return err
}

func printStatusPlan(ios *iostreams.IOStreams, plan *workflow.StatusPlan, ok bool) error {
	if len(plan.Changes) > 0 {
		t := newTable(ios, "ID", "SYMBOL", "FROM", "TO", "VERDICT", "DETAIL")
		for _, c := range plan.Changes {
			t.add(fmt.Sprint(c.ID), c.Symbol, string(c.From), string(c.To), c.Verdict, c.Detail)
		}
		if err := t.render(); err != nil {
			return err
		}
	}
	if !ok {
		return nil // the error, with every problem, is printed by Execute
	}
	what := plan.Kind.Plural()
	switch {
	case plan.Changed() == 0:
		fmt.Fprintf(ios.ErrOut, "nothing to change\n")
	case plan.Executed:
		fmt.Fprintf(ios.ErrOut, "updated %d %s to %s\n", plan.Changed(), what, plan.To)
	default:
		fmt.Fprintf(ios.ErrOut, "dry run: would update %d %s to %s; nothing written (add --execute)\n", plan.Changed(), what, plan.To)
	}
	return nil
}

// ItemMapOptions are the inputs of `feature map` / `test map`.
type ItemMapOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)
	Kind   tracker.Kind

	ID        int64
	Target    string
	TargetPkg string
	Execute   bool
}

func newCmdItemMap(f *Factory, kind tracker.Kind, runF func(*ItemMapOptions) error) *cobra.Command {
	opts := &ItemMapOptions{IO: f.IOStreams, OpenDB: f.OpenDB, Kind: kind}
	cmd := &cobra.Command{
		Use:     "map ID --target SYMBOL",
		Short:   fmt.Sprintf("Set a %s's target symbol by hand (kept by later inventory scans)", kind),
		Example: fmt.Sprintf(`  porttracker %s map 951 --target 'store.(*msgBlock).compact' --target-pkg ./store --execute`, kind),
		Args:    exactArgs(1, "one "+string(kind)+" ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			id, err := tracker.ParseID(args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if strings.TrimSpace(opts.Target) == "" {
				return tracker.Usagef("map needs --target SYMBOL")
			}
			if runF != nil {
				return runF(opts)
			}
			return itemMapRun(opts)
		},
	}
	cmd.Flags().StringVar(&opts.Target, "target", "", "target symbol, e.g. 'store.(*msgBlock).compact'")
	cmd.Flags().StringVar(&opts.TargetPkg, "target-pkg", "", "target package, e.g. ./store (default: keep)")
	cmd.Flags().BoolVar(&opts.Execute, "execute", false, "write the change (otherwise a dry run)")
	return cmd
}

func itemMapRun(opts *ItemMapOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	plan, err := workflow.MapTarget(context.Background(), d, workflow.MapRequest{Kind: opts.Kind, ID: opts.ID,
		Target: opts.Target, TargetPkg: opts.TargetPkg, Execute: opts.Execute})
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "%s %d %s: target %s (%s) -> %s (%s)\n", plan.Kind, plan.ID, plan.Symbol,
		dash(plan.FromTarget), dash(plan.FromTargetPkg), plan.Target, dash(plan.TargetPkg))
	switch {
	case plan.Unchanged:
		fmt.Fprintln(opts.IO.ErrOut, "nothing to change")
	case plan.Executed:
		fmt.Fprintln(opts.IO.ErrOut, "mapped")
	default:
		fmt.Fprintln(opts.IO.ErrOut, "dry run: nothing written (add --execute)")
	}
	return nil
}
