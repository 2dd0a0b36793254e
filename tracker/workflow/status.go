// Package workflow applies the tracker's rules to porting.db: status updates
// (single and batch, all or nothing, gated), the batch lifecycle, moves and
// target mapping. Each operation plans first (reading one snapshot and asking
// the Gatekeeper), refuses with every reason at once, and writes only when
// asked to execute, in one transaction, re-checking what it planned.
package workflow

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// Hooks are test seams for crash tests; production leaves them zero.
type Hooks struct {
	// AfterFirstWrite runs inside the write transaction right after the
	// first item is updated.
	AfterFirstWrite func()
}

// StatusRequest asks to move items of one kind to one status.
type StatusRequest struct {
	Kind     tracker.Kind
	IDs      []int64
	To       tracker.Status
	Reason   string // --reason
	Override string // --override "reason": bypasses gates, recorded as an override
	Execute  bool
}

// Validate checks the request's shape (usage errors, exit 2).
func (r StatusRequest) Validate() error {
	if _, err := tracker.ParseStatus(string(r.To)); err != nil {
		return err
	}
	if r.Reason != "" && r.Override != "" {
		return tracker.Usagef("give --reason or --override, not both")
	}
	if r.To.NeedsReason() && strings.TrimSpace(r.Reason) == "" && strings.TrimSpace(r.Override) == "" {
		return tracker.Usagef("moving to %s needs --reason \"why\" (or --override \"why\")", r.To)
	}
	if len(r.IDs) == 0 {
		return tracker.Usagef("no IDs given")
	}
	return nil
}

// reasonText is what the item and its audit row record as the reason.
func (r StatusRequest) reasonText() string {
	if r.Override != "" {
		return strings.TrimSpace(r.Override)
	}
	return strings.TrimSpace(r.Reason)
}

// Verdicts of one planned change.
const (
	VerdictOK        = "ok"
	VerdictOverride  = "override"
	VerdictUnchanged = "unchanged"
	VerdictRefused   = "refused"
)

// Change is one item's planned move.
type Change struct {
	ID          int64          `json:"id"`
	Symbol      string         `json:"symbol"`
	From        tracker.Status `json:"from"`
	To          tracker.Status `json:"to"`
	Verdict     string         `json:"verdict"`
	Detail      string         `json:"detail"`
	EvidenceIDs []int64        `json:"evidence_ids"`
	item        db.Item
	gateChecked bool
}

// StatusPlan is the outcome of UpdateStatus: what would change (or did).
type StatusPlan struct {
	Kind     tracker.Kind   `json:"kind"`
	To       tracker.Status `json:"to"`
	Reason   string         `json:"reason"`
	Override bool           `json:"override"`
	Changes  []Change       `json:"changes"`
	Problems []string       `json:"problems"` // why the command is refused, one line each
	Executed bool           `json:"executed"`
}

// Refused reports whether the plan cannot be applied.
func (p *StatusPlan) Refused() bool { return len(p.Problems) > 0 }

// Changed counts the items that change.
func (p *StatusPlan) Changed() int {
	n := 0
	for _, c := range p.Changes {
		if c.Verdict == VerdictOK || c.Verdict == VerdictOverride {
			n++
		}
	}
	return n
}

func (p *StatusPlan) refusal() error {
	return &tracker.RefusedError{
		Msg:      fmt.Sprintf("refused, nothing written: %d problem(s)", len(p.Problems)),
		Problems: p.Problems,
	}
}

