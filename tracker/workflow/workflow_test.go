package workflow

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/porttracker/porttracker/tracker"
)

func TestStatusRequestValidate(t *testing.T) {
	cases := []struct {
		name string
		req  StatusRequest
		want string // "" = valid
	}{
		{"ok", StatusRequest{IDs: []int64{1}, To: tracker.StatusStub}, ""},
		{"bad status", StatusRequest{IDs: []int64{1}, To: "done"}, "invalid status"},
		{"both reasons", StatusRequest{IDs: []int64{1}, To: tracker.StatusNA, Reason: "a", Override: "b"}, "not both"},
		{"n_a without reason", StatusRequest{IDs: []int64{1}, To: tracker.StatusNA}, "needs --reason"},
		{"deferred blank reason", StatusRequest{IDs: []int64{1}, To: tracker.StatusDeferred, Reason: "  "}, "needs --reason"},
		{"deferred with override", StatusRequest{IDs: []int64{1}, To: tracker.StatusDeferred, Override: "blocked"}, ""},
		{"no ids", StatusRequest{To: tracker.StatusStub}, "no IDs"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.req.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, tracker.ErrUsage) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want usage error with %q", err, c.want)
			}
		})
	}
	if got := (StatusRequest{Reason: " r ", Override: ""}).reasonText(); got != "r" {
		t.Errorf("reasonText = %q", got)
	}
	if got := (StatusRequest{Override: " o "}).reasonText(); got != "o" {
		t.Errorf("override reasonText = %q", got)
	}
}

func TestPlanCounts(t *testing.T) {
	p := &StatusPlan{Changes: []Change{{Verdict: VerdictOK}, {Verdict: VerdictOverride}, {Verdict: VerdictUnchanged}}}
	if p.Changed() != 2 || p.Refused() {
		t.Errorf("Changed = %d, Refused = %v", p.Changed(), p.Refused())
	}
	p.Problems = []string{"x"}
	if err := p.refusal(); !p.Refused() || !errors.Is(err, tracker.ErrRefused) || !strings.Contains(err.Error(), "x") {
		t.Errorf("refusal = %v", err)
	}
	m := &MovePlan{Changes: []MoveChange{{Verdict: VerdictOK}, {Verdict: VerdictUnchanged}}}
	if m.Changed() != 1 {
		t.Errorf("MovePlan.Changed = %d", m.Changed())
	}
	if joinIDs([]int64{3, 1}) != "3, 1" {
		t.Errorf("joinIDs = %q", joinIDs([]int64{3, 1}))
	}
}

func TestPauseHook(t *testing.T) {
	if h := PauseHook(0, func() {}); h.AfterFirstWrite != nil {
		t.Fatal("a zero pause installed a hook")
	}
	announced := false
	h := PauseHook(time.Millisecond, func() { announced = true })
	start := time.Now()
	h.AfterFirstWrite()
	if !announced || time.Since(start) < time.Millisecond {
		t.Errorf("hook announced=%v slept %v", announced, time.Since(start))
	}
}
