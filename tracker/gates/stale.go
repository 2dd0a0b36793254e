package gates

import (
	"context"
	"fmt"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// Demotion is one item that no longer earns its status.
type Demotion struct {
	Kind        tracker.Kind   `json:"kind"`
	ID          int64          `json:"id"`
	Target      string         `json:"target"`
	From        tracker.Status `json:"from"`
	To          tracker.Status `json:"to"`
	Reason      string         `json:"reason"`
	EvidenceIDs []int64        `json:"evidence_ids"`
}

// StaleReport is what Recheck found and did.
type StaleReport struct {
	// Report holds the re-checked items.
	Report    *Report    `json:"report"`
	Demotions []Demotion `json:"demotions"`
	Executed  bool       `json:"executed"`
}

// Recheck finds every complete or verified item (not reached by override)
// whose required evidence is not a fresh pass (the code changed since),
// runs its gates again and demotes the items that now fail: verified to
// complete when build and stub still pass, to stub otherwise, to deferred
// when the target symbol is gone. Demotions are written (each with its
// audit row) only when execute is set.
func (e *Engine) Recheck(ctx context.Context, execute bool) (*StaleReport, error) {
	stale, status, err := e.staleItems(ctx)
	if err != nil {
		return nil, err
	}
	out := &StaleReport{Report: &Report{}, Demotions: []Demotion{}}
	if len(stale.Features)+len(stale.Tests) == 0 {
		return out, nil
	}
	// Second pass: run what the stale items' statuses require.
	rep, err := e.Run(ctx, stale)
	if err != nil {
		return nil, err
	}
	out.Report = rep
	for _, ir := range rep.Items {
		from := status[itemKey{ir.Kind, ir.ID}]
		v := Verdict(ir, Required(ir.Kind, from))
		if v.OK {
			continue
		}
		to := tracker.StatusStub
		switch {
		case from == tracker.StatusVerified && Verdict(ir, Required(ir.Kind, tracker.StatusComplete)).OK:
			to = tracker.StatusComplete
		case ir.Gates[evidence.GateStub] != nil && ir.Gates[evidence.GateStub].Verdict == evidence.Missing:
			to = tracker.StatusDeferred
		}
		out.Demotions = append(out.Demotions, Demotion{
			Kind: ir.Kind, ID: ir.ID, Target: ir.Target, From: from, To: to,
			Reason: "demoted by evidence run --stale: " + v.Detail, EvidenceIDs: v.EvidenceIDs,
		})
	}
	if !execute || len(out.Demotions) == 0 {
		return out, nil
	}
	err = e.db.Write(ctx, func(tx *db.Tx) error {
		for _, d := range out.Demotions {
			it, err := tx.GetItem(d.Kind, d.ID)
			if err != nil {
				return err
			}
			if it.Status != d.From {
				return tracker.Refusedf("refused, nothing written: %s %d changed to %s during the re-check; run it again", d.Kind, d.ID, it.Status)
			}
			if err := tx.SetItemStatus(it, db.StatusChange{To: d.To, Reason: oneLine(d.Reason), EvidenceIDs: d.EvidenceIDs}); err != nil {
				return fmt.Errorf("demote %s %d: %w", d.Kind, d.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Executed = true
	return out, nil
}

// isStale: some gate the status requires lacks evidence on the current
// sources.
func (e *Engine) isStale(ir *ItemReport, st tracker.Status) bool {
	if ir == nil {
		return false
	}
	for _, g := range Required(ir.Kind, st) {
		if !ir.FreshPass(g) {
			return true
		}
	}
	return false
}

// staleItems loads every complete or verified item not reached by override
// and returns those whose required evidence is not a fresh pass on the
// current sources, with each item's status. It only reads.
func (e *Engine) staleItems(ctx context.Context) (Request, map[itemKey]tracker.Status, error) {
	var req Request
	status := map[itemKey]tracker.Status{}
	err := e.db.Read(ctx, func(tx *db.Tx) error {
		for _, kind := range tracker.Kinds {
			for _, st := range []tracker.Status{tracker.StatusComplete, tracker.StatusVerified} {
				items, err := tx.ListItems(db.ItemFilter{Kind: kind, Status: st})
				if err != nil {
					return err
				}
				for _, it := range items {
					if it.Override {
						continue
					}
					status[itemKey{kind, it.ID}] = st
					if kind == tracker.KindFeature {
						req.Features = append(req.Features, it.ID)
					} else {
						req.Tests = append(req.Tests, it.ID)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return Request{}, nil, err
	}
	if len(req.Features)+len(req.Tests) == 0 {
		return Request{}, status, nil
	}
	// load only reads: evidence rows and the current fingerprints.
	if err := e.load(ctx, req, map[evidence.Gate]bool{evidence.GateLinks: true}); err != nil {
		return Request{}, nil, err
	}
	var stale Request
	for _, id := range req.Features {
		if e.isStale(e.items[itemKey{tracker.KindFeature, id}], status[itemKey{tracker.KindFeature, id}]) {
			stale.Features = append(stale.Features, id)
		}
	}
	for _, id := range req.Tests {
		if e.isStale(e.items[itemKey{tracker.KindTest, id}], status[itemKey{tracker.KindTest, id}]) {
			stale.Tests = append(stale.Tests, id)
		}
	}
	return stale, status, nil
}

// CountStale counts, per kind, the complete and verified items whose
// evidence was taken on other sources (what `evidence run --stale` would
// re-check). It runs no gate.
func (e *Engine) CountStale(ctx context.Context) (map[tracker.Kind]int64, error) {
	stale, _, err := e.staleItems(ctx)
	if err != nil {
		return nil, err
	}
	return map[tracker.Kind]int64{
		tracker.KindFeature: int64(len(stale.Features)),
		tracker.KindTest:    int64(len(stale.Tests)),
	}, nil
}
