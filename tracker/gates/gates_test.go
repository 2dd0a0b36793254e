package gates_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/gates"
	"github.com/porttracker/porttracker/tracker/gates/gatestest"
	"github.com/porttracker/porttracker/tracker/workflow"
)

func evidenceCount(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	err := d.Read(context.Background(), func(tx *db.Tx) error {
		return tx.QueryRow(`SELECT count(*) FROM evidence`).Scan(&n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func check(t *testing.T, gk tracker.Gatekeeper, kind tracker.Kind, to tracker.Status, ids ...int64) []tracker.GateVerdict {
	t.Helper()
	v, err := gk.Check(context.Background(), kind, ids, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != len(ids) {
		t.Fatalf("%d verdicts for %d IDs", len(v), len(ids))
	}
	for _, x := range v {
		t.Logf("%s %d -> %s: ok=%v missing=%v evidence=%v: %s", kind, x.ID, to, x.OK, x.Missing, x.EvidenceIDs, x.Detail)
	}
	return v
}

func TestGatekeeper(t *testing.T) {
	d := gatestest.Open(t, gatestest.New(t))
	gk := gates.NewGatekeeper(d, gates.Options{Jobs: 2})

	// complete: build + stub, per feature.
	v := check(t, gk, tracker.KindFeature, tracker.StatusComplete,
		gatestest.FeatureSum, gatestest.FeatureMean, gatestest.FeatureReset, gatestest.FeatureCount, gatestest.FeatureMedian)
	for i, want := range []bool{true, true, true, false, false} {
		if v[i].OK != want {
			t.Errorf("feature %d complete: OK=%v (%s), want %v", v[i].ID, v[i].OK, v[i].Detail, want)
		}
	}
	if len(v[0].EvidenceIDs) != 2 {
		t.Errorf("complete cites evidence %v, want the build and stub rows", v[0].EvidenceIDs)
	}
	if !strings.Contains(v[3].Detail, "constants where upstream computes") || !slices.Equal(v[3].Missing, []string{"stub"}) {
		t.Errorf("cheat.Count: %+v", v[3])
	}
	if !strings.Contains(v[4].Detail, "only returns zero values") {
		t.Errorf("cheat.Median: %+v", v[4])
	}

	// Fresh passing evidence is reused: asking again runs nothing.
	before := evidenceCount(t, d)
	v = check(t, gk, tracker.KindFeature, tracker.StatusComplete, gatestest.FeatureSum)
	if !v[0].OK || evidenceCount(t, d) != before {
		t.Errorf("reuse: OK=%v, evidence rows %d -> %d", v[0].OK, before, evidenceCount(t, d))
	}

	// verified: links, linked tests pass, gut check caught.
	v = check(t, gk, tracker.KindFeature, tracker.StatusVerified,
		gatestest.FeatureSum, gatestest.FeatureReset, gatestest.FeatureAbs, gatestest.FeatureClamp, gatestest.FeatureScale)
	want := []struct {
		ok      bool
		missing []string
		detail  string
	}{
		{true, nil, "fresh evidence"},
		{true, nil, "fresh evidence"},
		{true, nil, "fresh evidence"}, // through the port's own TestAbsCount
		{false, []string{"links", "test", "gut"}, "no test covers it"},
		{false, []string{"gut"}, "survived"},
	}
	for i, w := range want {
		if v[i].OK != w.ok || !slices.Equal(v[i].Missing, w.missing) || !strings.Contains(v[i].Detail, w.detail) {
			t.Errorf("feature %d verified: %+v, want OK=%v missing=%v detail~%q", v[i].ID, v[i], w.ok, w.missing, w.detail)
		}
	}

	// Tests: complete = asserts and not skipped; verified = passes fresh.
	v = check(t, gk, tracker.KindTest, tracker.StatusComplete, gatestest.TestSum, gatestest.TestSumNoAssert, gatestest.TestSkipped)
	if !v[0].OK || v[1].OK || v[2].OK || !strings.Contains(v[1].Detail, "no assertion") || !strings.Contains(v[2].Detail, "skipped unconditionally") {
		t.Errorf("tests complete: %+v", v)
	}
	v = check(t, gk, tracker.KindTest, tracker.StatusVerified, gatestest.TestStats, gatestest.TestScale)
	if !v[0].OK || !v[1].OK {
		t.Errorf("tests verified: %+v", v)
	}

	// The links table now holds the coverage links.
	err := d.Read(context.Background(), func(tx *db.Tx) error {
		links, err := tx.ItemLinks(tracker.KindFeature, gatestest.FeatureSum)
		if err != nil {
			return err
		}
		var tests []int64
		for _, l := range links {
			if l.Source == "coverage" {
				tests = append(tests, l.TestID)
			}
		}
		if !slices.Equal(tests, []int64{gatestest.TestSum, gatestest.TestStats}) {
			t.Errorf("honest.Sum coverage links %v", tests)
		}
		var port []string
		rows, err := tx.Query(`SELECT test_name FROM port_test_links WHERE feature_id = ? ORDER BY test_name`, gatestest.FeatureAbs)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			port = append(port, n)
		}
		if !slices.Equal(port, []string{"TestAbsCount"}) {
			t.Errorf("honest.Abs port test links %v", port)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := d.Check(context.Background()); err != nil || len(problems) > 0 {
		t.Errorf("db check: %v %q", err, problems)
	}
}

func TestEvidencePruned(t *testing.T) {
	d := gatestest.Open(t, gatestest.New(t))
	eng, err := gates.NewEngine(context.Background(), d, gates.Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := eng.Run(context.Background(), gates.Request{Features: []int64{gatestest.FeatureSum}, Gates: []evidence.Gate{evidence.GateStub}}); err != nil {
			t.Fatal(err)
		}
	}
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		rows, err := gates.History(tx, tracker.KindFeature, gatestest.FeatureSum, "stub", true)
		if err != nil {
			return err
		}
		if len(rows) != gates.DefaultKeep {
			t.Errorf("%d stub rows kept, want %d", len(rows), gates.DefaultKeep)
		}
		if !strings.Contains(string(rows[0].Log), "stub scan of honest.Sum") {
			t.Errorf("log %q", rows[0].Log)
		}
		var logs int
		if err := tx.QueryRow(`SELECT count(*) FROM evidence_logs`).Scan(&logs); err != nil {
			return err
		}
		if logs != gates.DefaultKeep {
			t.Errorf("%d logs kept, want %d (pruned rows' logs are dropped)", logs, gates.DefaultKeep)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaleEvidence: evidence taken, then the code changes: a promotion to
// verified is refused (the gates run again and fail) and --stale demotes
// what was verified.
func TestStaleEvidence(t *testing.T) {
	path := gatestest.New(t)
	d := gatestest.Open(t, path)
	ctx := context.Background()
	gk := gates.NewGatekeeper(d, gates.Options{Jobs: 2})
	for _, id := range []int64{gatestest.FeatureSum, gatestest.FeatureMean} {
		for _, to := range []tracker.Status{tracker.StatusComplete, tracker.StatusVerified} {
			if to == tracker.StatusVerified && id == gatestest.FeatureMean {
				continue // Mean stays complete
			}
			_, err := workflow.UpdateStatus(ctx, d, gk, workflow.StatusRequest{Kind: tracker.KindFeature, IDs: []int64{id}, To: to, Execute: true}, workflow.Hooks{})
			if err != nil {
				t.Fatalf("feature %d -> %s: %v", id, to, err)
			}
		}
	}

	eng, err := gates.NewEngine(ctx, d, gates.Options{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := eng.Recheck(ctx, true); err != nil || len(rep.Demotions) != 0 || len(rep.Report.Items) != 0 {
		t.Fatalf("nothing changed, yet recheck: %+v %v", rep, err)
	}
	if n, err := eng.CountStale(ctx); err != nil || n[tracker.KindFeature] != 0 || n[tracker.KindTest] != 0 {
		t.Fatalf("nothing changed, yet stale counts %v %v", n, err)
	}

	// Break Sum: the tests that cover it now fail.
	file := filepath.Join(filepath.Dir(path), "honest", "stats.go")
	src, _ := os.ReadFile(file)
	broken := strings.Replace(string(src), "total += x", "total += x + 1", 1)
	if broken == string(src) {
		t.Fatal("fixture changed: cannot break Sum")
	}
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}

	// Mean (complete, build and stub still pass) may not be promoted.
	_, err = workflow.UpdateStatus(ctx, d, gk, workflow.StatusRequest{Kind: tracker.KindFeature, IDs: []int64{gatestest.FeatureMean},
		To: tracker.StatusVerified, Execute: true}, workflow.Hooks{})
	if err == nil || !strings.Contains(err.Error(), "test fail") {
		t.Errorf("verified after the code broke: %v", err)
	}

	eng, err = gates.NewEngine(ctx, d, gates.Options{Jobs: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Sum's evidence predates the edit; Mean's build and stub were taken
	// again by the refused promotion above, so only Sum is stale.
	if n, err := eng.CountStale(ctx); err != nil || n[tracker.KindFeature] != 1 {
		t.Fatalf("stale counts after the edit: %v %v, want 1 feature", n, err)
	}
	dry, err := eng.Recheck(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Demotions) != 1 || dry.Executed {
		t.Fatalf("dry run demotions %+v", dry.Demotions)
	}
	if got := status(t, d, gatestest.FeatureSum); got != tracker.StatusVerified {
		t.Fatalf("dry run wrote: Sum is %s", got)
	}
	rep, err := eng.Recheck(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Demotions) != 1 || rep.Demotions[0].ID != gatestest.FeatureSum || rep.Demotions[0].To != tracker.StatusComplete {
		t.Fatalf("demotions %+v", rep.Demotions)
	}
	if got := status(t, d, gatestest.FeatureSum); got != tracker.StatusComplete {
		t.Errorf("Sum is %s after --stale, want complete", got)
	}
	err = d.Read(ctx, func(tx *db.Tx) error {
		rows, err := tx.ItemAudit("feature", gatestest.FeatureSum)
		if err != nil {
			return err
		}
		last := rows[len(rows)-1]
		if last.From != "verified" || last.To != "complete" || !strings.Contains(last.Reason, "demoted by evidence run --stale") || last.EvidenceIDs == "[]" {
			t.Errorf("demotion audit row %+v", last)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := d.Check(ctx); err != nil || len(problems) > 0 {
		t.Errorf("db check: %v %q", err, problems)
	}
}

func status(t *testing.T, d *db.DB, id int64) tracker.Status {
	t.Helper()
	var st tracker.Status
	err := d.Read(context.Background(), func(tx *db.Tx) error {
		it, err := tx.GetItem(tracker.KindFeature, id)
		st = it.Status
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestNoModuleRefusesHonestly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "porting.db")
	d, err := db.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Write(context.Background(), func(tx *db.Tx) error {
		return tx.InsertItem(db.Item{Kind: tracker.KindFeature, ID: 9, Package: "server", File: "server/x.go", Name: "x", TargetPkg: "./store", Target: "store.x"})
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := gates.NewGatekeeper(d, gates.Options{}).Check(context.Background(), tracker.KindFeature, []int64{9}, tracker.StatusComplete)
	if err != nil {
		t.Fatal(err)
	}
	if v[0].OK || !strings.Contains(v[0].Detail, "no build/stub evidence: run porttracker evidence run --features 9") ||
		!strings.Contains(v[0].Detail, "the gates cannot run") {
		t.Errorf("verdict %+v", v[0])
	}
}

func TestConfigKeys(t *testing.T) {
	for _, c := range []struct {
		key, value string
		ok         bool
	}{
		{"target_packages", "./store/... ./store/avl", true},
		{"target_packages", "store", false},
		{"gate_timeout", "5m", true},
		{"gate_timeout", "soon", false},
		{"jobs", "-1", false},
		{"build_command", `["dotnet","build"]`, true},
		{"build_command", "dotnet build", false},
		{"stub_patterns", "NotImplementedException|TODO", true},
		{"stub_patterns", "(", false},
		{"test_flags:./store", "-race", true},
		{"test_flags:store", "-race", false},
		{"no_such_key", "x", false},
	} {
		err := gates.CheckKey(c.key, c.value)
		if (err == nil) != c.ok {
			t.Errorf("CheckKey(%q, %q) = %v, want ok=%v", c.key, c.value, err, c.ok)
		}
	}
}

// TestEditDuringRunIsNeverFresh: a verdict taken while someone edits its
// sources cannot be reused.
func TestEditDuringRunIsNeverFresh(t *testing.T) {
	path := gatestest.New(t)
	d := gatestest.Open(t, path)
	ctx := context.Background()
	file := filepath.Join(filepath.Dir(path), "honest", "stats.go")
	edited := false
	eng, err := gates.NewEngine(ctx, d, gates.Options{Progress: func(p gates.Progress) {
		if p.Stage == "stub" && !edited {
			edited = true
			f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.WriteString("\n// edited while the stub scan ran\n")
			f.Close()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	req := gates.Request{Features: []int64{gatestest.FeatureSum}, Gates: []evidence.Gate{evidence.GateStub}}
	rep, err := eng.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	ir := rep.Items[0]
	if ir.FreshPass(evidence.GateStub) || !strings.Contains(ir.Gates[evidence.GateStub].Detail, "sources changed while the gate ran") {
		t.Fatalf("evidence taken during an edit counts: %+v", ir.Gates[evidence.GateStub])
	}
	before := evidenceCount(t, d)
	eng, err = gates.NewEngine(ctx, d, gates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = eng.Run(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Items[0].FreshPass(evidence.GateStub) || evidenceCount(t, d) != before+1 {
		t.Errorf("the next run did not re-check: %+v, rows %d -> %d", rep.Items[0].Gates[evidence.GateStub], before, evidenceCount(t, d))
	}
}

// TestHungTestIsKilled: a test that never returns is killed after the gate
// timeout, recorded as failed, and the database stays consistent.
func TestHungTestIsKilled(t *testing.T) {
	d := gatestest.Open(t, gatestest.New(t))
	ctx := context.Background()
	err := d.Write(ctx, func(tx *db.Tx) error {
		if err := tx.SetKV(db.TableConfig, gates.KeyTimeout, "5s"); err != nil {
			return err
		}
		return tx.InsertItem(db.Item{Kind: tracker.KindTest, ID: 300, Package: "upstream", File: "upstream/upstream_test.go",
			Name: "TestHang", TargetPkg: "./gates", Target: "gates.TestHang", TargetFile: "gates/gates_test.go", TargetLine: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := gates.NewEngine(ctx, d, gates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng.Module().Env = []string{"GATES_HANG=1"}
	rep, err := eng.Run(ctx, gates.Request{Tests: []int64{300}, Gates: []evidence.Gate{evidence.GateTest}})
	if err != nil {
		t.Fatal(err)
	}
	o := rep.Items[0].Gates[evidence.GateTest]
	if o.Verdict != evidence.Fail || o.EvidenceID == 0 {
		t.Fatalf("hung test: %+v", o)
	}
	t.Logf("hung test: %s", o.Detail)
	if problems, err := d.Check(ctx); err != nil || len(problems) > 0 {
		t.Errorf("db check: %v %q", err, problems)
	}
}
