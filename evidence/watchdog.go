package evidence

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// testWatch bounds each top-level test of a test binary run with
// -test.v=test2json by its own budget, so a mutant that hangs one test is
// killed within seconds of that test's budget instead of at the end of the
// whole run's (which sums every linked test's baseline).
type testWatch struct {
	// Budget is a test's limit; tests without one are bounded only by the
	// run's timeout.
	Budget map[string]time.Duration
}

// testWatcher follows a run's stdout and reports the first test that runs
// past its budget.
type testWatcher struct {
	w *testWatch

	mu      sync.Mutex // guards the fields below
	partial []byte     // an unfinished line
	current string     // the top-level test running now
	started time.Time  // when current started
	hung    string     // the test that ran past its budget
}

func (tw *testWatcher) Write(p []byte) (int, error) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.partial = append(tw.partial, p...)
	for {
		i := bytes.IndexByte(tw.partial, '\n')
		if i < 0 {
			break
		}
		tw.line(string(tw.partial[:i]))
		tw.partial = tw.partial[i+1:]
	}
	return len(p), nil
}

// line notes a test starting or ending. tw.mu held.
func (tw *testWatcher) line(text string) {
	marker, ok := strings.CutPrefix(text, "\x16")
	if !ok {
		marker = text
	}
	switch {
	case strings.HasPrefix(marker, "=== RUN"):
		name := strings.TrimSpace(strings.TrimPrefix(marker, "=== RUN"))
		if top, _, _ := strings.Cut(name, "/"); top != tw.current {
			tw.current, tw.started = top, time.Now()
		}
	case strings.HasPrefix(marker, "--- "):
		// "--- PASS: TestX (0.01s)"; a subtest's line is indented, not here.
		fields := strings.Fields(marker)
		if len(fields) >= 3 && strings.TrimSuffix(fields[2], ":") == tw.current {
			tw.current = ""
		}
	}
}

// overdue reports the running test when it has passed its budget.
func (tw *testWatcher) overdue(now time.Time) (string, bool) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.hung != "" {
		return tw.hung, true
	}
	if tw.current == "" {
		return "", false
	}
	budget, ok := tw.w.Budget[tw.current]
	if !ok || now.Sub(tw.started) <= budget {
		return "", false
	}
	tw.hung = tw.current
	return tw.hung, true
}

// watchTests polls tw until stop is closed, calling kill once a test is
// overdue.
func watchTests(tw *testWatcher, stop <-chan struct{}, kill func()) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			if _, late := tw.overdue(now); late {
				kill()
				return
			}
		}
	}
}
