// Package gatestest builds a porting.db over a copy of the evidence cheats
// fixture module, for the gates' and the commands' end-to-end tests.
package gatestest

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// Feature and test IDs of the fixture database.
const (
	// Batch 1 "Honest stats": everything in it can be verified.
	FeatureSum   = 1 // honest.Sum
	FeatureMean  = 2 // honest.Mean
	FeatureReset = 3 // honest.(*Counter).Reset
	// FeatureAbs is covered only by TestAbsCount, a test of the port's own
	// (not an item): it links through port_test_links.
	FeatureAbs = 8 // honest.Abs

	TestSum     = 101 // honest.TestSum
	TestStats   = 102 // honest.TestStats
	TestCounter = 103 // honest.TestCounter

	// Batch 2 "Cheats": each item is refused for its own reason.
	FeatureClamp  = 4 // honest.Clamp: honest, but no test covers it
	FeatureScale  = 5 // cheat.Scale: its test asserts on the input (gut check)
	FeatureCount  = 6 // cheat.Count: returns a constant where upstream computes
	FeatureMedian = 7 // cheat.Median: zero-value return

	TestSumNoAssert = 104 // cheat.TestSumNoAssert: no assertion
	TestScale       = 105 // cheat.TestScale
	TestCount       = 106 // cheat.TestCount
	TestSkipped     = 107 // cheat.TestMeanSkipped: unconditional t.Skip

	BatchHonest = 1
	BatchCheats = 2
)

// Clock is the fixed time the fixture is written at.
func Clock() time.Time { return time.Date(2025, 8, 1, 10, 0, 0, 0, time.UTC) }

// fixtureDir is evidence/testdata/cheats in this repository.
func fixtureDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "evidence", "testdata", "cheats")
}

// New copies the cheats module into a temporary directory, creates
// porting.db at its root and returns the database path. Every item starts
// as stub.
func New(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := copyTree(fixtureDir(), dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "porting.db")
	d, err := db.Create(path, db.WithClock(Clock), db.WithActor("gatestest"), db.WithArgv([]string{"gatestest"}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	lines, err := upstreamLines(filepath.Join(dir, "upstream", "upstream.go"))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Write(context.Background(), func(tx *db.Tx) error {
		for k, v := range map[string]string{
			"target_packages": "./honest ./cheat",
			"upstream_dir":    ".", // the fixture's upstream/ package stands in for upstream
		} {
			if err := tx.SetKV(db.TableConfig, k, v); err != nil {
				return err
			}
		}
		for _, b := range []db.Batch{{ID: BatchHonest, Name: "Honest stats"}, {ID: BatchCheats, Name: "Cheats", DependsOn: []int64{BatchHonest}}} {
			if _, err := tx.CreateBatch(b); err != nil {
				return err
			}
		}
		feature := func(id int64, recv, name, pkg, target string, batch int64) db.Item {
			key := name
			if recv != "" {
				key = recv[1:] + "." + name
			}
			l := lines[key]
			return db.Item{Kind: tracker.KindFeature, ID: id, Package: "upstream", File: "upstream/upstream.go",
				StartLine: l[0], EndLine: l[1], Receiver: recv, Name: name, TargetPkg: pkg, Target: target,
				TargetFile: pkg[2:] + "/x.go", TargetLine: 1, BatchID: batch}
		}
		test := func(id int64, name, pkg string, batch int64) db.Item {
			return db.Item{Kind: tracker.KindTest, ID: id, Package: "upstream", File: "upstream/upstream_test.go",
				StartLine: int(id), EndLine: int(id) + 5, Name: name, TargetPkg: pkg, Target: pkg[2:] + "." + name,
				TargetFile: pkg[2:] + "/x_test.go", TargetLine: 1, BatchID: batch}
		}
		items := []db.Item{
			feature(FeatureSum, "", "Sum", "./honest", "honest.Sum", BatchHonest),
			feature(FeatureMean, "", "Mean", "./honest", "honest.Mean", BatchHonest),
			feature(FeatureReset, "*Counter", "Reset", "./honest", "honest.(*Counter).Reset", BatchHonest),
			feature(FeatureAbs, "", "Abs", "./honest", "honest.Abs", BatchHonest),
			feature(FeatureClamp, "", "Clamp", "./honest", "honest.Clamp", BatchCheats),
			feature(FeatureScale, "", "Scale", "./cheat", "cheat.Scale", BatchCheats),
			feature(FeatureCount, "", "Count", "./cheat", "cheat.Count", BatchCheats),
			feature(FeatureMedian, "", "Median", "./cheat", "cheat.Median", BatchCheats),
			test(TestSum, "TestSum", "./honest", BatchHonest),
			test(TestStats, "TestStats", "./honest", BatchHonest),
			test(TestCounter, "TestCounter", "./honest", BatchHonest),
			test(TestSumNoAssert, "TestSumNoAssert", "./cheat", BatchCheats),
			test(TestScale, "TestScale", "./cheat", BatchCheats),
			test(TestCount, "TestCount", "./cheat", BatchCheats),
			test(TestSkipped, "TestMeanSkipped", "./cheat", BatchCheats),
		}
		for _, it := range items {
			if err := tx.InsertItem(it); err != nil {
				return err
			}
			if err := tx.SetItemStatus(it, db.StatusChange{To: tracker.StatusStub}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// upstreamLines maps "Name" / "Recv.Name" to the [start, end] lines of the
// fixture's upstream declarations (doc comment included).
func upstreamLines(path string) (map[string][2]int, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	out := map[string][2]int{}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		key := fd.Name.Name
		if fd.Recv != nil {
			t := fd.Recv.List[0].Type
			if s, ok := t.(*ast.StarExpr); ok {
				t = s.X
			}
			key = t.(*ast.Ident).Name + "." + key
		}
		start := fd.Pos()
		if fd.Doc != nil {
			start = fd.Doc.Pos()
		}
		out[key] = [2]int{fset.Position(start).Line, fset.Position(fd.End()).Line}
	}
	return out, nil
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// Open opens the fixture database with the fixture clock.
func Open(t testing.TB, path string) *db.DB {
	t.Helper()
	d, err := db.Open(path, db.WithClock(Clock), db.WithActor("gatestest"), db.WithArgv([]string{"gatestest"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}
