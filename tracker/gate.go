package tracker

import (
	"context"
	"fmt"
	"strings"
)

// Gatekeeper decides whether items may move into complete or verified.
//
// Check returns one verdict per ID. It may run gates and record evidence in
// porting.db, but it runs before the caller's write transaction opens, never
// inside it. A missing verdict for an ID counts as a refusal.
type Gatekeeper interface {
	Check(ctx context.Context, kind Kind, ids []int64, to Status) ([]GateVerdict, error)
}

// GateVerdict is the Gatekeeper's answer for one item.
type GateVerdict struct {
	ID          int64
	OK          bool
	Missing     []string // gates without passing evidence, e.g. "build", "stub", "test", "gut"
	Detail      string   // one line the user can act on
	EvidenceIDs []int64  // evidence rows that justify the verdict (recorded in the audit row)
}

// RequiredGates lists the gates DESIGN.md §2 requires for entering `to`.
func RequiredGates(to Status) []string {
	switch to {
	case StatusComplete:
		return []string{"build", "stub"}
	case StatusVerified:
		return []string{"build", "stub", "test", "gut"}
	}
	return nil
}

// NoEvidenceGatekeeper is the honest default until evidence gates are wired:
// there is no evidence, so every move into complete or verified is refused
// with the command that would gather it.
type NoEvidenceGatekeeper struct{}

func (NoEvidenceGatekeeper) Check(_ context.Context, kind Kind, ids []int64, to Status) ([]GateVerdict, error) {
	missing := RequiredGates(to)
	verdicts := make([]GateVerdict, len(ids))
	for i, id := range ids {
		verdicts[i] = GateVerdict{
			ID:      id,
			OK:      len(missing) == 0,
			Missing: missing,
		}
		if len(missing) > 0 {
			verdicts[i].Detail = fmt.Sprintf("no %s evidence: run porttracker evidence run --%s %d",
				strings.Join(missing, "/"), kind.Plural(), id)
		}
	}
	return verdicts, nil
}
