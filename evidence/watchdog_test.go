//go:build unix

package evidence

import (
	"context"
	"testing"
	"time"
)

// A watched run is killed once one test passes its own budget, well before
// the run's timeout, and says which test it was; tests that end in time,
// and subtests of a test that is within budget, do not trip it.
func TestRunKillsTestPastItsBudget(t *testing.T) {
	script := `printf '\026=== RUN   TestQuick\n'
printf '\026=== RUN   TestQuick/sub\n'
printf '\026--- PASS: TestQuick (0.00s)\n'
printf '\026=== RUN   TestHangs\n'
sleep 30`
	watch := &testWatch{Budget: map[string]time.Duration{
		"TestQuick": 300 * time.Millisecond,
		"TestHangs": 500 * time.Millisecond,
	}}
	start := time.Now()
	ex := run(context.Background(), command{argv: []string{"sh", "-c", script}, timeout: time.Minute, watch: watch})
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("run took %s: the watchdog did not kill the hung test", took)
	}
	if !ex.TimedOut || ex.HungTest != "TestHangs" || ex.Err == nil {
		t.Fatalf("TimedOut %v, HungTest %q, Err %v; want a kill for TestHangs", ex.TimedOut, ex.HungTest, ex.Err)
	}
	if got := mutantCaught(ex, []string{"TestQuick", "TestHangs"}); len(got) != 1 || got[0] != "TestHangs" {
		t.Fatalf("mutantCaught = %v, want [TestHangs]", got)
	}

	// Every test within its budget: the run ends on its own.
	ok := run(context.Background(), command{argv: []string{"sh", "-c", `printf '\026=== RUN   TestQuick\n'; sleep 0.1; printf '\026--- PASS: TestQuick (0.10s)\n'`},
		timeout: time.Minute, watch: watch})
	if ok.TimedOut || ok.HungTest != "" || !ok.OK() {
		t.Fatalf("a test within budget was killed: %+v", ok)
	}

	// Cancellation is still cancellation, not a hung test.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	c := run(ctx, command{argv: []string{"sh", "-c", `printf '\026=== RUN   TestNoBudget\n'; sleep 30`}, timeout: time.Minute, watch: watch})
	if c.TimedOut || c.HungTest != "" || c.Err == nil {
		t.Fatalf("canceled run: TimedOut %v HungTest %q Err %v", c.TimedOut, c.HungTest, c.Err)
	}
}
