package evidence

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TestRef names one Go test: its package dir and its top-level test name.
type TestRef struct {
	Pkg  string // "./store"
	Name string // "TestFileStoreCompact"
}

// TestResult is the outcome of one top-level test. Subtests count toward
// their parent only: their output is part of the parent's.
type TestResult struct {
	Pkg     string
	Name    string
	Verdict Verdict // Pass, Fail, Skip or Missing
	Detail  string
	Elapsed time.Duration
	Output  string
}

// TestRun is one `go test` invocation for one package.
type TestRun struct {
	Pkg     string
	Exec    *Exec
	Results []TestResult // in request order
}

// RunTests is the test gate: for each package it runs
//
//	go test -json -count=1 -run '^(A|B)$' <pkg>
//
// (never cached) and reads the test2json events per test. A skip is not a
// pass; a build failure fails every requested test; a test whose events end
// without a result (a panic, os.Exit, a timeout) fails, and so does every
// requested test after it that never ran; a requested test that never ran in
// a passing binary is Missing (a -run pattern that matches nothing passes).
func (m *Module) RunTests(ctx context.Context, tests []TestRef) ([]*TestRun, error) {
	byPkg := map[string][]string{}
	var order []string
	for _, t := range tests {
		pkg := CleanPkg(t.Pkg)
		if _, ok := byPkg[pkg]; !ok {
			order = append(order, pkg)
		}
		if !slices.Contains(byPkg[pkg], t.Name) {
			byPkg[pkg] = append(byPkg[pkg], t.Name)
		}
	}
	var runs []*TestRun
	for _, pkg := range order {
		if err := ctx.Err(); err != nil {
			return runs, err
		}
		names := byPkg[pkg]
		args := []string{"test", "-json", "-count=1"}
		args = append(args, m.testBuildFlags(pkg)...)
		args = append(args, "-timeout", goTestTimeout(m.timeout()).String(), "-run", runPattern(names), pkg)
		ex := run(ctx, m.goCommand(args...))
		results := testJSONResults(ex, names)
		for i := range results {
			results[i].Pkg = pkg
		}
		runs = append(runs, &TestRun{Pkg: pkg, Exec: ex, Results: results})
	}
	return runs, nil
}

// goTestTimeout leaves go test's own timeout a little under ours, so a hung
// test is reported by the test binary (with every goroutine's stack) before
// the process group is killed.
func goTestTimeout(ours time.Duration) time.Duration {
	if ours > 2*time.Minute {
		return ours - 30*time.Second
	}
	return ours * 9 / 10
}

// runPattern anchors test names for -run / -test.run.
func runPattern(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return "^(" + strings.Join(q, "|") + ")$"
}

// testEvent is one test2json event (go help test2json).
type testEvent struct {
	Action      string
	Package     string
	Test        string
	Elapsed     float64
	Output      string
	ImportPath  string // build-output / build-fail
	FailedBuild string
}

// testTally accumulates what a test run said about each top-level test.
type testTally struct {
	tests       map[string]*testState
	buildFailed bool
	buildOutput strings.Builder
	pkgOutput   strings.Builder
	pkgFailed   bool
}

type testState struct {
	ran     bool
	final   string // pass, fail, skip
	elapsed time.Duration
	output  strings.Builder
}

// completed reports whether the test binary reached its closing PASS/FAIL
// line, i.e. it ran every test its -run pattern matched.
func (t *testTally) completed() bool {
	for line := range strings.SplitSeq(t.pkgOutput.String(), "\n") {
		if l := strings.TrimSpace(line); l == "PASS" || l == "FAIL" {
			return true
		}
	}
	return false
}

func newTally() *testTally { return &testTally{tests: map[string]*testState{}} }

func (t *testTally) state(name string) *testState {
	top, _, _ := strings.Cut(name, "/")
	s := t.tests[top]
	if s == nil {
		s = &testState{}
		t.tests[top] = s
	}
	return s
}

func (t *testTally) event(ev testEvent) {
	switch ev.Action {
	case "build-output":
		t.buildOutput.WriteString(ev.Output)
		return
	case "build-fail":
		t.buildFailed = true
		return
	}
	if ev.Test == "" {
		switch ev.Action {
		case "output":
			t.pkgOutput.WriteString(ev.Output)
			if strings.Contains(ev.Output, "[build failed]") || strings.Contains(ev.Output, "[setup failed]") {
				t.buildFailed = true
			}
		case "fail":
			t.pkgFailed = true
			if ev.FailedBuild != "" {
				t.buildFailed = true
			}
		}
		return
	}
	s := t.state(ev.Test)
	sub := strings.Contains(ev.Test, "/")
	switch ev.Action {
	case "run":
		s.ran = true
	case "output":
		s.output.WriteString(ev.Output)
	case "pass", "fail", "skip":
		if !sub {
			s.final = ev.Action
			s.elapsed = time.Duration(ev.Elapsed * float64(time.Second))
		}
	}
}

