package evidence

import (
	"errors"
	"fmt"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

// pkgIndex is one package directory parsed with comments: its files for the
// current platform (build constraints applied), including _test.go files of
// the package and of its external test package.
type pkgIndex struct {
	dir   string
	name  string // package name (without _test)
	fset  *token.FileSet
	files []*srcFile
	// funcs maps Symbol.Key() to its declarations (one, unless the
	// package does not build).
	funcs map[string][]*funcDecl
}

type srcFile struct {
	path string // absolute
	src  []byte
	ast  *ast.File
	test bool // a _test.go file
	// imports maps the name each import is referred to by (explicit name or
	// the last path element, version suffixes removed) to its path.
	imports map[string]string
}

type funcDecl struct {
	decl *ast.FuncDecl
	file *srcFile
	sym  Symbol
}

// loadPackage parses the Go files of dir that build on this platform.
func loadPackage(dir string) (*pkgIndex, error) {
	bp, err := build.Default.ImportDir(dir, build.ImportComment)
	var noGo *build.NoGoError
	if err != nil && !errors.As(err, &noGo) {
		// A package with a syntax error or mixed package names still
		// gets a scan of what can be parsed, file by file below.
		if bp == nil || len(bp.GoFiles)+len(bp.TestGoFiles)+len(bp.XTestGoFiles)+len(bp.InvalidGoFiles) == 0 {
			if _, statErr := os.Stat(dir); statErr != nil {
				return nil, fmt.Errorf("evidence: package dir: %w", statErr)
			}
		}
	}
	idx := &pkgIndex{dir: dir, fset: token.NewFileSet(), funcs: map[string][]*funcDecl{}}
	if bp == nil {
		return idx, nil
	}
	idx.name = bp.Name
	add := func(names []string, test bool) error {
		for _, n := range names {
			path := filepath.Join(dir, n)
			src, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("evidence: %w", err)
			}
			f, err := parser.ParseFile(idx.fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
			if f == nil {
				return fmt.Errorf("evidence: parse %s: %w", path, err)
			}
			sf := &srcFile{path: path, src: src, ast: f, test: test, imports: fileImports(f)}
			idx.files = append(idx.files, sf)
			if idx.name == "" {
				idx.name = strings.TrimSuffix(f.Name.Name, "_test")
			}
			for _, d := range f.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok {
					continue
				}
				sym := declSymbol(f.Name.Name, fd)
				idx.funcs[sym.Key()] = append(idx.funcs[sym.Key()], &funcDecl{decl: fd, file: sf, sym: sym})
			}
		}
		return nil
	}
	for _, g := range []struct {
		names []string
		test  bool
	}{{bp.GoFiles, false}, {bp.CgoFiles, false}, {bp.TestGoFiles, true}, {bp.XTestGoFiles, true}} {
		if err := add(g.names, g.test); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// lookup finds the declaration a symbol names, or nil.
func (p *pkgIndex) lookup(sym Symbol) *funcDecl {
	ds := p.funcs[sym.Key()]
	if len(ds) == 0 {
		return nil
	}
	return ds[0]
}

func fileImports(f *ast.File) map[string]string {
	m := make(map[string]string, len(f.Imports))
	for _, spec := range f.Imports {
		path := strings.Trim(spec.Path.Value, "\"`")
		name := guessPackageName(path)
		if spec.Name != nil {
			name = spec.Name.Name
		}
		m[name] = path
	}
	return m
}

// guessPackageName is the conventional name of an import path: its last
// element without a major-version suffix or a "go-" prefix. Only used where a
// wrong guess is harmless (deciding whether an identifier is an import).
func guessPackageName(path string) string {
	elems := strings.Split(path, "/")
	last := elems[len(elems)-1]
	if len(elems) > 1 && len(last) > 1 && last[0] == 'v' && strings.Trim(last[1:], "0123456789") == "" {
		last = elems[len(elems)-2]
	}
	if i := strings.IndexByte(last, '.'); i > 0 {
		last = last[:i]
	}
	last = strings.TrimPrefix(last, "go-")
	return strings.ReplaceAll(last, "-", "_")
}

// text returns the source text of a node.
func (f *srcFile) text(fset *token.FileSet, from, to token.Pos) []byte {
	tf := fset.File(from)
	return f.src[tf.Offset(from):tf.Offset(to)]
}

func (p *pkgIndex) offset(pos token.Pos) int { return p.fset.File(pos).Offset(pos) }
