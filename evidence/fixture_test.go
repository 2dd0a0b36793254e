package evidence

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cheatsModule opens the fixture module under testdata/cheats.
func cheatsModule(t testing.TB) *Module {
	t.Helper()
	m, err := OpenModule(filepath.Join("testdata", "cheats"))
	if err != nil {
		t.Fatal(err)
	}
	m.Timeout = 2 * time.Minute
	return m
}

// upstreamDecl returns the source of a function declared in the fixture's
// upstream package, the way the tracker reads it from file:start-end.
func upstreamDecl(t testing.TB, key string) string {
	t.Helper()
	path := filepath.Join("testdata", "cheats", "upstream", "upstream.go")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || declSymbol("upstream", fd).Key() != key {
			continue
		}
		start := fset.Position(fd.Pos()).Line
		if fd.Doc != nil {
			start = fset.Position(fd.Doc.Pos()).Line
		}
		text, err := ReadLines(path, start, fset.Position(fd.End()).Line)
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	t.Fatalf("no %s in upstream", key)
	return ""
}

// copyTree copies a fixture so a test may edit it.
func copyTree(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
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
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func mustContain(t testing.TB, what, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("%s = %q, want it to contain %q", what, got, want)
	}
}
