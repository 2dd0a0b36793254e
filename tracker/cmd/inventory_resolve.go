package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/inventory"
)

// InventoryResolveOptions are the inputs of `inventory resolve`.
type InventoryResolveOptions struct {
	InventoryDeps
	Target  string
	Repo    string
	Execute bool
	List    bool
}

func newCmdInventoryResolve(f *Factory, runF func(*InventoryResolveOptions) error) *cobra.Command {
	opts := &InventoryResolveOptions{InventoryDeps: inventoryDeps(f)}
	cmd := &cobra.Command{
		Use:   "resolve",
		Short: "Find each item's target symbol in this repository (dry run unless --execute)",
		Long: `Parse the target packages (go/ast, no build) and record, for every item, the
target declaration with the same name in the mapped package (server -> ./store,
server/X -> ./store/X): a method with the same receiver base type and name, a
function with the same name, a test with the same TestName in a _test.go file.
Sets target_pkg, target ('store.(*msgBlock).compact'), target_file and
target_line. Items mapped by hand (target_manual) are never overwritten.
Re-run it whenever the port grows.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return inventoryResolveRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Target, "target", "./store/...", "target packages, relative to the repository root")
	fl.StringVar(&opts.Repo, "repo", ".", "a directory inside the target repository (its go.mod marks the root)")
	fl.BoolVar(&opts.Execute, "execute", false, "write the targets (default: dry run)")
	fl.BoolVar(&opts.List, "list", false, "list every changed item (default: the first 20)")
	return cmd
}

func inventoryResolveRun(opts *InventoryResolveOptions) error {
	root, err := repoRoot(opts.Repo)
	if err != nil {
		return err
	}
	idx, err := inventory.IndexTargets(root, opts.Target)
	if err != nil {
		return err
	}
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	var rep *inventory.ResolveReport
	resolve := func(tx *db.Tx) error {
		var err error
		rep, err = inventory.Resolve(tx, idx, inventory.DefaultPackageMap)
		return err
	}
	if opts.Execute {
		err = d.Write(context.Background(), resolve)
	} else {
		err = d.Read(context.Background(), resolve)
	}
	if err != nil {
		return err
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%d items resolve to a target in %s; %d change, %d lose their target, %d mapped by hand kept\n",
		rep.Resolved, opts.Target, rep.Changed, rep.Cleared, rep.Manual)
	limit := 20
	if opts.List {
		limit = -1
	}
	printChanges(w, rep.Changes, limit)
	dryRunNote(w, rep.Written, rep.Changed == 0)
	return nil
}