// results turns the tally into one result per requested test.
func (t *testTally) results(ex *Exec, requested []string) []TestResult {
	out := make([]TestResult, len(requested))
	for i, name := range requested {
		r := TestResult{Name: name}
		s := t.tests[name]
		if s != nil {
			r.Output = s.output.String()
			r.Elapsed = s.elapsed
		}
		switch {
		case ex.Err != nil && !ex.TimedOut && ex.ExitCode == -1 && (s == nil || !s.ran):
			r.Verdict, r.Detail = Error, fmt.Sprintf("could not run: %v", ex.Err)
		case s != nil && s.final == "pass":
			r.Verdict, r.Detail = Pass, fmt.Sprintf("passed (%s)", s.elapsed.Round(time.Millisecond))
		case s != nil && s.final == "skip":
			r.Verdict, r.Detail = Skip, "skipped"
			if why := failureLine(r.Output); why != "" {
				r.Detail += ": " + why
			}
		case s != nil && s.final == "fail":
			r.Verdict, r.Detail = Fail, "failed"
			if why := failureLine(r.Output); why != "" {
				r.Detail += ": " + why
			}
		case s != nil && s.ran && ex.TimedOut:
			r.Verdict, r.Detail = Fail, fmt.Sprintf("no result: killed after %s (timeout)", ex.Duration.Round(time.Second))
		case s != nil && s.ran:
			r.Verdict, r.Detail = Fail, "no result: the test binary ended while it ran (panic, os.Exit or timeout)"
			if why := panicLine(r.Output + t.pkgOutput.String()); why != "" {
				r.Detail += ": " + why
			}
		case t.buildFailed:
			r.Verdict, r.Detail = Fail, "build failed"
			if why := failureLine(t.buildOutput.String() + string(ex.Stderr)); why != "" {
				r.Detail += ": " + why
			}
		case ex.TimedOut:
			r.Verdict, r.Detail = Fail, "did not run: killed after timeout"
		case (t.pkgFailed || ex.ExitCode != 0) && !t.completed():
			r.Verdict, r.Detail = Fail, "did not run: the test binary failed before reaching it"
			if why := panicLine(t.pkgOutput.String() + string(ex.Stderr)); why != "" {
				r.Detail += " (" + why + ")"
			}
		default:
			r.Verdict, r.Detail = Missing, "never ran: no such test (the -run pattern matched nothing)"
		}
		out[i] = r
	}
	return out
}

// testJSONResults parses go test -json output.
func testJSONResults(ex *Exec, requested []string) []TestResult {
	t := newTally()
	for line := range bytes.SplitSeq(ex.Stdout, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var ev testEvent
		if line[0] != '{' || json.Unmarshal(line, &ev) != nil {
			t.pkgOutput.Write(line)
			t.pkgOutput.WriteByte('\n')
			continue
		}
		t.event(ev)
	}
	return t.results(ex, requested)
}

// testVResults parses the output of a test binary run with
// -test.v=test2json: the framing lines start with 0x16 so they cannot be
// confused with what tests print.
func testVResults(ex *Exec, requested []string) []TestResult {
	t := newTally()
	cur := ""
	for line := range bytes.SplitSeq(ex.Stdout, []byte("\n")) {
		text := string(line)
		marker, ok := strings.CutPrefix(text, "\x16")
		if !ok {
			if cur == "" {
				t.pkgOutput.WriteString(text + "\n")
			} else {
				t.event(testEvent{Action: "output", Test: cur, Output: text + "\n"})
			}
			continue
		}
		switch {
		case strings.HasPrefix(marker, "=== RUN   "):
			cur = strings.TrimSpace(marker[len("=== RUN   "):])
			t.event(testEvent{Action: "run", Test: cur})
		case strings.HasPrefix(marker, "=== NAME"), strings.HasPrefix(marker, "=== CONT"), strings.HasPrefix(marker, "=== PAUSE"):
			cur = strings.TrimSpace(marker[len("=== NAME"):])
		case strings.HasPrefix(marker, "--- "):
			action, name, elapsed, rest, ok := parseFinalMarker(marker)
			if !ok {
				t.pkgOutput.WriteString(text + "\n")
				continue
			}
			t.event(testEvent{Action: "output", Test: name, Output: marker + "\n"})
			t.event(testEvent{Action: action, Test: name, Elapsed: elapsed})
			if rest != "" {
				// Output glued to the marker (a panic message).
				t.event(testEvent{Action: "output", Test: name, Output: rest + "\n"})
			}
			cur = name
		default:
			t.pkgOutput.WriteString(marker + "\n")
		}
	}
	if ex.ExitCode != 0 {
		t.pkgFailed = true
	}
	return t.results(ex, requested)
}

var finalMarker = regexp.MustCompile(`^--- (PASS|FAIL|SKIP): (\S+) \(([0-9.]+)s\)(.*)$`)

func parseFinalMarker(s string) (action, name string, elapsed float64, rest string, ok bool) {
	m := finalMarker.FindStringSubmatch(s)
	if m == nil {
		return "", "", 0, "", false
	}
	elapsed, _ = strconv.ParseFloat(m[3], 64)
	return strings.ToLower(m[1]), m[2], elapsed, m[4], true
}

// failureLine picks the most telling line of a failure's output: the first
// one that is not test framing.
func failureLine(out string) string {
	for line := range strings.SplitSeq(out, "\n") {
		l := strings.TrimSpace(line)
		if l == "" || strings.HasPrefix(l, "=== ") || strings.HasPrefix(l, "--- ") || strings.HasPrefix(l, "# ") ||
			l == "FAIL" || l == "PASS" || strings.HasPrefix(l, "FAIL\t") || strings.HasPrefix(l, "ok ") {
			continue
		}
		return truncate(l, 200)
	}
	return ""
}

func panicLine(out string) string {
	for line := range strings.SplitSeq(out, "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return truncate(l, 200)
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
