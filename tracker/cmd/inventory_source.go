package cmd

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/inventory"
)

// addSourceFlags gives `feature show` / `test show` --source and --upstream.
func addSourceFlags(cmd *cobra.Command, source *bool, upstream *string) {
	cmd.Flags().BoolVar(source, "source", false, "also print the upstream body and the target body (text output only)")
	cmd.Flags().StringVar(upstream, "upstream", "", "the scanned upstream tree, for --source (default $"+EnvUpstream+")")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if *source && c.Flags().Lookup("json").Changed {
			return tracker.Usagef("--source prints text; it cannot be combined with --json")
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// printItemSource prints the upstream declaration of an item (from the
// scanned tree at upstream, when given) and its resolved target declaration.
func printItemSource(w io.Writer, it db.Item, upstream string) error {
	fmt.Fprintf(w, "\nUpstream source (%s)\n", it.Location())
	switch {
	case upstream == "":
		fmt.Fprintf(w, "  not available: pass --upstream DIR or set %s to the scanned tree\n", EnvUpstream)
	default:
		src, err := inventory.FuncSource(filepath.Join(upstream, filepath.FromSlash(it.File)), it.StartLine)
		if err != nil {
			fmt.Fprintf(w, "  not available: %v\n", err)
		} else {
			fmt.Fprint(w, src)
		}
	}
	fmt.Fprintf(w, "\nTarget source (%s)\n", dash(it.TargetLocation()))
	if it.TargetFile == "" {
		fmt.Fprintln(w, "  not resolved: run `porttracker inventory resolve --execute`")
		return nil
	}
	root, err := repoRoot(".")
	if err != nil {
		fmt.Fprintf(w, "  not available: %v\n", err)
		return nil
	}
	src, err := inventory.FuncSource(filepath.Join(root, filepath.FromSlash(it.TargetFile)), it.TargetLine)
	if err != nil {
		fmt.Fprintf(w, "  not available: %v\n", err)
		return nil
	}
	fmt.Fprint(w, src)
	return nil
}
