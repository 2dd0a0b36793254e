package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// TestBatchWorkflowExecuted walks a batch from start to complete with a
// Gatekeeper that passes, checking what each --execute writes.
func TestBatchWorkflowExecuted(t *testing.T) {
	path := smallDB(t)
	gk := &allowGatekeeper{}
	with := runOpts{gatekeeper: gk, env: map[string]string{EnvActor: "alice"}}
	mustRun := func(args ...string) testRun {
		t.Helper()
		r := runWith(t, with, append(args, "--db", path)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}
	mustRun("batch", "start", "15", "--execute")
	if r := mustRun("batch", "show", "15", "--json"); !strings.Contains(r.stdout, `"state": "started"`) {
		t.Fatalf("batch 15 not started: %s", r.stdout)
	}

	// A dry run consults the gates but writes nothing.
	before := dump(t, path)
	r := mustRun("feature", "batch-update", "--ids", "951-954,971", "--set-status", "complete")
	if !strings.Contains(r.stderr, "dry run: would update 5 features to complete") || dump(t, path) != before {
		t.Fatalf("dry run wrote or misreported: %s", r.stderr)
	}
	if gk.calls != 1 {
		t.Fatalf("gatekeeper called %d times in a dry run, want 1", gk.calls)
	}

	mustRun("feature", "batch-update", "--ids", "951-954,971", "--set-status", "verified", "--execute")
	it := itemStatus(t, path, tracker.KindFeature, 951)
	if it.Status != tracker.StatusVerified || it.Override {
		t.Fatalf("feature 951 = %s override=%v", it.Status, it.Override)
	}
	r = mustRun("feature", "show", "951", "--json")
	var show itemShowExport
	if err := json.Unmarshal([]byte(r.stdout), &show); err != nil {
		t.Fatal(err)
	}
	last := show.History[len(show.History)-1]
	if last.Actor != "alice" || last.From != "stub" || last.To != "verified" || last.EvidenceIDs != "[7]" ||
		!strings.Contains(last.Argv, `"batch-update"`) {
		t.Errorf("audit row %+v", last)
	}

	mustRun("test", "batch-update", "--ids", "368,373", "--set-status", "verified", "--execute")
	// Deferred 1259 blocks completion until it leaves the batch.
	if r := runWith(t, with, "batch", "complete", "15", "--execute", "--db", path); r.code != ExitRefused ||
		!strings.Contains(r.stderr, "1 feature(s) still deferred: 1259") {
		t.Fatalf("complete with a deferred item: %d %s", r.code, r.stderr)
	}
	mustRun("batch", "move", "--features", "1259", "--to", "16", "--reason", "needs the cluster layer", "--execute")
	mustRun("batch", "complete", "15", "--execute")
	if r := mustRun("batch", "ready"); !strings.Contains(r.stdout, "16\tCluster\tpending\t15") {
		t.Errorf("batch 16 not ready after 15 completed:\n%s", r.stdout)
	}
	mustRun("batch", "start", "16", "--execute")

	// Demotion needs no gate and no override.
	strict := runOpts{env: with.env} // default gatekeeper: refuses promotions
	if r := runWith(t, strict, "feature", "update", "952", "--status", "complete", "--execute", "--db", path); r.code != 0 {
		t.Fatalf("demotion refused: %s", r.stderr)
	}
	if gk.calls != 3 {
		t.Errorf("gatekeeper calls %d, want 3 (dry run, features, tests)", gk.calls)
	}
	checkDB(t, path)
}

func TestOverrideIsRecordedAndReportedApart(t *testing.T) {
	path := smallDB(t)
	r := run(t, "feature", "update", "953", "--status", "verified", "--override", "equivalent mutant: lock helper", "--execute", "--db", path)
	if r.code != 0 {
		t.Fatalf("override refused: %s", r.stderr)
	}
	it := itemStatus(t, path, tracker.KindFeature, 953)
	if it.Status != tracker.StatusVerified || !it.Override || it.Reason != "equivalent mutant: lock helper" {
		t.Fatalf("feature 953 = %+v", it)
	}
	r = run(t, "report", "summary", "--db", path, "--json")
	var s struct {
		Kinds []struct {
			Kind     string           `json:"kind"`
			Honest   map[string]int64 `json:"honest"`
			Override map[string]int64 `json:"override"`
		} `json:"kinds"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatal(err)
	}
	if s.Kinds[0].Honest["verified"] != 1 || s.Kinds[0].Override["verified"] != 2 {
		t.Errorf("verified honest/override = %d/%d, want 1/2", s.Kinds[0].Honest["verified"], s.Kinds[0].Override["verified"])
	}
	if r := run(t, "feature", "list", "--status", "verified", "--db", path); !strings.Contains(r.stdout, "953\t(*msgBlock).flushPendingMsgs\tverified (override)") {
		t.Errorf("list does not mark the override:\n%s", r.stdout)
	}
	// Re-running the same update is a no-op: no new audit row.
	before := dump(t, path)
	r = run(t, "feature", "update", "953", "--status", "verified", "--override", "equivalent mutant: lock helper", "--execute", "--db", path)
	if r.code != 0 || !strings.Contains(r.stderr, "nothing to change") || dump(t, path) != before {
		t.Errorf("repeat update: %d %s", r.code, r.stderr)
	}
	checkDB(t, path)
}

func TestGateErrorsRefuseEverything(t *testing.T) {
	path := smallDB(t)
	before := dump(t, path)
	r := runWith(t, runOpts{gatekeeper: failingGatekeeper{}}, "feature", "update", "951", "--status", "complete", "--execute", "--db", path)
	if r.code != ExitRefused || !strings.Contains(r.stderr, "gate check: go toolchain not found") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if dump(t, path) != before {
		t.Fatal("database changed")
	}
	// A gatekeeper that forgets an item refuses it.
	partial := partialGatekeeper{}
	r = runWith(t, runOpts{gatekeeper: partial}, "feature", "batch-update", "--ids", "951,952", "--set-status", "complete", "--execute", "--db", path)
	if r.code != ExitRefused || !strings.Contains(r.stderr, "feature 952 (*msgBlock).loadMsgs: the gatekeeper returned no verdict") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if dump(t, path) != before {
		t.Fatal("database changed")
	}
}

// partialGatekeeper passes only the first ID and omits the rest.
type partialGatekeeper struct{}

func (partialGatekeeper) Check(_ context.Context, _ tracker.Kind, ids []int64, _ tracker.Status) ([]tracker.GateVerdict, error) {
	return []tracker.GateVerdict{{ID: ids[0], OK: true}}, nil
}

func TestStatusUpdatesExecuted(t *testing.T) {
	path := smallDB(t)
	cases := []struct {
		args     []string
		kind     tracker.Kind
		id       int64
		status   tracker.Status
		reason   string
		override bool
	}{
		{[]string{"feature", "update", "960", "--status", "n_a", "--reason", "raft is out of scope"}, tracker.KindFeature, 960, tracker.StatusNA, "raft is out of scope", false},
		{[]string{"feature", "update", "1259", "--status", "deferred", "--override", "blocked: requires <dependency> for non-stub implementation"},
			tracker.KindFeature, 1259, tracker.StatusDeferred, "blocked: requires <dependency> for non-stub implementation", true},
		{[]string{"test", "update", "400", "--status", "stub", "--override", "scenario lives in TestFileStoreCompact"}, tracker.KindTest, 400, tracker.StatusStub, "scenario lives in TestFileStoreCompact", true},
		{[]string{"feature", "update", "951", "--status", "deferred", "--reason", "rewrite"}, tracker.KindFeature, 951, tracker.StatusDeferred, "rewrite", false},
		{[]string{"feature", "update", "951", "--status", "stub"}, tracker.KindFeature, 951, tracker.StatusStub, "", false},
	}
	for _, c := range cases {
		r := run(t, append(c.args, "--execute", "--db", path)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d %s", c.args, r.code, r.stderr)
		}
		it := itemStatus(t, path, c.kind, c.id)
		if it.Status != c.status || it.Reason != c.reason || it.Override != c.override {
			t.Errorf("%v: got %s %q override=%v", c.args, it.Status, it.Reason, it.Override)
		}
	}
	checkDB(t, path)
}

func TestDriftBaselineResetsOnEnteringStub(t *testing.T) {
	path := smallDB(t)
	makeSQLite(t, path, "UPDATE items SET body_hash = 'new', drifted = 1 WHERE kind = 'feature' AND id = 960")
	makeSQLite(t, path, "UPDATE items SET target_file = 'store/raft.go', target_line = 3 WHERE kind = 'feature' AND id = 960")
	if r := run(t, "feature", "update", "960", "--status", "stub", "--execute", "--db", path); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	it := itemStatus(t, path, tracker.KindFeature, 960)
	if it.PortedHash != "new" || it.Drifted {
		t.Errorf("after entering stub: ported_hash %q drifted %v", it.PortedHash, it.Drifted)
	}
	// Moving between ported statuses keeps the baseline.
	makeSQLite(t, path, "UPDATE items SET body_hash = 'newer' WHERE kind = 'feature' AND id = 960")
	if r := runWith(t, runOpts{gatekeeper: &allowGatekeeper{}}, "feature", "update", "960", "--status", "complete", "--execute", "--db", path); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if it := itemStatus(t, path, tracker.KindFeature, 960); it.PortedHash != "new" {
		t.Errorf("baseline moved on stub -> complete: %q", it.PortedHash)
	}
}

func TestBatchCreateAssignMoveMap(t *testing.T) {
	path := smallDB(t)
	mustRun := func(args ...string) testRun {
		t.Helper()
		r := run(t, append(args, "--db", path)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, r.code, r.stderr)
		}
		return r
	}
	r := mustRun("batch", "create", "--name", "Raft", "--depends-on", "13,14")
	if !strings.Contains(r.stdout, "batch 17 Raft (depends on 13-14)") || !strings.Contains(r.stderr, "dry run") {
		t.Fatalf("dry create: %s %s", r.stdout, r.stderr)
	}
	mustRun("batch", "create", "--name", "Raft", "--depends-on", "13,14", "--description", "consensus", "--execute")
	mustRun("batch", "create", "--id", "30", "--name", "Later", "--execute")
	r = mustRun("batch", "list", "--json")
	var list []batchListExport
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 6 || list[4].ID != 17 || list[4].Name != "Raft" || list[5].ID != 30 {
		t.Fatalf("batches %+v", list)
	}
	mustRun("batch", "assign", "--batch", "17", "--features", "960-965", "--tests", "400", "--execute")
	r = mustRun("feature", "list", "--batch", "17", "--json")
	if strings.Count(r.stdout, `"batch_id": 17`) != 6 {
		t.Errorf("assigned features:\n%s", r.stdout)
	}
	// Assigning again is a no-op.
	r = mustRun("batch", "assign", "--batch", "17", "--features", "960", "--execute")
	if !strings.Contains(r.stdout, "unchanged") || !strings.Contains(r.stderr, "moved 0 item(s)") {
		t.Errorf("re-assign: %s %s", r.stdout, r.stderr)
	}
	mustRun("batch", "move", "--features", "965", "--to", "none", "--reason", "not needed yet", "--execute")
	if it := itemStatus(t, path, tracker.KindFeature, 965); it.BatchID != 0 {
		t.Errorf("feature 965 still in batch %d", it.BatchID)
	}
	r = mustRun("feature", "show", "965", "--json")
	var show itemShowExport
	if err := json.Unmarshal([]byte(r.stdout), &show); err != nil {
		t.Fatal(err)
	}
	moves := 0
	for _, h := range show.History {
		if h.Action == db.ActionMove {
			moves++
			if moves == 2 && (h.From != "17" || h.To != "" || h.Reason != "not needed yet") {
				t.Errorf("move audit %+v", h)
			}
		}
	}
	if moves != 2 {
		t.Errorf("%d move audit rows, want 2", moves)
	}

	mustRun("feature", "map", "960", "--target", "store.(*raftLog).step", "--target-pkg", "./store/raft")
	if it := itemStatus(t, path, tracker.KindFeature, 960); it.TargetManual {
		t.Fatal("dry-run map wrote")
	}
	mustRun("feature", "map", "960", "--target", "store.(*raftLog).step", "--target-pkg", "./store/raft", "--execute")
	it := itemStatus(t, path, tracker.KindFeature, 960)
	if it.Target != "store.(*raftLog).step" || it.TargetPkg != "./store/raft" || !it.TargetManual || it.TargetFile != "" {
		t.Errorf("mapped item %+v", it)
	}
	r = mustRun("feature", "map", "960", "--target", "store.(*raftLog).step", "--execute")
	if !strings.Contains(r.stderr, "nothing to change") {
		t.Errorf("re-map: %s", r.stderr)
	}
	r = mustRun("feature", "show", "960")
	if !strings.Contains(r.stdout, "store.(*raftLog).step  (./store/raft)  (not resolved)  [mapped by hand]") {
		t.Errorf("show after map:\n%s", r.stdout)
	}
	checkDB(t, path)
}

func TestReportGenerate(t *testing.T) {
	path := smallDB(t)
	if r := run(t, "feature", "update", "960", "--status", "n_a", "--reason", "raft is out of scope", "--execute", "--db", path); r.code != 0 {
		t.Fatal(r.stderr)
	}
	makeSQLite(t, path, "UPDATE items SET drifted = 1 WHERE kind = 'feature' AND id = 952",
		"UPDATE items SET removed = 1 WHERE kind = 'test' AND id = 400")
	out := filepath.Join(t.TempDir(), "current.md")
	r := run(t, "report", "generate", "--out", out, "--db", path)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	first, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md := string(first)
	for _, want := range []string{
		"# Porting report",
		"- upstream_version: `v2.14.5`",
		"| features | 15 | 6 | 5 | 0 | 1 | 2 | 1 | 5 | 1 | 0 |",
		"| tests | 4 | 1 | 2 | 0 | 1 | 0 | 0 | 1 | 0 | 1 |",
		"| 15 | MsgBlock + ConsumerFileStore | pending | 14 | 0/6 | 0/2 | 0 |",
		"Deferred and in no batch: 5 features, 1 tests.",
		"| feature | 101 | `(*fileStore).State` | verified | 13 | equivalent mutant: accessor |",
		"| debug helper, not ported | 1: 102 | - |",
		"| raft is out of scope | 1: 960 | - |",
		"## Drifted", "| feature | 952 | `(*msgBlock).loadMsgs` | stub | 15 | - |",
		"## Removed upstream", "| test | 400 | `TestFileStoreMsgBlockScan` | deferred | - | - |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q\n%s", want, md)
		}
	}
	// Same database, same bytes.
	if r := run(t, "report", "generate", "--db", path); r.stdout != md {
		t.Errorf("report is not deterministic (stdout differs from file)")
	}
	r = run(t, "report", "summary", "--db", path)
	if !strings.Contains(r.stdout, "features: 1 drifted upstream, 0 removed upstream") ||
		!strings.Contains(r.stdout, "tests: 0 drifted upstream, 1 removed upstream") {
		t.Errorf("summary lacks drift counts:\n%s", r.stdout)
	}
}

// TestGenerateReportScript runs reports/generate-report.sh the way CI does,
// from another directory, on a healthy and on a tampered database.
func TestGenerateReportScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds porttracker; skipped with -short")
	}
	script, err := filepath.Abs("../../reports/generate-report.sh")
	if err != nil {
		t.Fatal(err)
	}
	path := smallDB(t)
	out := filepath.Join(t.TempDir(), "current.md")
	runScript := func() (string, error) {
		c := exec.Command("bash", script)
		c.Dir = t.TempDir()
		c.Env = append(os.Environ(), EnvDB+"="+path, "PORTTRACKER_REPORT_OUT="+out)
		b, err := c.CombinedOutput()
		return string(b), err
	}
	if msg, err := runScript(); err != nil {
		t.Fatalf("generate-report.sh: %v\n%s", err, msg)
	}
	md, err := os.ReadFile(out)
	if err != nil || !strings.Contains(string(md), "| 15 | MsgBlock + ConsumerFileStore | pending | 14 | 0/6 | 0/2 | 0 |") {
		t.Fatalf("report not written: %v\n%s", err, md)
	}
	makeSQLite(t, path, "UPDATE items SET status = 'verified' WHERE kind = 'test' AND id = 368")
	msg, err := runScript()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != ExitRefused || !strings.Contains(msg, "test 368 is verified but its audit history ends at stub") {
		t.Fatalf("tampered db: %v\n%s", err, msg)
	}
	if again, _ := os.ReadFile(out); string(again) != string(md) {
		t.Error("the report was rewritten although db check failed")
	}
}

func TestReportsShowStaleWhenCounted(t *testing.T) {
	path := smallDB(t)
	with := runOpts{stale: map[tracker.Kind]int64{tracker.KindFeature: 2}}
	// report summary fingerprints the sources only when asked.
	if r := runWith(t, with, "report", "summary", "--db", path); r.code != 0 || strings.Contains(r.stdout, "stale") {
		t.Fatalf("summary without --stale: %d\n%s", r.code, r.stdout)
	}
	r := runWith(t, with, "report", "summary", "--stale", "--db", path)
	if r.code != 0 || !strings.Contains(r.stdout, "features: 2 stale (evidence taken on older sources") {
		t.Fatalf("summary: %d\n%s", r.code, r.stdout)
	}
	if strings.Contains(r.stdout, "tests: 0 stale") {
		t.Errorf("zero stale count printed:\n%s", r.stdout)
	}
	r = runWith(t, with, "report", "generate", "--db", path)
	if !strings.Contains(r.stdout, "| removed | stale |") || !strings.Contains(r.stdout, "| 1 | 6 | 0 | 0 | 2 |") {
		t.Errorf("generate lacks the stale column:\n%s", r.stdout)
	}
	r = runWith(t, with, "report", "summary", "--stale", "--db", path, "--json")
	if !strings.Contains(r.stdout, `"stale_checked": true`) || !strings.Contains(r.stdout, `"stale": 2`) {
		t.Errorf("summary JSON:\n%s", r.stdout)
	}
	// Without a counter, stale stays out of the markdown.
	if r := run(t, "report", "generate", "--db", path); strings.Contains(r.stdout, "stale") {
		t.Errorf("stale shown without a counter:\n%s", r.stdout)
	}
}
