package gates

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// Required lists the gates an item of kind needs to enter status to.
func Required(kind tracker.Kind, to tracker.Status) []evidence.Gate {
	switch {
	case kind == tracker.KindFeature && to == tracker.StatusComplete:
		return []evidence.Gate{evidence.GateBuild, evidence.GateStub}
	case kind == tracker.KindFeature && to == tracker.StatusVerified:
		return []evidence.Gate{evidence.GateBuild, evidence.GateStub, evidence.GateLinks, evidence.GateTest, evidence.GateGut}
	case kind == tracker.KindTest && to == tracker.StatusComplete:
		return []evidence.Gate{evidence.GateStub}
	case kind == tracker.KindTest && to == tracker.StatusVerified:
		return []evidence.Gate{evidence.GateStub, evidence.GateTest}
	}
	return nil
}

// Gatekeeper is the tracker.Gatekeeper backed by evidence: it reuses fresh
// passing evidence, runs the missing gates for exactly the items asked
// about, and records what they show (in its own write transactions, before
// the caller's update transaction opens).
type Gatekeeper struct {
	DB   *db.DB
	Opts Options
}

// NewGatekeeper returns the evidence Gatekeeper for d.
func NewGatekeeper(d *db.DB, opts Options) *Gatekeeper { return &Gatekeeper{DB: d, Opts: opts} }

// Check implements tracker.Gatekeeper.
func (g *Gatekeeper) Check(ctx context.Context, kind tracker.Kind, ids []int64, to tracker.Status) ([]tracker.GateVerdict, error) {
	required := Required(kind, to)
	if len(required) == 0 {
		out := make([]tracker.GateVerdict, len(ids))
		for i, id := range ids {
			out[i] = tracker.GateVerdict{ID: id, OK: true}
		}
		return out, nil
	}
	eng, err := NewEngine(ctx, g.DB, g.Opts)
	if errors.Is(err, ErrNoModule) {
		// Nothing can be proven without the code: refuse, naming the
		// evidence that is missing and why the gates cannot run here.
		out, _ := tracker.NoEvidenceGatekeeper{}.Check(ctx, kind, ids, to)
		for i := range out {
			out[i].OK = false
			out[i].Detail += fmt.Sprintf(" (the gates cannot run: %v)", err)
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	req := Request{Gates: required}
	if kind == tracker.KindFeature {
		req.Features = ids
	} else {
		req.Tests = ids
	}
	rep, err := eng.Run(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make([]tracker.GateVerdict, 0, len(rep.Items))
	for _, ir := range rep.Items {
		out = append(out, Verdict(ir, required))
	}
	return out, nil
}

// Verdict judges one item against the required gates: every one must have
// fresh passing evidence.
func Verdict(ir *ItemReport, required []evidence.Gate) tracker.GateVerdict {
	v := tracker.GateVerdict{ID: ir.ID, EvidenceIDs: []int64{}}
	var problems, passed []string
	for _, g := range required {
		o := ir.Gates[g]
		if o != nil && o.EvidenceID != 0 {
			v.EvidenceIDs = append(v.EvidenceIDs, o.EvidenceID)
		}
		if ir.FreshPass(g) {
			passed = append(passed, string(g))
			continue
		}
		v.Missing = append(v.Missing, string(g))
		switch {
		case o == nil:
			problems = append(problems, fmt.Sprintf("%s: no evidence", g))
		case !ir.Fresh(g):
			problems = append(problems, fmt.Sprintf("%s: stale evidence (%s on other sources)", g, o.Verdict))
		default:
			problems = append(problems, fmt.Sprintf("%s %s: %s", g, o.Verdict, o.Detail))
		}
	}
	v.OK = len(v.Missing) == 0
	if v.OK {
		v.Detail = "fresh evidence: " + strings.Join(passed, ", ") + " pass"
	} else {
		v.Detail = strings.Join(problems, "; ") + fmt.Sprintf(" (porttracker evidence show %s %d)", ir.Kind, ir.ID)
	}
	return v
}