// UpdateStatus plans and, with Execute, applies a status update to every
// listed item, all or nothing. It returns the plan even when it refuses; the
// error is then a *tracker.RefusedError listing every problem.
//
// Rules: at most the policy's max_batch_ids IDs; every ID must exist;
// deferred and n_a need a reason; stub needs a resolved target; a move into
// complete or verified that is not a demotion must pass the Gatekeeper unless
// overridden. Gates run before the write transaction opens.
func UpdateStatus(ctx context.Context, d *db.DB, gk tracker.Gatekeeper, req StatusRequest, hooks Hooks) (*StatusPlan, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	plan := &StatusPlan{Kind: req.Kind, To: req.To, Reason: req.reasonText(), Override: req.Override != "",
		Changes: []Change{}, Problems: []string{}}
	err := d.Read(ctx, func(tx *db.Tx) error {
		plan.Changes, plan.Problems = plan.Changes[:0], plan.Problems[:0]
		max, err := tx.MaxBatchIDs()
		if err != nil {
			return err
		}
		if len(req.IDs) > max {
			plan.Problems = append(plan.Problems, fmt.Sprintf("%d IDs given, the policy allows at most %d per update (max_batch_ids)", len(req.IDs), max))
			return nil
		}
		items, unknown, err := tx.GetItems(req.Kind, req.IDs)
		if err != nil {
			return err
		}
		if len(unknown) > 0 {
			plan.Problems = append(plan.Problems, fmt.Sprintf("unknown %s ID(s): %s", req.Kind, joinIDs(unknown)))
		}
		for _, it := range items {
			plan.Changes = append(plan.Changes, planChange(it, req))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if plan.Refused() {
		return plan, plan.refusal()
	}
	if err := consultGates(ctx, gk, req, plan); err != nil {
		return plan, err
	}
	for _, c := range plan.Changes {
		if c.Verdict == VerdictRefused {
			plan.Problems = append(plan.Problems, fmt.Sprintf("%s %d %s: %s", req.Kind, c.ID, c.Symbol, c.Detail))
		}
	}
	if plan.Refused() {
		return plan, plan.refusal()
	}
	if !req.Execute || plan.Changed() == 0 {
		return plan, nil
	}
	if err := applyStatus(ctx, d, req, plan, hooks); err != nil {
		return plan, err
	}
	plan.Executed = true
	return plan, nil
}

func planChange(it db.Item, req StatusRequest) Change {
	c := Change{ID: it.ID, Symbol: it.Symbol(), From: it.Status, To: req.To, Verdict: VerdictOK, item: it, EvidenceIDs: []int64{}}
	override := req.Override != ""
	switch {
	case it.Status == req.To && it.Reason == req.reasonText() && it.Override == override:
		c.Verdict = VerdictUnchanged
	case override:
		c.Verdict = VerdictOverride
		c.Detail = "override: " + req.reasonText()
	case req.To == tracker.StatusStub && tracker.IsPromotion(it.Status, req.To) && it.TargetFile == "":
		c.Verdict = VerdictRefused
		c.Detail = fmt.Sprintf("target not resolved: map it with `porttracker %s map %d --target SYMBOL` and rescan the inventory", it.Kind, it.ID)
	}
	return c
}

// consultGates asks the Gatekeeper about every gated, not overridden change.
func consultGates(ctx context.Context, gk tracker.Gatekeeper, req StatusRequest, plan *StatusPlan) error {
	var ids []int64
	for _, c := range plan.Changes {
		if c.Verdict == VerdictOK && tracker.Gated(c.From, req.To) {
			ids = append(ids, c.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	verdicts, err := gk.Check(ctx, req.Kind, ids, req.To)
	if err != nil {
		return fmt.Errorf("gate check: %w", err)
	}
	byID := make(map[int64]tracker.GateVerdict, len(verdicts))
	for _, v := range verdicts {
		byID[v.ID] = v
	}
	for i := range plan.Changes {
		c := &plan.Changes[i]
		if c.Verdict != VerdictOK || !tracker.Gated(c.From, req.To) {
			continue
		}
		c.gateChecked = true
		v, ok := byID[c.ID]
		switch {
		case !ok:
			c.Verdict, c.Detail = VerdictRefused, "the gatekeeper returned no verdict"
		case !v.OK:
			c.Verdict, c.Detail = VerdictRefused, v.Detail
			if c.Detail == "" {
				c.Detail = "missing evidence: " + strings.Join(v.Missing, ", ")
			}
		default:
			c.Detail = v.Detail
		}
		if ok && v.EvidenceIDs != nil {
			c.EvidenceIDs = v.EvidenceIDs
		}
	}
	return nil
}

// applyStatus writes the plan in one transaction. It re-reads each item: if
// another process changed one so that the move now needs a gate it did not
// pass, the whole write is refused.
func applyStatus(ctx context.Context, d *db.DB, req StatusRequest, plan *StatusPlan, hooks Hooks) error {
	override := req.Override != ""
	return d.Write(ctx, func(tx *db.Tx) error {
		wrote := 0
		for i := range plan.Changes {
			c := &plan.Changes[i]
			if c.Verdict == VerdictUnchanged {
				continue
			}
			it, err := tx.GetItem(req.Kind, c.ID)
			if err != nil {
				return err
			}
			if !override && tracker.Gated(it.Status, req.To) && !c.gateChecked {
				return tracker.Refusedf("refused, nothing written: %s %d changed to %s while planning; run the command again", req.Kind, c.ID, it.Status)
			}
			c.From = it.Status
			if err := tx.SetItemStatus(it, db.StatusChange{To: req.To, Reason: req.reasonText(), Override: override, EvidenceIDs: c.EvidenceIDs}); err != nil {
				return err
			}
			wrote++
			if wrote == 1 && hooks.AfterFirstWrite != nil {
				hooks.AfterFirstWrite()
			}
		}
		return nil
	})
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ", ")
}

// PauseHook returns a Hooks whose AfterFirstWrite announces itself on
// announce and sleeps for d (the SIGKILL test's deterministic window).
func PauseHook(d time.Duration, announce func()) Hooks {
	if d <= 0 {
		return Hooks{}
	}
	return Hooks{AfterFirstWrite: func() {
		announce()
		time.Sleep(d)
	}}
}
