// Package tracker holds porttracker's model and rules: the kinds of items a
// port tracks, their statuses and the transitions between them, ID-list
// parsing, the Gatekeeper that guards promotions, and the typed errors that
// the command layer maps to exit codes.
//
// The package knows nothing of cobra and nothing of how evidence is gathered:
// the evidence gates reach it only through the Gatekeeper interface.
package tracker

import (
	"fmt"
	"strings"
)

// Kind is what an item is: an upstream function or method (feature), or an
// upstream TestXxx function (test). Features and tests have separate ID spaces.
type Kind string

const (
	KindFeature Kind = "feature"
	KindTest    Kind = "test"
)

// Kinds lists every kind in report order.
var Kinds = []Kind{KindFeature, KindTest}

// ParseKind accepts "feature"/"features" and "test"/"tests".
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "feature", "features":
		return KindFeature, nil
	case "test", "tests":
		return KindTest, nil
	}
	return "", Usagef("invalid kind %q: want feature or test", s)
}

// Plural is the kind's plural noun, used in messages and flag names.
func (k Kind) Plural() string { return string(k) + "s" }

// Status is where an item stands in the port. The string values are stored in
// porting.db and are part of the scripted interface.
type Status string

const (
	StatusDeferred Status = "deferred" // not ported yet (initial); may carry a blocker note
	StatusStub     Status = "stub"     // the target symbol exists
	StatusComplete Status = "complete" // ported for real: build green, stub scan clean
	StatusVerified Status = "verified" // complete, linked tests pass fresh, gut check caught
	StatusNA       Status = "n_a"      // does not apply to this port; needs a reason
)

// Statuses lists every status in report order.
var Statuses = []Status{StatusDeferred, StatusStub, StatusComplete, StatusVerified, StatusNA}

// ParseStatus validates a status name exactly as stored ("n_a", not "n/a").
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if s == string(st) {
			return st, nil
		}
	}
	return "", Usagef("invalid status %q: want one of %s", s, strings.Join(statusNames(), ", "))
}

func statusNames() []string {
	names := make([]string, len(Statuses))
	for i, st := range Statuses {
		names[i] = string(st)
	}
	return names
}

// rank orders the porting progression; n_a sits outside it.
func (s Status) rank() int {
	switch s {
	case StatusDeferred:
		return 0
	case StatusStub:
		return 1
	case StatusComplete:
		return 2
	case StatusVerified:
		return 3
	}
	return -1
}

// Ported reports whether the status means the target exists (stub or better).
// Entering a ported status from an unported one resets the drift baseline.
func (s Status) Ported() bool { return s.rank() >= 1 }

// Done reports whether the status lets a batch complete.
func (s Status) Done() bool { return s == StatusVerified || s == StatusNA }

// NeedsReason reports whether entering s requires --reason or --override.
func (s Status) NeedsReason() bool { return s == StatusDeferred || s == StatusNA }

// Gated reports whether moving from s to `to` must pass the Gatekeeper:
// any move into complete or verified that is not a demotion.
func Gated(from, to Status) bool {
	if to != StatusComplete && to != StatusVerified {
		return false
	}
	return from.rank() < to.rank()
}

// IsPromotion reports whether from -> to climbs the progression (or leaves
// n_a for a ported status).
func IsPromotion(from, to Status) bool {
	if to.rank() < 0 {
		return false
	}
	return from.rank() < to.rank()
}

// ItemRef names one item.
type ItemRef struct {
	Kind Kind
	ID   int64
}

func (r ItemRef) String() string { return fmt.Sprintf("%s %d", r.Kind, r.ID) }
