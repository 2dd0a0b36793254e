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

// BatchStateOptions are the inputs of `batch start` and `batch complete`.
type BatchStateOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)

	ID      int64
	Execute bool
}

func newCmdBatchStart(f *Factory, runF func(*BatchStateOptions) error) *cobra.Command {
	return newCmdBatchState(f, runF, "start", "Start a pending batch; every batch it depends on must be complete", workflow.StartBatch)
}

func newCmdBatchComplete(f *Factory, runF func(*BatchStateOptions) error) *cobra.Command {
	return newCmdBatchState(f, runF, "complete",
		"Complete a started batch; every feature and test in it must be verified or n_a (deferred items block)",
		workflow.CompleteBatch)
}

type batchStateFunc func(ctx context.Context, d *db.DB, id int64, execute bool) (*workflow.BatchPlan, error)

func newCmdBatchState(f *Factory, runF func(*BatchStateOptions) error, verb, short string, fn batchStateFunc) *cobra.Command {
	opts := &BatchStateOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	cmd := &cobra.Command{
		Use:   verb + " N",
		Short: short,
		Long:  short + ".\nDry run unless --execute; a refusal lists every reason.",
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
			return batchStateRun(opts, fn)
		},
	}
	cmd.Flags().BoolVar(&opts.Execute, "execute", false, "write the change (otherwise a dry run)")
	return cmd
}

func batchStateRun(opts *BatchStateOptions, fn batchStateFunc) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	plan, err := fn(context.Background(), d, opts.ID, opts.Execute)
	if err != nil {
		return err
	}
	target := map[string]string{"start": db.BatchStarted, "complete": db.BatchComplete}[plan.Action]
	if plan.Executed {
		fmt.Fprintf(opts.IO.Out, "batch %d %s: %s\n", plan.Batch.ID, plan.Batch.Name, target)
	} else {
		fmt.Fprintf(opts.IO.Out, "batch %d %s: %s -> %s\n", plan.Batch.ID, plan.Batch.Name, plan.Batch.State, target)
		fmt.Fprintln(opts.IO.ErrOut, "dry run: nothing written (add --execute)")
	}
	return nil
}

// BatchCreateOptions are the inputs of `batch create`.
type BatchCreateOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)

	ID          int64
	Name        string
	Description string
	DependsOn   []int64
	Execute     bool
}

func newCmdBatchCreate(f *Factory, runF func(*BatchCreateOptions) error) *cobra.Command {
	opts := &BatchCreateOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	var deps string
	cmd := &cobra.Command{
		Use:     "create --name NAME [--depends-on LIST] [--id N]",
		Short:   "Create a batch",
		Example: `  porttracker batch create --id 15 --name "MsgBlock + ConsumerFileStore" --depends-on 14 --execute`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(opts.Name) == "" {
				return tracker.Usagef("batch create needs --name NAME")
			}
			if cmd.Flags().Changed("id") && opts.ID <= 0 {
				return tracker.Usagef("invalid --id %d: want a positive integer", opts.ID)
			}
			if deps != "" {
				parsed, err := tracker.ParseIDs(deps)
				if err != nil {
					return err
				}
				opts.DependsOn = parsed
			}
			if runF != nil {
				return runF(opts)
			}
			return batchCreateRun(opts)
		},
	}
	cmd.Flags().Int64Var(&opts.ID, "id", 0, "batch ID (default: next free)")
	cmd.Flags().StringVar(&opts.Name, "name", "", "batch name, unique")
	cmd.Flags().StringVar(&opts.Description, "description", "", "what the batch covers")
	cmd.Flags().StringVar(&deps, "depends-on", "", `batches that must be complete before this one starts, e.g. "13,14"`)
	cmd.Flags().BoolVar(&opts.Execute, "execute", false, "write the change (otherwise a dry run)")
	return cmd
}

func batchCreateRun(opts *BatchCreateOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	plan, err := workflow.CreateBatch(context.Background(), d, workflow.CreateBatchRequest{ID: opts.ID, Name: opts.Name,
		Description: opts.Description, DependsOn: opts.DependsOn, Execute: opts.Execute})
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "batch %d %s (depends on %s)\n", plan.Batch.ID, plan.Batch.Name, dash(tracker.FormatIDs(plan.Batch.DependsOn)))
	if plan.Executed {
		fmt.Fprintln(opts.IO.ErrOut, "created")
	} else {
		fmt.Fprintln(opts.IO.ErrOut, "dry run: nothing written (add --execute)")
	}
	return nil
}

