package inventory

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// PackageMap maps an upstream package directory to its target package in this
// repository: server -> ./store, server/X -> ./store/X.
type PackageMap struct {
	Upstream string // "server"
	Target   string // "./store"
}

// DefaultPackageMap is the mapping of this port (COMMON.md).
var DefaultPackageMap = PackageMap{Upstream: "server", Target: "./store"}

// TargetPackage returns the target package of an upstream package, or "" when
// it lies outside the mapping.
func (m PackageMap) TargetPackage(upstreamPkg string) string {
	switch {
	case upstreamPkg == m.Upstream:
		return m.Target
	case strings.HasPrefix(upstreamPkg, m.Upstream+"/"):
		return m.Target + upstreamPkg[len(m.Upstream):]
	}
	return ""
}

// TargetSymbol is one declaration found in a target package.
type TargetSymbol struct {
	Package string // "./store/avl"
	Name    string // "avl.(*SequenceSet).Insert", "store.TestFileStoreCompact"
	File    string // repository-relative, slash-separated
	Line    int
}

type targetPkg struct {
	funcs   map[string]TargetSymbol // free functions
	methods map[string]TargetSymbol // "Base.name"
	tests   map[string]TargetSymbol // TestXxx in _test.go files
}

// TargetIndex holds the declarations of the target packages.
type TargetIndex struct {
	pkgs map[string]*targetPkg // by "./store/avl"
}

// IndexTargets parses the packages matched by pattern ("./store/..." or
// "./store") under repoRoot, without type-checking.
func IndexTargets(repoRoot, pattern string) (*TargetIndex, error) {
	recursive := strings.HasSuffix(pattern, "/...")
	base := strings.TrimSuffix(pattern, "/...")
	base = "./" + strings.TrimPrefix(path.Clean(strings.TrimPrefix(base, "./")), "./")
	idx := &TargetIndex{pkgs: map[string]*targetPkg{}}
	dir := filepath.Join(repoRoot, filepath.FromSlash(base))
	if _, err := os.Stat(dir); err != nil {
		return nil, tracker.Usagef("target %s: %v", pattern, err)
	}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if p != dir && (!recursive || name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(repoRoot, p)
		if err != nil {
			return err
		}
		return idx.addDir(repoRoot, "./"+filepath.ToSlash(rel))
	})
	if err != nil {
		return nil, fmt.Errorf("inventory: indexing targets: %w", err)
	}
	return idx, nil
}

func (idx *TargetIndex) addDir(repoRoot, pkg string) error {
	dir := filepath.Join(repoRoot, filepath.FromSlash(pkg))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	tp := &targetPkg{funcs: map[string]TargetSymbol{}, methods: map[string]TargetSymbol{}, tests: map[string]TargetSymbol{}}
	pkgName := ""
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") {
			continue
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			// A file being written by someone else may not parse yet; its
			// symbols simply do not resolve this time.
			continue
		}
		isTest := strings.HasSuffix(n, "_test.go")
		name := f.Name.Name
		if !isTest || pkgName == "" {
			pkgName = strings.TrimSuffix(name, "_test")
		}
		rel := path.Join(strings.TrimPrefix(pkg, "./"), n)
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			sym := TargetSymbol{Package: pkg, File: rel, Line: fset.Position(fd.Pos()).Line}
			switch {
			case isTest:
				if IsTestFunc(fd) {
					sym.Name = fd.Name.Name
					tp.tests[fd.Name.Name] = sym
				}
			case fd.Recv != nil && len(fd.Recv.List) > 0:
				recv := fd.Recv.List[0].Type
				b := baseName(typeString(recv))
				if _, ptr := recv.(*ast.StarExpr); ptr {
					sym.Name = "(*" + b + ")." + fd.Name.Name
				} else {
					sym.Name = b + "." + fd.Name.Name
				}
				tp.methods[b+"."+fd.Name.Name] = sym
			default:
				sym.Name = fd.Name.Name
				tp.funcs[fd.Name.Name] = sym
			}
		}
	}
	if pkgName == "" {
		return nil
	}
	for _, m := range []map[string]TargetSymbol{tp.funcs, tp.methods, tp.tests} {
		for k, s := range m {
			s.Name = pkgName + "." + s.Name
			m[k] = s
		}
	}
	idx.pkgs[pkg] = tp
	return nil
}

