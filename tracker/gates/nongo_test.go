package gates_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
	"github.com/porttracker/porttracker/tracker/gates"
)

// TestNonGoPort runs the gates of a .NET-style port: the configured build
// command, the regex stub scan over each item's region of its target file,
// and the test command's JUnit report.
func TestNonGoPort(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "evidence", "testdata", "dotnet", "SequenceSet.cs"))
	if err != nil {
		t.Fatal(err)
	}
	junit, err := os.ReadFile(filepath.Join("..", "..", "evidence", "testdata", "junit", "dotnet.xml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"src/SequenceSet.cs": src, "expected.xml": junit} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := db.Create(filepath.Join(dir, "porting.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	err = d.Write(ctx, func(tx *db.Tx) error {
		for k, v := range map[string]string{
			gates.KeyBuildCommand: `["true"]`,
			gates.KeyTestCommand:  `["cp","expected.xml","report.xml"]`,
			gates.KeyTestReport:   "report.xml",
			gates.KeyStubPatterns: "NotImplementedException|TODO|PLACEHOLDER",
		} {
			if err := tx.SetKV(db.TableConfig, k, v); err != nil {
				return err
			}
		}
		feature := func(id int64, name string, line int) db.Item {
			return db.Item{Kind: tracker.KindFeature, ID: id, Package: "server/avl", File: "server/avl/seqset.go", Name: name,
				TargetPkg: "./src", Target: "Store.SequenceSet." + name, TargetFile: "src/SequenceSet.cs", TargetLine: line}
		}
		test := func(id int64, name string) db.Item {
			return db.Item{Kind: tracker.KindTest, ID: id, Package: "server/avl", File: "server/avl/seqset_test.go", Name: name,
				TargetPkg: "./src", Target: "Store.Tests.SequenceSetTests." + name, TargetFile: "src/SequenceSetTests.cs", TargetLine: 1}
		}
		for _, it := range []db.Item{feature(1, "Insert", 7), feature(2, "Delete", 12), feature(3, "Size", 17), test(10, "Basics"), test(11, "Insert")} {
			if err := tx.InsertItem(it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := gates.NewEngine(ctx, d, gates.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := eng.Run(ctx, gates.Request{Features: []int64{1, 2, 3}, Tests: []int64{10, 11},
		Gates: []evidence.Gate{evidence.GateBuild, evidence.GateStub, evidence.GateTest}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		gate    evidence.Gate
		verdict evidence.Verdict
		detail  string
	}{
		{evidence.GateStub, evidence.Pass, "no stub pattern"},
		{evidence.GateStub, evidence.Fail, `"NotImplementedException" at`},
		{evidence.GateStub, evidence.Fail, `"TODO" at`},
		{evidence.GateTest, evidence.Pass, "passed"},
		{evidence.GateTest, evidence.Fail, "Assert.Equal() Failure"},
	}
	for i, w := range want {
		ir := rep.Items[i]
		o := ir.Gates[w.gate]
		if o == nil || o.Verdict != w.verdict || !strings.Contains(o.Detail, w.detail) {
			t.Errorf("%s %d %s: %+v, want %s %q", ir.Kind, ir.ID, w.gate, o, w.verdict, w.detail)
		}
		if ir.Kind == tracker.KindFeature && !ir.FreshPass(evidence.GateBuild) {
			t.Errorf("feature %d build: %+v", ir.ID, ir.Gates[evidence.GateBuild])
		}
	}
}
