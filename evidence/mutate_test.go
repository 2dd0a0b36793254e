package evidence

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const mutateSrc = `package p

import (
	"fmt"
	str "strings"
	"os"
)

var sep = str.Repeat("-", 1)

// Describe uses fmt only in its body.
func Describe(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return str.Join(parts, sep) + os.Getenv("X")
}

func Pair() (int, error) {
	return 1, nil
}

func Named() (n int, err error) {
	n = 2
	return
}

func Multi() struct {
	A, B int
} {
	return struct {
		A, B int
	}{1, 2}
}

func Effect() {
	println("x")
}

func After() int { return 7 }

func UsesOS() string { return os.Args[0] }
`

func parseMutateSrc(t *testing.T, dir string) *pkgIndex {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "p.go"), []byte(mutateSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	idx, err := loadPackage(dir)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func TestReplaceBodyKeepsLinesAndImports(t *testing.T) {
	dir := t.TempDir()
	idx := parseMutateSrc(t, dir)
	cases := []struct {
		key     string
		body    string
		blanked []string // imports that must become blank
	}{
		{"Describe", "", []string{`_ "fmt"`}},
		{"Pair", "{ var __ptZero0 int; var __ptZero1 error; return __ptZero0, __ptZero1 ", nil},
		{"Named", "{ return ", nil},
		{"Multi", "{ var __ptZero0 struct{A, B int}; return __ptZero0 ", nil},
		{"Effect", "{  \n\n}", nil},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			fd := idx.funcs[c.key][0]
			out := applyEdits(fd.file.src, replaceBodyEdits(idx, fd, nil))
			if got, want := bytes.Count(out, []byte("\n")), strings.Count(mutateSrc, "\n"); got != want {
				t.Fatalf("line count %d, want %d:\n%s", got, want, out)
			}
			if c.key == "Describe" {
				// Describe's body also used str and os, which are used elsewhere.
				c.body = "{ var __ptZero0 string; return __ptZero0 "
			}
			if !bytes.Contains(out, []byte(c.body)) {
				t.Errorf("mutated source lacks %q:\n%s", c.body, out)
			}
			for _, b := range c.blanked {
				if !bytes.Contains(out, []byte(b)) {
					t.Errorf("import not blanked, want %q:\n%s", b, out)
				}
			}
			if c.key != "Describe" && bytes.Contains(out, []byte(`_ "fmt"`)) {
				t.Errorf("fmt blanked though still used:\n%s", out)
			}
			if bytes.Contains(out, []byte(`_ "os"`)) || bytes.Contains(out, []byte(`_ "strings"`)) {
				t.Errorf("an import still used elsewhere was blanked:\n%s", out)
			}
			// The result parses and every later declaration kept its line.
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "p.go", out, 0)
			if err != nil {
				t.Fatalf("mutant does not parse: %v\n%s", err, out)
			}
			for _, d := range f.Decls {
				if fd2, ok := d.(*ast.FuncDecl); ok {
					orig := idx.funcs[fd2.Name.Name][0]
					if got, want := fset.Position(fd2.Pos()).Line, idx.fset.Position(orig.decl.Pos()).Line; got != want {
						t.Errorf("%s moved from line %d to %d", fd2.Name.Name, want, got)
					}
				}
			}
		})
	}
}

func TestSchemataGuardKeepsLines(t *testing.T) {
	dir := t.TempDir()
	idx := parseMutateSrc(t, dir)
	var muts []*mutation
	for i, key := range []string{"Describe", "Pair", "Named", "Multi", "Effect", "After"} {
		muts = append(muts, &mutation{id: i + 1, idx: idx, fd: idx.funcs[key][0]})
	}
	ov, err := schemataOverlay(t.TempDir(), muts)
	if err != nil {
		t.Fatal(err)
	}
	out := ov.replace[filepath.Join(dir, "p.go")]
	if bytes.Count(out, []byte("\n")) != strings.Count(mutateSrc, "\n") {
		t.Fatalf("line count changed:\n%s", out)
	}
	for _, want := range []string{
		"{ if __ptMutant == 1 { var __ptZero0 string; return __ptZero0 };",
		"{ if __ptMutant == 3 { return };",
		"{ if __ptMutant == 5 { return };",
		"func After() int { if __ptMutant == 6 { var __ptZero0 int; return __ptZero0 }; return 7 }",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("schemata lack %q:\n%s", want, out)
		}
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "p.go", out, 0); err != nil {
		t.Fatalf("schemata do not parse: %v\n%s", err, out)
	}
	if _, ok := ov.replace[filepath.Join(dir, mutantFile)]; !ok {
		t.Error("no guard variable file in the overlay")
	}
}
