package cmd

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/gates"
	"github.com/porttracker/porttracker/tracker/inventory"
	"github.com/porttracker/porttracker/tracker/iostreams"
)

// EnvUpstream points at the scanned upstream tree (the directory that holds
// go.mod and server/), for commands that read upstream source after the scan.
const EnvUpstream = gates.EnvUpstream

// NewCmdInventory groups the upstream inventory verbs.
func NewCmdInventory(f *Factory) *cobra.Command {
	return newNoun("inventory", "Scan upstream source into porting.db, detect drift, resolve targets, apply batch plans",
		newCmdInventoryScan(f, nil),
		newCmdInventoryDrift(f, nil),
		newCmdInventoryResolve(f, nil),
		newNoun("plan", "Apply a batch plan file (plan/storage.json)", newCmdInventoryPlanApply(f, nil)),
	)
}

// InventoryDeps are the dependencies every inventory verb shares.
type InventoryDeps struct {
	IO     *iostreams.IOStreams
	OpenDB func() (*db.DB, error)
	Getenv func(string) string
	Now    func() time.Time
}

func inventoryDeps(f *Factory) InventoryDeps {
	return InventoryDeps{IO: f.IOStreams, OpenDB: f.OpenDB, Getenv: f.Getenv, Now: f.Now}
}

// upstreamDir picks --upstream, else $PORTTRACKER_UPSTREAM.
func upstreamDir(flag string, getenv func(string) string) string {
	if flag != "" {
		return flag
	}
	if getenv != nil {
		return getenv(EnvUpstream)
	}
	return ""
}

// moduleOf reads the module path from dir/go.mod ("" when there is none).
func moduleOf(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// repoRoot finds the directory of the nearest go.mod at or above dir.
func repoRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod at or above %s", abs)
		}
	}
}

// printChanges prints up to limit change lines (all when limit < 0).
func printChanges(w io.Writer, changes []inventory.Change, limit int) {
	for i, c := range changes {
		if limit >= 0 && i == limit {
			fmt.Fprintf(w, "  ... %d more (--list shows all)\n", len(changes)-limit)
			return
		}
		id := "new"
		if c.ID > 0 {
			id = fmt.Sprint(c.ID)
		}
		fmt.Fprintf(w, "  %-8s %-7s %-6s %s  %s\n", c.What, c.Kind, id, c.Symbol, c.Detail)
	}
}

func dryRunNote(w io.Writer, written bool, empty bool) {
	switch {
	case empty:
		fmt.Fprintln(w, "no change: nothing to write")
	case written:
		fmt.Fprintln(w, "written")
	default:
		fmt.Fprintln(w, "dry run: nothing written; pass --execute to apply")
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, strings.TrimSuffix(word, "s"))
}
