package workflow

import (
	"context"
	"fmt"
	"strings"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// MoveRequest assigns items to a batch (Assign: only unbatched items) or
// moves them between batches (To 0: out of every batch, "not planned").
// Features and tests move together, all or nothing.
type MoveRequest struct {
	Features []int64
	Tests    []int64
	To       int64
	Reason   string
	Assign   bool // batch assign: refuse items already in another batch
	Execute  bool
}

// MoveChange is one item's planned move.
type MoveChange struct {
	Kind    tracker.Kind `json:"kind"`
	ID      int64        `json:"id"`
	Symbol  string       `json:"symbol"`
	From    int64        `json:"from_batch"`
	To      int64        `json:"to_batch"`
	Verdict string       `json:"verdict"`
}

// MovePlan is the outcome of MoveItems.
type MovePlan struct {
	To       int64        `json:"to_batch"`
	Reason   string       `json:"reason"`
	Changes  []MoveChange `json:"changes"`
	Problems []string     `json:"problems"`
	Executed bool         `json:"executed"`
}

// Changed counts the items that move.
func (p *MovePlan) Changed() int {
	n := 0
	for _, c := range p.Changes {
		if c.Verdict == VerdictOK {
			n++
		}
	}
	return n
}

// MoveItems plans and, with Execute, moves items in one transaction, all or
// nothing, one audit row per item.
func MoveItems(ctx context.Context, d *db.DB, req MoveRequest) (*MovePlan, error) {
	req.Reason = strings.TrimSpace(req.Reason)
	if !req.Assign && req.Reason == "" {
		return nil, tracker.Usagef("moving items between batches needs --reason \"why\"")
	}
	if len(req.Features)+len(req.Tests) == 0 {
		return nil, tracker.Usagef("no IDs given")
	}
	plan := &MovePlan{To: req.To, Reason: req.Reason}
	var planned []db.Item
	check := func(tx *db.Tx) error {
		plan.Changes, plan.Problems, planned = []MoveChange{}, []string{}, nil
		var dest db.Batch
		if req.To > 0 {
			b, err := tx.GetBatch(req.To)
			if err != nil {
				return err
			}
			dest = b
		}
		for _, part := range []struct {
			kind tracker.Kind
			ids  []int64
		}{{tracker.KindFeature, req.Features}, {tracker.KindTest, req.Tests}} {
			if len(part.ids) == 0 {
				continue
			}
			items, unknown, err := tx.GetItems(part.kind, part.ids)
			if err != nil {
				return err
			}
			if len(unknown) > 0 {
				plan.Problems = append(plan.Problems, fmt.Sprintf("unknown %s ID(s): %s", part.kind, joinIDs(unknown)))
			}
			for _, it := range items {
				c := MoveChange{Kind: it.Kind, ID: it.ID, Symbol: it.Symbol(), From: it.BatchID, To: req.To, Verdict: VerdictOK}
				switch {
				case it.BatchID == req.To:
					c.Verdict = VerdictUnchanged
				case req.Assign && it.BatchID != 0:
					c.Verdict = VerdictRefused
					plan.Problems = append(plan.Problems, fmt.Sprintf("%s %d is already in batch %d (use porttracker batch move --reason)", it.Kind, it.ID, it.BatchID))
				case dest.State == db.BatchComplete && !it.Status.Done():
					c.Verdict = VerdictRefused
					plan.Problems = append(plan.Problems, fmt.Sprintf("%s %d is %s; batch %d is complete and only takes verified or n_a items", it.Kind, it.ID, it.Status, req.To))
				}
				plan.Changes = append(plan.Changes, c)
				planned = append(planned, it)
			}
		}
		return nil
	}
	refusal := func() error {
		return &tracker.RefusedError{Msg: fmt.Sprintf("refused, nothing written: %d problem(s)", len(plan.Problems)), Problems: plan.Problems}
	}
	if err := d.Read(ctx, check); err != nil {
		return nil, err
	}
	if len(plan.Problems) > 0 {
		return plan, refusal()
	}
	if !req.Execute {
		return plan, nil
	}
	err := d.Write(ctx, func(tx *db.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		if len(plan.Problems) > 0 {
			return refusal()
		}
		for i, c := range plan.Changes {
			if c.Verdict != VerdictOK {
				continue
			}
			if err := tx.SetItemBatch(planned[i], req.To, req.Reason); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return plan, err
	}
	plan.Executed = true
	return plan, nil
}

// MapRequest sets an item's target symbol by hand.
type MapRequest struct {
	Kind      tracker.Kind
	ID        int64
	Target    string // e.g. store.(*msgBlock).compact
	TargetPkg string // e.g. ./store; "" keeps the current one
	Execute   bool
}

// MapPlan is the outcome of MapTarget.
type MapPlan struct {
	Kind          tracker.Kind `json:"kind"`
	ID            int64        `json:"id"`
	Symbol        string       `json:"symbol"`
	FromTarget    string       `json:"from_target"`
	FromTargetPkg string       `json:"from_target_pkg"`
	Target        string       `json:"target"`
	TargetPkg     string       `json:"target_pkg"`
	Unchanged     bool         `json:"unchanged"`
	Executed      bool         `json:"executed"`
}

// MapTarget records a manual target (target_manual = 1), audited.
func MapTarget(ctx context.Context, d *db.DB, req MapRequest) (*MapPlan, error) {
	req.Target = strings.TrimSpace(req.Target)
	if req.Target == "" {
		return nil, tracker.Usagef("map needs --target SYMBOL, e.g. --target 'store.(*msgBlock).compact'")
	}
	plan := &MapPlan{Kind: req.Kind, ID: req.ID, Target: req.Target}
	check := func(tx *db.Tx) (db.Item, error) {
		it, err := tx.GetItem(req.Kind, req.ID)
		if err != nil {
			return it, err
		}
		plan.Symbol, plan.FromTarget, plan.FromTargetPkg = it.Symbol(), it.Target, it.TargetPkg
		plan.TargetPkg = req.TargetPkg
		if plan.TargetPkg == "" {
			plan.TargetPkg = it.TargetPkg
		}
		plan.Unchanged = it.TargetManual && it.Target == plan.Target && it.TargetPkg == plan.TargetPkg
		return it, nil
	}
	if err := d.Read(ctx, func(tx *db.Tx) error { _, err := check(tx); return err }); err != nil {
		return nil, err
	}
	if !req.Execute || plan.Unchanged {
		return plan, nil
	}
	err := d.Write(ctx, func(tx *db.Tx) error {
		it, err := check(tx)
		if err != nil {
			return err
		}
		return tx.SetItemTarget(it, plan.TargetPkg, plan.Target)
	})
	if err != nil {
		return plan, err
	}
	plan.Executed = true
	return plan, nil
}
