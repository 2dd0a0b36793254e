package evidence

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// synthModule writes a module with n features in package ./lib, each with
// its own test, plus a shared table test: the shape of a ported package.
func synthModule(b *testing.B, n int) *Module {
	b.Helper()
	dir := b.TempDir()
	var src, tests strings.Builder
	src.WriteString("package lib\n\n")
	tests.WriteString("package lib\n\nimport \"testing\"\n\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&src, "func F%d(xs []int) int {\n\ttotal := %d\n\tfor _, x := range xs {\n\t\ttotal += x * %d\n\t}\n\treturn total\n}\n\n", i, i, i+1)
		fmt.Fprintf(&tests, "func TestF%d(t *testing.T) {\n\tif got := F%d([]int{1, 2}); got != %d {\n\t\tt.Fatalf(\"F%d = %%d\", got)\n\t}\n}\n\n", i, i, i+3*(i+1), i)
	}
	files := map[string]string{
		"go.mod":          "module synth\n\ngo 1.26\n",
		"lib/lib.go":      src.String(),
		"lib/lib_test.go": tests.String(),
	}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	m, err := OpenModule(dir)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkGutCheck20 is the speed target: gut check per feature,
// amortised over 20 features with -j 2 (<= 3 s each).
func BenchmarkGutCheck20(b *testing.B) {
	const n = 20
	m := synthModule(b, n)
	var targets []GutTarget
	for i := 0; i < n; i++ {
		targets = append(targets, GutTarget{
			Target: Target{Kind: Feature, Pkg: "./lib", Symbol: fmt.Sprintf("lib.F%d", i)},
			Tests:  []TestRef{{Pkg: "./lib", Name: fmt.Sprintf("TestF%d", i)}},
		})
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := m.GutCheck(context.Background(), targets, &GutOptions{Jobs: 2})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Verdict != Pass {
				b.Fatalf("%s: %s %s", r.Target.Symbol, r.Verdict, r.Detail)
			}
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/n, "s/feature")
}

// BenchmarkCoverageLinks40 measures links per test (the target: 300 tests
// in <= 3 min, i.e. <= 0.6 s per test).
func BenchmarkCoverageLinks40(b *testing.B) {
	const n = 40
	m := synthModule(b, n)
	var tests []TestRef
	for i := 0; i < n; i++ {
		tests = append(tests, TestRef{Pkg: "./lib", Name: fmt.Sprintf("TestF%d", i)})
	}
	b.ResetTimer()
	for b.Loop() {
		rep, err := m.CoverageLinks(context.Background(), tests, []string{"./lib"}, &LinkOptions{Jobs: 2})
		if err != nil {
			b.Fatal(err)
		}
		for i, r := range rep.Results {
			if len(r.Features) != 1 || r.Features[0].Symbol != fmt.Sprintf("lib.F%d", i) {
				b.Fatalf("%s: %v %s", r.Test.Name, r.Features, r.Detail)
			}
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N)/n, "s/test")
}

// BenchmarkStubScanStore scans every function and test of ./store and its
// sub-packages (the target: <= 1 s), or of the fixture when store/ is absent.
func BenchmarkStubScanStore(b *testing.B) {
	m, err := OpenModule("..")
	if err != nil {
		b.Fatal(err)
	}
	var targets []Target
	_ = filepath.WalkDir(filepath.Join(m.Dir, "store"), func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == "testdata" {
			return filepath.SkipDir
		}
		idx, err := loadPackage(path)
		if err != nil {
			return nil
		}
		for _, decls := range idx.funcs {
			for _, fd := range decls {
				kind := Feature
				if fd.file.test && strings.HasPrefix(fd.decl.Name.Name, "Test") {
					kind = Test
				}
				targets = append(targets, Target{Kind: kind, Pkg: m.relPkg(path), Symbol: fd.sym.String()})
			}
		}
		return nil
	})
	if len(targets) == 0 {
		m = cheatsModule(b)
		for _, s := range []string{"honest.Sum", "honest.Mean", "cheat.Count", "cheat.(*Counter).Reset"} {
			sym, _ := ParseSymbol(s)
			targets = append(targets, Target{Kind: Feature, Pkg: "./" + sym.Pkg, Symbol: s})
		}
	}
	b.ResetTimer()
	for b.Loop() {
		res, err := m.StubScan(targets, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(res) != len(targets) {
			b.Fatal("short result")
		}
	}
	b.ReportMetric(float64(len(targets)), "symbols")
}