// Find returns the target of an upstream item in the target package: the
// method with the same receiver base type and name, the function with the
// same name, or the test with the same name.
func (idx *TargetIndex) Find(targetPkg string, kind tracker.Kind, receiver, name string) (TargetSymbol, bool) {
	tp := idx.pkgs[targetPkg]
	if tp == nil || name == "init" || name == "_" {
		// init and _ are anonymous in effect: a name cannot tell them apart.
		return TargetSymbol{}, false
	}
	if kind == tracker.KindTest {
		s, ok := tp.tests[name]
		return s, ok
	}
	if receiver != "" {
		s, ok := tp.methods[receiverBase(receiver)+"."+name]
		return s, ok
	}
	s, ok := tp.funcs[name]
	return s, ok
}

// receiverBase strips pointer and type parameters: "*SubjectTree[T]" -> "SubjectTree".
func receiverBase(recv string) string {
	recv = strings.TrimLeft(recv, "*( ")
	if i := strings.IndexAny(recv, "[)"); i >= 0 {
		recv = recv[:i]
	}
	return recv
}

// ResolveReport is what a resolve did, or would do.
type ResolveReport struct {
	Resolved int // items that now have a target
	Changed  int // items whose target fields change
	Cleared  int // items whose target disappeared
	Manual   int // items skipped because their target was set by hand
	Changes  []Change
	Written  bool
}

// Resolve fills target_pkg/target/target_file/target_line from the index.
// Items mapped by hand (target_manual) are left alone. target_pkg is recorded
// for items that resolve or that a batch plans to port.
func Resolve(tx *db.Tx, idx *TargetIndex, m PackageMap) (*ResolveReport, error) {
	rep := &ResolveReport{}
	type upd struct {
		kind              tracker.Kind
		id                int64
		pkg, target, file string
		line              int
	}
	var ups []upd
	for _, kind := range tracker.Kinds {
		items, err := tx.ListItems(db.ItemFilter{Kind: kind})
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if it.TargetManual {
				rep.Manual++
				continue
			}
			tpkg := m.TargetPackage(it.Package)
			want := upd{kind: kind, id: it.ID}
			if s, ok := idx.Find(tpkg, kind, it.Receiver, it.Name); ok && !it.Removed {
				want.pkg, want.target, want.file, want.line = tpkg, s.Name, s.File, s.Line
				rep.Resolved++
			} else if it.BatchID != 0 {
				want.pkg = tpkg
			}
			if want.pkg == it.TargetPkg && want.target == it.Target && want.file == it.TargetFile && want.line == it.TargetLine {
				continue
			}
			rep.Changed++
			what := "target"
			if want.target == "" && it.Target != "" {
				rep.Cleared++
				what = "target-cleared"
			}
			rep.Changes = append(rep.Changes, Change{Kind: string(kind), ID: it.ID, Symbol: it.Symbol(), What: what,
				Detail: fmt.Sprintf("%s %s:%d", want.target, want.file, want.line)})
			ups = append(ups, want)
		}
	}
	sort.SliceStable(rep.Changes, func(i, j int) bool { return rep.Changes[i].Kind < rep.Changes[j].Kind })
	if !tx.Writable() || len(ups) == 0 {
		return rep, nil
	}
	stmt, err := tx.Prepare(`UPDATE items SET target_pkg = ?, target = ?, target_file = ?, target_line = ?
		WHERE kind = ? AND id = ? AND target_manual = 0`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	for _, u := range ups {
		if _, err := stmt.ExecContext(tx.Context(), u.pkg, u.target, u.file, u.line, u.kind, u.id); err != nil {
			return nil, err
		}
	}
	if _, err := tx.AppendAudit(db.AuditEntry{Kind: "db", Action: "inventory_resolve",
		To: fmt.Sprintf("%d resolved, %d changed, %d cleared", rep.Resolved, rep.Changed, rep.Cleared)}); err != nil {
		return nil, err
	}
	rep.Written = true
	return rep, nil
}
