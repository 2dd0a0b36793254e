package cmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// InventoryDriftOptions are the inputs of `inventory drift`.
type InventoryDriftOptions struct {
	InventoryDeps
	JSON bool
}

func newCmdInventoryDrift(f *Factory, runF func(*InventoryDriftOptions) error) *cobra.Command {
	opts := &InventoryDriftOptions{InventoryDeps: inventoryDeps(f)}
	cmd := &cobra.Command{
		Use:   "drift",
		Short: "List ported items whose upstream body changed since they were ported",
		Long: `List the items flagged drifted by the last inventory scan: their upstream body hash
differs from the hash they had when they entered stub or better (ported_hash).
Shows the upstream location, the old (ported) and new hash, and the status.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(opts)
			}
			return inventoryDriftRun(opts)
		},
	}
	addJSONFlag(cmd, &opts.JSON)
	return cmd
}

// driftExport is one row of `inventory drift --json`.
type driftExport struct {
	Kind     tracker.Kind   `json:"kind"`
	ID       int64          `json:"id"`
	Symbol   string         `json:"symbol"`
	Location string         `json:"location"`
	OldHash  string         `json:"old_hash"`
	NewHash  string         `json:"new_hash"`
	Status   tracker.Status `json:"status"`
	Removed  bool           `json:"removed"`
}

func inventoryDriftRun(opts *InventoryDriftOptions) error {
	d, err := opts.OpenDB()
	if err != nil {
		return err
	}
	defer d.Close()
	rows := []driftExport{}
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		for _, kind := range tracker.Kinds {
			items, err := tx.ListItems(db.ItemFilter{Kind: kind})
			if err != nil {
				return err
			}
			for _, it := range items {
				if it.Drifted {
					rows = append(rows, driftExport{Kind: it.Kind, ID: it.ID, Symbol: it.Symbol(), Location: it.Location(),
						OldHash: it.PortedHash, NewHash: it.BodyHash, Status: it.Status, Removed: it.Removed})
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(opts.IO.Out, "no drift: every ported item matches its upstream body")
		return nil
	}
	t := newTable(opts.IO, "KIND", "ID", "SYMBOL", "UPSTREAM", "OLD HASH", "NEW HASH", "STATUS")
	for _, r := range rows {
		loc := r.Location
		if r.Removed {
			loc += " (removed)"
		}
		t.add(string(r.Kind), fmt.Sprint(r.ID), r.Symbol, loc, r.OldHash, r.NewHash, string(r.Status))
	}
	return t.render()
}
