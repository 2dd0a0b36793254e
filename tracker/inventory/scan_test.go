package inventory

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func scanFixture(t *testing.T, dir string, opts ScanOptions) *ScanResult {
	t.Helper()
	res, err := Scan(context.Background(), filepath.Join("testdata", dir), opts)
	if err != nil {
		t.Fatalf("Scan(%s): %v", dir, err)
	}
	return res
}

func findSym(res *ScanResult, kind, recv, name string) []Symbol {
	var out []Symbol
	for _, s := range res.Symbols {
		if s.Kind == kind && s.Receiver == recv && s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func TestScanSymbols(t *testing.T) {
	res := scanFixture(t, "basic", ScanOptions{})
	tests := []struct {
		name      string
		kind      string
		recv      string
		sym       string
		file      string
		line      int
		endLine   int
		symkey    string
		signature string
	}{
		{"value receiver", KindFeature, "Block", "Len", "server/store.go", 8, 8, "", "func (b Block) Len() int"},
		{"pointer receiver", KindFeature, "*Block", "Grow", "server/store.go", 10, 12, "", "func (b *Block) Grow(by int)"},
		{"function", KindFeature, "", "newBlock", "server/store.go", 14, 16, "", "func newBlock(n int) *Block"},
		{"generic pointer receiver", KindFeature, "*Tree[T]", "Insert", "server/tree.go", 11, 11, "", "func (t *Tree[T]) Insert(v T)"},
		{"generic value receiver, two params", KindFeature, "Pair[K, V]", "Key", "server/tree.go", 13, 13, "", "func (p Pair[K, V]) Key() K"},
		{"generic function", KindFeature, "", "Map", "server/tree.go", 15, 21, "", "func Map[T, U any](in []T, f func(T) U) []U"},
		{"blank function", KindFeature, "", "_", "server/store.go", 24, 24, "server/store.go#1", "func _()"},
		{"sub-package", KindFeature, "", "Helper", "server/sub/sub.go", 3, 3, "", "func Helper() int"},
		{"test", KindTest, "", "TestBlockGrow", "server/store_test.go", 5, 11, "", "func TestBlockGrow(t *testing.T)"},
		{"build-tagged, windows only", KindFeature, "", "windowsOnly", "server/disk_windows.go", 7, 7, "", "func windowsOnly()"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := findSym(res, tc.kind, tc.recv, tc.sym)
			if len(got) != 1 {
				t.Fatalf("%s %s.%s: found %d symbols, want 1", tc.kind, tc.recv, tc.sym, len(got))
			}
			s := got[0]
			if s.File != tc.file || s.StartLine != tc.line || s.EndLine != tc.endLine {
				t.Errorf("location %s:%d-%d, want %s:%d-%d", s.File, s.StartLine, s.EndLine, tc.file, tc.line, tc.endLine)
			}
			if s.SymKey != tc.symkey {
				t.Errorf("symkey %q, want %q", s.SymKey, tc.symkey)
			}
			if s.Signature != tc.signature {
				t.Errorf("signature %q, want %q", s.Signature, tc.signature)
			}
			if len(s.BodyHash) != 32 {
				t.Errorf("body hash %q is not 128 bits of hex", s.BodyHash)
			}
			if wantPkg := filepath.ToSlash(filepath.Dir(tc.file)); s.Package != wantPkg {
				t.Errorf("package %q, want %q", s.Package, wantPkg)
			}
		})
	}
}

func TestScanInitsAreKeyedByFileAndOrdinal(t *testing.T) {
	res := scanFixture(t, "basic", ScanOptions{})
	got := map[string]int{}
	for _, s := range findSym(res, KindFeature, "", "init") {
		got[s.SymKey] = s.StartLine
	}
	want := map[string]int{"server/store.go#1": 18, "server/store.go#2": 20, "server/tree.go#1": 23}
	if len(got) != len(want) {
		t.Fatalf("inits %v, want %v", got, want)
	}
	for k, line := range want {
		if got[k] != line {
			t.Errorf("init %s at line %d, want %d", k, got[k], line)
		}
	}
}

func TestScanBuildTaggedVariantsAreDistinct(t *testing.T) {
	res := scanFixture(t, "basic", ScanOptions{})
	got := findSym(res, KindFeature, "", "diskFree")
	if len(got) != 2 {
		t.Fatalf("diskFree: %d symbols, want one per build-tagged file", len(got))
	}
	for _, s := range got {
		if s.SymKey != s.File {
			t.Errorf("diskFree in %s has symkey %q, want its file", s.File, s.SymKey)
		}
	}
	if got[0].BodyHash == got[1].BodyHash {
		t.Error("different bodies hash the same")
	}
}

func TestScanTestDetection(t *testing.T) {
	res := scanFixture(t, "basic", ScanOptions{})
	var tests []string
	for _, s := range res.Symbols {
		if s.Kind == KindTest {
			tests = append(tests, s.Name)
		}
		if s.Kind == KindFeature && strings.HasSuffix(s.File, "_test.go") {
			t.Errorf("feature %s from a test file", s.Name)
		}
	}
	if strings.Join(tests, ",") != "TestBlockGrow,TestTree" {
		t.Errorf("tests %v, want TestBlockGrow and TestTree only", tests)
	}
}

func TestScanScope(t *testing.T) {
	res := scanFixture(t, "basic", ScanOptions{})
	for _, s := range res.Symbols {
		if !strings.HasPrefix(s.File, "server/") || strings.Contains(s.File, "testdata") {
			t.Errorf("%s scanned from %s: outside server/ or inside testdata", s.Name, s.File)
		}
	}
	if res.Files != 6 {
		t.Errorf("files %d, want 6", res.Files)
	}
	all := scanFixture(t, "basic", ScanOptions{Include: []string{"server", "other"}})
	if len(findSym(all, KindFeature, "", "OutsideServer")) != 1 {
		t.Error("Include other: OutsideServer not scanned")
	}
}

func TestScanSortedAndDeterministic(t *testing.T) {
	a := scanFixture(t, "basic", ScanOptions{Workers: 1})
	b := scanFixture(t, "basic", ScanOptions{Workers: 4})
	if len(a.Symbols) != len(b.Symbols) {
		t.Fatalf("%d vs %d symbols", len(a.Symbols), len(b.Symbols))
	}
	for i := range a.Symbols {
		if a.Symbols[i] != b.Symbols[i] {
			t.Fatalf("symbol %d differs: %+v vs %+v", i, a.Symbols[i], b.Symbols[i])
		}
		if i > 0 {
			p, c := a.Symbols[i-1], a.Symbols[i]
			if p.File > c.File || (p.File == c.File && p.StartLine >= c.StartLine) {
				t.Fatalf("not sorted at %d: %s:%d then %s:%d", i, p.File, p.StartLine, c.File, c.StartLine)
			}
		}
	}
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestScanSyntaxError(t *testing.T) {
	root := writeTree(t, map[string]string{
		"server/good.go": "package server\n\nfunc Good() int { return 1 }\n",
		"server/bad.go":  "package server\n\nfunc Bad() int {\n\treturn 1 +\n}\n",
	})
	_, err := Scan(context.Background(), root, ScanOptions{})
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a ParseError", err)
	}
	if pe.File != "server/bad.go" || pe.Line != 5 {
		t.Errorf("parse error at %s:%d, want server/bad.go:5", pe.File, pe.Line)
	}
	if !strings.Contains(err.Error(), "server/bad.go:5") || !strings.Contains(err.Error(), "--skip-broken") {
		t.Errorf("message %q should name file:line and the way out", err)
	}

	res, err := Scan(context.Background(), root, ScanOptions{SkipBroken: true})
	if err != nil {
		t.Fatalf("SkipBroken: %v", err)
	}
	if len(res.Broken) != 1 || res.Broken[0].File != "server/bad.go" {
		t.Errorf("broken %v, want server/bad.go", res.Broken)
	}
	if len(res.Symbols) != 1 || res.Symbols[0].Name != "Good" {
		t.Errorf("symbols %v, want Good only", res.Symbols)
	}
}

func TestScanMissingOrEmpty(t *testing.T) {
	tests := []struct {
		name string
		root string
		want string
	}{
		{"missing dir", filepath.Join("testdata", "does-not-exist"), "upstream directory"},
		{"no server dir", filepath.Join("testdata", "basic", "other"), "has no server directory"},
		{"no go files", filepath.Join("testdata", "empty"), "no Go files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Scan(context.Background(), tc.root, ScanOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	_, err := Scan(context.Background(), filepath.Join("testdata", "empty"), ScanOptions{})
	if !errors.Is(err, ErrNoGoFiles) {
		t.Errorf("err = %v, want ErrNoGoFiles", err)
	}
}

func TestBodyHashIgnoresFormatting(t *testing.T) {
	variants := map[string]string{
		"plain":     "package server\n\nfunc f(a, b int) int {\n\tx := a + b\n\treturn g(\n\t\tx,\n\t)\n}\n",
		"one line":  "package server\n\nfunc f(a, b int) int { x := a + b; return g(x) }\n",
		"comments":  "package server\n\n// doc\nfunc f(a, b int) int {\n\t// why\n\tx := a /* inline */ + b\n\n\treturn g(x,\n\t)\n}\n",
		"spacing":   "package server\n\nfunc f(a, b int) int {\n   x:=a+b\n   return g( x )\n}\n",
		"semicolon": "package server\n\nfunc f(a, b int) int {\n\tx := a + b;\n\treturn g(x);\n}\n",
	}
	changed := "package server\n\nfunc f(a, b int) int {\n\tx := a - b\n\treturn g(x)\n}\n"
	hashOf := func(src string) string {
		root := writeTree(t, map[string]string{"server/f.go": src})
		res, err := Scan(context.Background(), root, ScanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return res.Symbols[0].BodyHash
	}
	want := hashOf(variants["plain"])
	for name, src := range variants {
		if got := hashOf(src); got != want {
			t.Errorf("%s: hash %s, want %s (formatting must not count)", name, got, want)
		}
	}
	if hashOf(changed) == want {
		t.Error("a changed operator kept the same hash")
	}
	if hashOf(strings.Replace(variants["plain"], "x :=", "y :=", 1)) == want {
		t.Error("a renamed identifier kept the same hash")
	}
}