// BatchMoveOptions are the inputs of `batch assign` and `batch move`.
type BatchMoveOptions struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)

	Assign   bool
	BatchID  int64 // 0 with move: out of every batch
	Features []int64
	Tests    []int64
	Reason   string
	Execute  bool
}

func newCmdBatchAssign(f *Factory, runF func(*BatchMoveOptions) error) *cobra.Command {
	opts := &BatchMoveOptions{IO: f.IOStreams, OpenDB: f.OpenDB, Assign: true}
	var features, tests string
	cmd := &cobra.Command{
		Use:     "assign --batch N (--features LIST | --tests LIST)",
		Short:   "Put unbatched features and tests into a batch",
		Example: `  porttracker batch assign --batch 15 --features "951-960,971" --tests "368,373" --execute`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.BatchID <= 0 {
				return tracker.Usagef("batch assign needs --batch N")
			}
			if err := parseMoveIDs(opts, features, tests); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return batchMoveRun(opts)
		},
	}
	cmd.Flags().Int64Var(&opts.BatchID, "batch", 0, "batch `N`")
	cmd.Flags().StringVar(&features, "features", "", "feature IDs")
	cmd.Flags().StringVar(&tests, "tests", "", "test IDs")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (optional)")
	cmd.Flags().BoolVar(&opts.Execute, "execute", false, "write the change (otherwise a dry run)")
	return cmd
}

func newCmdBatchMove(f *Factory, runF func(*BatchMoveOptions) error) *cobra.Command {
	opts := &BatchMoveOptions{IO: f.IOStreams, OpenDB: f.OpenDB}
	var features, tests, to string
	cmd := &cobra.Command{
		Use:   "move (--features LIST | --tests LIST) --to N|none --reason WHY",
		Short: "Move features or tests to another batch (or out of every batch), audited with a reason",
		Example: `  porttracker batch move --features 1259 --to 16 --reason "needs the cluster layer" --execute
  porttracker batch move --tests 400-402 --to none --reason "not part of this port" --execute`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch strings.TrimSpace(to) {
			case "":
				return tracker.Usagef("batch move needs --to N (or --to none)")
			case "none", "0":
				opts.BatchID = 0
			default:
				id, err := tracker.ParseID(to)
				if err != nil {
					return err
				}
				opts.BatchID = id
			}
			if strings.TrimSpace(opts.Reason) == "" {
				return tracker.Usagef("batch move needs --reason \"why\"")
			}
			if err := parseMoveIDs(opts, features, tests); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return batchMoveRun(opts)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "destination batch `N`, or none")
	cmd.Flags().StringVar(&features, "features", "", "feature IDs")
	cmd.Flags().StringVar(&tests, "tests", "", "test IDs")
	cmd.Flags().StringVar(&opts.Reason, "reason", "", "why (required)")
	cmd.Flags().BoolVar(&opts.Execute, "execute", false, "write the change (otherwise a dry run)")
	return cmd
}

func parseMoveIDs(opts *BatchMoveOptions, features, tests string) error {
	if features == "" && tests == "" {
		return tracker.Usagef("give --features LIST and/or --tests LIST")
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
	return nil
}

func batchMoveRun(opts *BatchMoveOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	plan, err := workflow.MoveItems(context.Background(), d, workflow.MoveRequest{Features: opts.Features, Tests: opts.Tests,
		To: opts.BatchID, Reason: opts.Reason, Assign: opts.Assign, Execute: opts.Execute})
	if plan != nil {
		t := newTable(opts.IO, "KIND", "ID", "SYMBOL", "FROM BATCH", "TO BATCH", "VERDICT")
		for _, c := range plan.Changes {
			t.add(string(c.Kind), fmt.Sprint(c.ID), c.Symbol, batchLabel(c.From), batchLabel(c.To), c.Verdict)
		}
		if rerr := t.render(); rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return err
	}
	switch {
	case plan.Executed:
		fmt.Fprintf(opts.IO.ErrOut, "moved %d item(s)\n", plan.Changed())
	default:
		fmt.Fprintf(opts.IO.ErrOut, "dry run: would move %d item(s); nothing written (add --execute)\n", plan.Changed())
	}
	return nil
}
