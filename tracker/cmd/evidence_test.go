package cmd

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/gates/gatestest"
)

func evidenceRows(t *testing.T, path string) int {
	t.Helper()
	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.Read(context.Background(), func(tx *db.Tx) error {
		return tx.QueryRow(`SELECT count(*) FROM evidence`).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustRun(t *testing.T, wantCode int, args ...string) testRun {
	t.Helper()
	r := run(t, args...)
	if r.code != wantCode {
		t.Fatalf("porttracker %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, wantCode, r.stdout, r.stderr)
	}
	return r
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

// TestEvidenceBatchWorkflow is the workflow on a small fixture:
// batch start, evidence run --batch, batch-update --set-status verified
// --execute, batch complete; then the code changes and --stale demotes; then
// a status edited outside the tool fails db check.
func TestEvidenceBatchWorkflow(t *testing.T) {
	path := gatestest.New(t)
	mustRun(t, 0, "batch", "start", "1", "--db", path, "--execute")

	r := mustRun(t, 0, "evidence", "run", "--batch", "1", "-j", "2", "--db", path)
	contains(t, "evidence run stdout", r.stdout,
		"feature\t1\thonest.Sum\tpass\tpass\tpass\tpass\tpass\tok\n",
		"feature\t3\thonest.(*Counter).Reset\tpass\tpass\tpass\tpass\tpass\tok\n",
		"feature\t8\thonest.Abs\tpass\tpass\tpass\tpass\tpass\tok\n", // through the port's own TestAbsCount
		"test\t101\thonest.TestSum\t-\tpass\tpass\tpass\t-\tok\n")
	contains(t, "evidence run stderr", r.stderr, "build 1/1: ./honest: pass", "gut 4/4: feature", "all gates pass for 7 items")

	// The update reuses the fresh evidence: no gate runs again.
	before := evidenceRows(t, path)
	r = mustRun(t, 0, "feature", "batch-update", "--ids", "1-3,8", "--set-status", "verified", "--db", path, "--execute")
	contains(t, "batch-update stderr", r.stderr, "updated 4 features to verified")
	mustRun(t, 0, "test", "batch-update", "--ids", "101-103", "--set-status", "verified", "--db", path, "--execute")
	if after := evidenceRows(t, path); after != before {
		t.Errorf("evidence rows %d -> %d: fresh evidence was not reused", before, after)
	}
	r = mustRun(t, 0, "batch", "complete", "1", "--db", path, "--execute")
	checkDB(t, path)

	// The audit row of a promotion cites its evidence.
	it := itemStatus(t, path, tracker.KindFeature, gatestest.FeatureSum)
	if it.Status != tracker.StatusVerified {
		t.Fatalf("Sum is %s", it.Status)
	}
	r = mustRun(t, 0, "feature", "show", "1", "--db", path, "--json")
	contains(t, "feature show", r.stdout, `"gate": "gut"`, `"verdict": "pass"`)

	r = mustRun(t, 0, "evidence", "show", "feature", "1", "--gate", "gut", "--log", "--db", path)
	contains(t, "evidence show", r.stdout, "feature 1  Sum -> honest.Sum  (verified)", "gut\tpass", "caught by",
		"mutation: body -> { var __ptZero0 int; return __ptZero0 }")
	r = mustRun(t, 0, "evidence", "show", "--test", "101", "--db", path)
	contains(t, "evidence show --test", r.stdout, "test 101", "\ttest\tpass\t", "\tstub\tpass\t", "\tlinks\tpass\t")

	// The code changes: --stale finds Sum's evidence stale, re-runs and
	// demotes it (dry run first).
	file := filepath.Join(filepath.Dir(path), "honest", "stats.go")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(strings.Replace(string(src), "total += x", "total += x * 2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustRun(t, 0, "evidence", "run", "--stale", "--db", path)
	contains(t, "stale dry run", r.stderr, "dry run: would demote")
	contains(t, "stale dry run", r.stdout, "feature\t1\thonest.Sum\tverified\tcomplete\tdemoted by evidence run --stale: test fail")
	if it := itemStatus(t, path, tracker.KindFeature, gatestest.FeatureSum); it.Status != tracker.StatusVerified {
		t.Fatalf("dry run demoted Sum to %s", it.Status)
	}
	r = mustRun(t, 0, "evidence", "run", "--stale", "--execute", "--db", path)
	contains(t, "stale", r.stderr, "demoted")
	if it := itemStatus(t, path, tracker.KindFeature, gatestest.FeatureSum); it.Status != tracker.StatusComplete {
		t.Errorf("after --stale --execute Sum is %s, want complete", it.Status)
	}
	// The tests that cover Sum now fail too.
	if it := itemStatus(t, path, tracker.KindTest, gatestest.TestSum); it.Status != tracker.StatusComplete {
		t.Errorf("after --stale --execute TestSum is %s, want complete", it.Status)
	}
	checkDB(t, path)

	// A status edited outside the tool breaks the audit replay.
	raw, err := sqlOpenRaw(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE items SET status = 'verified' WHERE kind = 'feature' AND id = ?`, gatestest.FeatureClamp); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	r = mustRun(t, ExitRefused, "db", "check", "--db", path)
	contains(t, "db check", r.stdout+r.stderr, "status differs from audit", "feature 4 is verified but its audit history ends at stub")
}

// TestEvidenceRunRefusesCheats: every cheat of batch 2 fails its gate, the
// table says which, and the command exits 1.
func TestEvidenceRunRefusesCheats(t *testing.T) {
	path := gatestest.New(t)
	r := mustRun(t, ExitRefused, "evidence", "run", "--batch", "2", "-j", "2", "--db", path)
	contains(t, "stdout", r.stdout,
		"feature\t4\thonest.Clamp\tpass\tpass\tmissing\tmissing\tmissing\tlinks: no test covers it",
		"feature\t5\tcheat.Scale\tpass\tpass\tpass\tpass\tfail\tgut: survived: TestScale pass with the body hollowed",
		"feature\t6\tcheat.Count\tpass\tfail\t",
		"stub: body only returns constants where upstream computes",
		"feature\t7\tcheat.Median\tpass\tfail\t",
		"test\t104\tcheat.TestSumNoAssert\t-\tfail\t",
		"test\t107\tcheat.TestMeanSkipped\t-\tfail\tpass\tskip\t-\tstub: skipped unconditionally")
	contains(t, "stderr", r.stderr, "gates do not pass for 6 of 8 items")

	// Promotions are refused, naming the evidence; nothing is written.
	r = mustRun(t, ExitRefused, "feature", "batch-update", "--ids", "5,6", "--set-status", "verified", "--db", path, "--execute")
	contains(t, "batch-update", r.stderr, "refused, nothing written", "gut fail: survived", "stub fail: body only returns constants")
	checkDB(t, path)
}

func TestEvidenceRunTTY(t *testing.T) {
	path := gatestest.New(t)
	r := runWith(t, runOpts{tty: true}, "evidence", "run", "--features", "1,6", "--gates", "stub", "--db", path)
	if r.code != ExitRefused {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	contains(t, "tty table", r.stdout, "KIND", "TARGET", "STUB", "honest.Sum", "cheat.Count")
	contains(t, "tty progress", r.stderr, "\r\033[K")
	// Again: Sum's fresh pass is reused and marked.
	r = runWith(t, runOpts{tty: true}, "evidence", "run", "--features", "1", "--gates", "stub", "--db", path)
	contains(t, "tty reuse", r.stdout, "pass*")
	contains(t, "tty reuse", r.stderr, "reused")

	r = mustRun(t, 0, "evidence", "run", "--features", "1", "--gates", "stub", "--db", path, "--json")
	var keys []string
	for _, k := range jsonKeys(t, r.stdout) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.Join(keys, " ") != "demotions executed items" {
		t.Errorf("evidence run --json fields %v", keys)
	}
	r = mustRun(t, 0, "evidence", "show", "feature", "1", "--db", path, "--json")
	if got := strings.Join(jsonKeys(t, r.stdout), " "); got != "evidence id kind status symbol target" {
		t.Errorf("evidence show --json fields %q", got)
	}
}

func TestEvidenceFlags(t *testing.T) {
	path := gatestest.New(t)
	for _, args := range [][]string{
		{"evidence", "run"},
		{"evidence", "run", "--batch", "1", "--features", "1"},
		{"evidence", "run", "--features", "1", "--execute"},
		{"evidence", "run", "--features", "1", "--gates", "lint"},
		{"evidence", "run", "--stale", "--gates", "build"},
		{"evidence", "run", "--features", "x"},
		{"evidence", "show"},
		{"evidence", "show", "feature"},
		{"evidence", "show", "widget", "1"},
		{"evidence", "show", "--feature", "1", "--test", "2"},
		{"evidence", "show", "feature", "1", "--gate", "lint"},
		{"config", "get", "nope"},
		{"config", "set", "gate_timeout", "soon"},
		{"config", "set", "no_such_key", "1"},
	} {
		if r := run(t, append(args, "--db", path)...); r.code != ExitUsage {
			t.Errorf("porttracker %s: exit %d, want %d (%s)", strings.Join(args, " "), r.code, ExitUsage, r.stderr)
		}
	}
	if r := run(t, "evidence", "run", "--features", "99", "--db", path); r.code != ExitRefused || !strings.Contains(r.stderr, "unknown feature ID(s): 99") {
		t.Errorf("unknown ID: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, "evidence", "show", "feature", "99", "--db", path); r.code != ExitRefused {
		t.Errorf("show unknown ID: exit %d", r.code)
	}
}

func TestConfigCommands(t *testing.T) {
	path := gatestest.New(t)
	r := mustRun(t, 0, "config", "list", "--db", path)
	contains(t, "config list", r.stdout, "target_packages\t./honest ./cheat\tset\n", "gate_timeout\t10m0s\tdefault\n")
	r = mustRun(t, 0, "config", "get", "jobs", "--db", path)
	if r.stdout != "0\n" {
		t.Errorf("config get jobs = %q", r.stdout)
	}

	before := dump(t, path)
	// "--" ends the flags, so a value may start with "-".
	r = mustRun(t, 0, "config", "set", "--db", path, "test_flags:./honest", "--", "-race")
	contains(t, "dry run", r.stderr, "dry run: would set config test_flags:./honest")
	if dump(t, path) != before {
		t.Error("config set without --execute wrote")
	}
	mustRun(t, 0, "config", "set", "--db", path, "--execute", "test_flags:./honest", "--", "-race")
	r = mustRun(t, 0, "config", "get", "test_flags:./honest", "--db", path)
	if r.stdout != "-race\n" {
		t.Errorf("config get = %q", r.stdout)
	}
	r = mustRun(t, 0, "config", "list", "--db", path, "--json")
	contains(t, "config list --json", r.stdout, `"key": "test_flags:./honest"`, `"value": "-race"`)
	r = mustRun(t, 0, "config", "set", "--db", path, "--execute", "test_flags:./honest", "--", "-race")
	contains(t, "unchanged", r.stderr, "nothing to change")
	checkDB(t, path)

	d, err := db.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var n int
	if err := d.Read(context.Background(), func(tx *db.Tx) error {
		return tx.QueryRow(`SELECT count(*) FROM audit WHERE action = 'config' AND to_value = 'test_flags:./honest=-race'`).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d config audit rows, want 1", n)
	}
}
