package evidence

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MutantEnv is the environment variable a schemata test binary reads to
// pick the active mutant (unset or 0: none).
const MutantEnv = "PORTTRACKER_MUTANT"

// mutantVar is the package-level guard variable schemata add. Identifiers
// starting with "__pt" do not occur in ported code.
const mutantVar = "__ptMutant"

// mutantFile is the file schemata add to every mutated package.
const mutantFile = "zz_porttracker_mutant.go"

// zeroReturn is the body a hollowed function gets: `var __ptZero0 T;
// return __ptZero0` (one var per result), a bare `return` with named results,
// "" when it returns nothing.
func zeroReturn(fd *ast.FuncDecl) string {
	res := fd.Type.Results
	if res == nil || len(res.List) == 0 {
		return ""
	}
	if len(res.List[0].Names) > 0 {
		return "return"
	}
	var decls, names []string
	for i, f := range res.List {
		name := "__ptZero" + strconv.Itoa(i)
		// ExprString prints on one line, so the line count is kept even for
		// a multi-line struct or func result type.
		decls = append(decls, fmt.Sprintf("var %s %s", name, types.ExprString(f.Type)))
		names = append(names, name)
	}
	return strings.Join(decls, "; ") + "; return " + strings.Join(names, ", ")
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

func applyEdits(src []byte, edits []edit) []byte {
	sort.Slice(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var b strings.Builder
	b.Grow(len(src) + 256)
	last := 0
	for _, e := range edits {
		b.Write(src[last:e.start])
		b.WriteString(e.text)
		last = e.end
	}
	b.Write(src[last:])
	return []byte(b.String())
}

// replaceBodyEdits hollows fd: its body becomes the zero return, on the
// opening brace's line, followed by as many newlines as the body had so every
// later line keeps its number. Imports that only the old body used are
// turned into blank imports (`_ "path"`), which keeps their init side
// effects and the line count.
func replaceBodyEdits(idx *pkgIndex, fd *funcDecl, pkgNames map[string]string) []edit {
	body := fd.decl.Body
	lb, rb := idx.offset(body.Lbrace), idx.offset(body.Rbrace)
	newlines := strings.Count(string(fd.file.src[lb:rb]), "\n")
	edits := []edit{{start: lb, end: rb + 1, text: "{ " + zeroReturn(fd.decl) + " " + strings.Repeat("\n", newlines) + "}"}}
	inside, outside := selectorUses(fd.file.ast, body)
	for _, spec := range fd.file.ast.Imports {
		path, _ := strconv.Unquote(spec.Path.Value)
		name := pkgNames[path]
		if name == "" {
			name = guessPackageName(path)
		}
		if spec.Name != nil {
			name = spec.Name.Name
		}
		if name == "_" || name == "." || !inside[name] || outside[name] {
			continue
		}
		if spec.Name != nil {
			edits = append(edits, edit{start: idx.offset(spec.Name.Pos()), end: idx.offset(spec.Name.End()), text: "_"})
		} else {
			p := idx.offset(spec.Path.Pos())
			edits = append(edits, edit{start: p, end: p, text: "_ "})
		}
	}
	return edits
}

// selectorUses collects the identifiers used as X in X.Sel inside and
// outside body (import declarations excluded).
func selectorUses(f *ast.File, body *ast.BlockStmt) (inside, outside map[string]bool) {
	inside, outside = map[string]bool{}, map[string]bool{}
	for _, d := range f.Decls {
		if gd, ok := d.(*ast.GenDecl); ok && gd.Tok.String() == "import" {
			continue
		}
		ast.Inspect(d, func(n ast.Node) bool {
			if n == body {
				ast.Inspect(body, func(n ast.Node) bool {
					if sel, ok := n.(*ast.SelectorExpr); ok {
						if id, ok := sel.X.(*ast.Ident); ok {
							inside[id.Name] = true
						}
					}
					return true
				})
				return false
			}
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok {
					outside[id.Name] = true
				}
			}
			return true
		})
	}
	return inside, outside
}

// guardEdit is the schemata form of a mutant: on the opening brace's line,
// `if __ptMutant == id { <zero return> };` runs before the original body,
// which stays (so no import becomes unused and no line moves).
func guardEdit(idx *pkgIndex, fd *funcDecl, id int) edit {
	lb := idx.offset(fd.decl.Body.Lbrace)
	ret := zeroReturn(fd.decl)
	if ret == "" {
		ret = "return"
	}
	return edit{start: lb + 1, end: lb + 1, text: fmt.Sprintf(" if %s == %d { %s };", mutantVar, id, ret)}
}

// mutantVarFile declares the guard variable, read once from MutantEnv. The
// imports are renamed so they cannot collide with package-level names.
func mutantVarFile(pkgName string) []byte {
	return fmt.Appendf(nil, `package %s

import (
	__ptos "os"
	__ptstrconv "strconv"
)

// %s selects the active mutant of a porttracker gut check (0: none).
var %s = func() int {
	n, _ := __ptstrconv.Atoi(__ptos.Getenv(%q))
	return n
}()
`, pkgName, mutantVar, mutantVar, MutantEnv)
}

// overlay is a set of file replacements for go build -overlay.
type overlay struct {
	dir     string            // where replacement files are written
	replace map[string][]byte // original path -> new content
}

func newOverlay(dir string) *overlay { return &overlay{dir: dir, replace: map[string][]byte{}} }

// write stores the replacement files and the overlay JSON, returning its path.
func (o *overlay) write(name string) (string, error) {
	files := map[string]string{}
	i := 0
	paths := make([]string, 0, len(o.replace))
	for p := range o.replace {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		i++
		dst := filepath.Join(o.dir, fmt.Sprintf("%s-%d-%s", name, i, filepath.Base(p)))
		if err := os.WriteFile(dst, o.replace[p], 0o644); err != nil {
			return "", fmt.Errorf("evidence: overlay: %w", err)
		}
		files[p] = dst
	}
	data, err := json.Marshal(struct{ Replace map[string]string }{files})
	if err != nil {
		return "", err
	}
	path := filepath.Join(o.dir, name+".overlay.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("evidence: overlay: %w", err)
	}
	return path, nil
}

// mutation is one target function and how it is hollowed.
type mutation struct {
	id  int
	idx *pkgIndex
	fd  *funcDecl
}

// schemataOverlay builds one overlay in which every mutation is guarded by
// its id.
func schemataOverlay(dir string, muts []*mutation) (*overlay, error) {
	ov := newOverlay(dir)
	byFile := map[*srcFile][]edit{}
	pkgs := map[*pkgIndex]bool{}
	for _, mu := range muts {
		if mu.fd.file.ast.Name.Name != mu.idx.name {
			return nil, fmt.Errorf("evidence: %s is in package %s: schemata mutate package %s only",
				mu.fd.sym, mu.fd.file.ast.Name.Name, mu.idx.name)
		}
		byFile[mu.fd.file] = append(byFile[mu.fd.file], guardEdit(mu.idx, mu.fd, mu.id))
		pkgs[mu.idx] = true
	}
	for f, edits := range byFile {
		ov.replace[f.path] = applyEdits(f.src, edits)
	}
	for idx := range pkgs {
		ov.replace[filepath.Join(idx.dir, mutantFile)] = mutantVarFile(idx.name)
	}
	return ov, nil
}

// replaceOverlay builds the overlay of a single mutant with its body replaced.
func replaceOverlay(dir string, mu *mutation, pkgNames map[string]string) *overlay {
	ov := newOverlay(dir)
	ov.replace[mu.fd.file.path] = applyEdits(mu.fd.file.src, replaceBodyEdits(mu.idx, mu.fd, pkgNames))
	return ov
}
