package inventory

import (
	"context"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// The static call graph is a planning aid, not a type-checker: calls are
// resolved by name within one package, with a small amount of local type
// inference (receivers, parameters, `x := f()`, `x := &T{}`, struct fields,
// range over slices) so that `fs.State()` and `cfs.State()` land on the right
// receiver. Where the receiver's type is unknown the call matches every method
// of that name in the package; where it is an interface it matches the
// package types that have all of the interface's method names.

// Func is one function declaration of an analysed package: a feature, a test,
// or a helper of a _test.go file (kept because tests reach features through
// helpers).
type Func struct {
	Package  string
	File     string
	Line     int // line of the func keyword: with File, the item's identity in porting.db
	Receiver string
	Name     string
	TestFile bool // declared in a _test.go file
	Test     bool // a TestXxx function

	// Calls are the package functions this one calls directly, including calls
	// from function literals in its body, sorted by file and line.
	Calls []*Func
	// External are calls into imported packages, "pkg.Name" by the local
	// import name ("nats.Connect").
	External []string
	// TypeRefs are package-level type names the body mentions in a type
	// position (*Server, T{}, var x T, func(x T)).
	TypeRefs []string

	decl     *ast.FuncDecl
	fileAST  *ast.File
	recvBase string
	results  []string
}

// ID returns "file:line", unique per declaration.
func (f *Func) ID() string { return f.File + ":" + strconv.Itoa(f.Line) }

func (f *Func) String() string {
	if f.Receiver != "" {
		return "(" + f.Receiver + ")." + f.Name
	}
	return f.Name
}

// CallGraph is the analysed packages of an upstream tree.
type CallGraph struct {
	Funcs  []*Func // every declaration, sorted by file and line
	byPkg  map[string]*pkgIndex
	byFile map[string][]*Func // by file, in line order
}

// Lookup returns the declaration at file:line, or nil.
func (g *CallGraph) Lookup(file string, line int) *Func {
	fs := g.byFile[file]
	i := sort.Search(len(fs), func(i int) bool { return fs[i].Line >= line })
	if i < len(fs) && fs[i].Line == line {
		return fs[i]
	}
	return nil
}

type typeInfo struct {
	name      string
	iface     bool
	ifaceMeth []string
	fields    map[string]string // field name -> type string (see typeString)
	embedded  []string
	methods   map[string]*Func
}

type pkgIndex struct {
	path    string
	funcs   map[string][]*Func // free functions by name (several under build tags)
	methods map[string][]*Func // methods by name, any receiver
	types   map[string]*typeInfo
	vars    map[string]string // package-level variables with a declared type
}

// BuildCallGraph parses the given packages (directories relative to root,
// test files included) and resolves their calls.
func BuildCallGraph(ctx context.Context, root string, pkgs []string) (*CallGraph, error) {
	type parsed struct {
		rel string
		f   *ast.File
		tf  *token.File
	}
	var rels []string
	for _, p := range pkgs {
		dir := filepath.Join(root, filepath.FromSlash(p))
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("inventory: call graph: %w", err)
		}
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") && !strings.HasPrefix(e.Name(), ".") && !strings.HasPrefix(e.Name(), "_") {
				rels = append(rels, path.Join(p, e.Name()))
			}
		}
	}
	sort.Strings(rels)
	out := make([]parsed, len(rels))
	errs := make([]error, len(rels))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				fset := token.NewFileSet()
				f, err := parser.ParseFile(fset, filepath.Join(root, filepath.FromSlash(rels[i])), nil, parser.SkipObjectResolution)
				if err != nil {
					errs[i] = fmt.Errorf("inventory: call graph: %w", err)
					continue
				}
				out[i] = parsed{rels[i], f, fset.File(f.Pos())}
			}
		}()
	}
	for i := range rels {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	g := &CallGraph{byPkg: map[string]*pkgIndex{}, byFile: map[string][]*Func{}}
	for _, p := range out {
		pkg := path.Dir(p.rel)
		idx := g.byPkg[pkg]
		if idx == nil {
			idx = &pkgIndex{path: pkg, funcs: map[string][]*Func{}, methods: map[string][]*Func{},
				types: map[string]*typeInfo{}, vars: map[string]string{}}
			g.byPkg[pkg] = idx
		}
		testFile := strings.HasSuffix(p.rel, "_test.go")
		for _, decl := range p.f.Decls {
			switch d := decl.(type) {
			case *ast.GenDecl:
				idx.addGenDecl(d, testFile)
			case *ast.FuncDecl:
				fn := &Func{Package: pkg, File: p.rel, Line: p.tf.Line(d.Pos()), Name: d.Name.Name,
					TestFile: testFile, decl: d, fileAST: p.f}
				fn.Test = testFile && IsTestFunc(d)
				if d.Recv != nil && len(d.Recv.List) > 0 {
					fn.Receiver = types.ExprString(d.Recv.List[0].Type)
					fn.recvBase = baseName(typeString(d.Recv.List[0].Type))
				}
				if d.Type.Results != nil {
					for _, r := range d.Type.Results.List {
						n := max(1, len(r.Names))
						for range n {
							fn.results = append(fn.results, typeString(r.Type))
						}
					}
				}
				g.Funcs = append(g.Funcs, fn)
				g.byFile[p.rel] = append(g.byFile[p.rel], fn)
				if fn.recvBase == "" {
					idx.funcs[fn.Name] = append(idx.funcs[fn.Name], fn)
				} else {
					idx.methods[fn.Name] = append(idx.methods[fn.Name], fn)
				}
			}
		}
	}
	for _, idx := range g.byPkg {
		for name, ms := range idx.methods {
			for _, m := range ms {
				t := idx.typ(m.recvBase)
				if t.methods[name] == nil {
					t.methods[name] = m
				}
			}
		}
	}
	for _, fn := range g.Funcs {
		r := resolver{idx: g.byPkg[fn.Package], fn: fn, env: map[string]string{}, imports: importNames(fn.fileAST)}
		r.run()
	}
	return g, nil
}

func (idx *pkgIndex) typ(name string) *typeInfo {
	t := idx.types[name]
	if t == nil {
		t = &typeInfo{name: name, fields: map[string]string{}, methods: map[string]*Func{}}
		idx.types[name] = t
	}
	return t
}

func (idx *pkgIndex) addGenDecl(d *ast.GenDecl, testFile bool) {
	for _, spec := range d.Specs {
		switch s := spec.(type) {
		case *ast.TypeSpec:
			t := idx.typ(s.Name.Name)
			switch tt := s.Type.(type) {
			case *ast.StructType:
				for _, f := range tt.Fields.List {
					ts := typeString(f.Type)
					if len(f.Names) == 0 {
						b := baseName(ts)
						t.fields[b] = ts
						t.embedded = append(t.embedded, b)
					}
					for _, n := range f.Names {
						t.fields[n.Name] = ts
					}
				}
			case *ast.InterfaceType:
				t.iface = true
				for _, m := range tt.Methods.List {
					for _, n := range m.Names {
						t.ifaceMeth = append(t.ifaceMeth, n.Name)
					}
				}
			}
		case *ast.ValueSpec:
			if s.Type != nil && !testFile {
				for _, n := range s.Names {
					idx.vars[n.Name] = typeString(s.Type)
				}
			}
		}
	}
}

// typeString reduces a type expression to what call resolution needs: the
// base type name ("fileStore" for *fileStore and fileStore[T]), "[]E" for
// anything indexable to E (slices, arrays, maps), "pkg.T" for imported types.
func typeString(e ast.Expr) string {
	switch t := e.(type) {
	case *ast.Ident:
		return t.Name
	case *ast.StarExpr:
		return typeString(t.X)
	case *ast.ParenExpr:
		return typeString(t.X)
	case *ast.IndexExpr:
		return typeString(t.X)
	case *ast.IndexListExpr:
		return typeString(t.X)
	case *ast.SelectorExpr:
		if x, ok := t.X.(*ast.Ident); ok {
			return x.Name + "." + t.Sel.Name
		}
	case *ast.ArrayType:
		return "[]" + typeString(t.Elt)
	case *ast.MapType:
		return "[]" + typeString(t.Value)
	case *ast.Ellipsis:
		return "[]" + typeString(t.Elt)
	}
	return ""
}

func baseName(ts string) string {
	if strings.HasPrefix(ts, "[]") || strings.Contains(ts, ".") {
		return ""
	}
	return ts
}

func importNames(f *ast.File) map[string]bool {
	m := map[string]bool{}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if imp.Name != nil {
			m[imp.Name.Name] = true
			continue
		}
		// The package name is usually the last path element, minus a
		// ".go"/"go-" decoration and a /vN major-version suffix.
		parts := strings.Split(p, "/")
		last := parts[len(parts)-1]
		if len(parts) > 1 && len(last) > 1 && last[0] == 'v' && strings.Trim(last[1:], "0123456789") == "" {
			last = parts[len(parts)-2]
		}
		last = strings.TrimSuffix(strings.TrimPrefix(last, "go-"), ".go")
		m[last] = true
	}
	return m
}

type resolver struct {
	idx      *pkgIndex
	fn       *Func
	env      map[string]string // local name -> type string, where known
	locals   map[string]bool   // every local name: it shadows package functions and imports
	imports  map[string]bool
	calls    map[*Func]bool
	external map[string]bool
	typeRefs map[string]bool
}

func (r *resolver) run() {
	r.calls = map[*Func]bool{}
	r.locals = map[string]bool{}
	r.external = map[string]bool{}
	r.typeRefs = map[string]bool{}
	d := r.fn.decl
	if d.Recv != nil {
		r.bindFields(d.Recv)
	}
	r.bindFields(d.Type.Params)
	r.bindFields(d.Type.Results)
	if d.Body != nil {
		ast.Inspect(d.Body, r.visit)
	}
	for f := range r.calls {
		r.fn.Calls = append(r.fn.Calls, f)
	}
	sort.Slice(r.fn.Calls, func(i, j int) bool {
		a, b := r.fn.Calls[i], r.fn.Calls[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	r.fn.External = sortedKeys(r.external)
	r.fn.TypeRefs = sortedKeys(r.typeRefs)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (r *resolver) bindFields(fl *ast.FieldList) {
	if fl == nil {
		return
	}
	for _, f := range fl.List {
		ts := typeString(f.Type)
		r.noteType(f.Type)
		for _, n := range f.Names {
			r.bind(n.Name, ts)
		}
	}
}

func (r *resolver) bind(name, ts string) {
	if name == "_" || name == "" {
		return
	}
	r.locals[name] = true
	if ts == "" {
		delete(r.env, name)
		return
	}
	r.env[name] = ts
}

// noteType records package types mentioned in a type expression.
func (r *resolver) noteType(e ast.Expr) {
	if e == nil {
		return
	}
	ast.Inspect(e, func(n ast.Node) bool {
		switch t := n.(type) {
		case *ast.Ident:
			if _, ok := r.idx.types[t.Name]; ok {
				r.typeRefs[t.Name] = true
			}
		case *ast.SelectorExpr:
			return false
		case *ast.FuncLit:
			return false
		}
		return true
	})
}

func (r *resolver) visit(n ast.Node) bool {
	switch s := n.(type) {
	case *ast.FuncLit:
		r.bindFields(s.Type.Params)
		r.bindFields(s.Type.Results)
	case *ast.AssignStmt:
		r.assign(s.Lhs, s.Rhs)
	case *ast.ValueSpec:
		if s.Type != nil {
			r.noteType(s.Type)
			ts := typeString(s.Type)
			for _, n := range s.Names {
				r.bind(n.Name, ts)
			}
		} else {
			lhs := make([]ast.Expr, len(s.Names))
			for i, n := range s.Names {
				lhs[i] = n
			}
			r.assign(lhs, s.Values)
		}
	case *ast.RangeStmt:
		if v, ok := s.Value.(*ast.Ident); ok && s.Tok == token.DEFINE {
			if ts := r.typeOf(s.X); strings.HasPrefix(ts, "[]") {
				r.bind(v.Name, ts[2:])
			}
		}
	case *ast.CompositeLit:
		r.noteType(s.Type)
	case *ast.StarExpr:
		r.noteType(s.X)
	case *ast.TypeAssertExpr:
		r.noteType(s.Type)
	case *ast.CallExpr:
		targets, ext := r.resolveCall(s)
		for _, t := range targets {
			r.calls[t] = true
		}
		if ext != "" {
			r.external[ext] = true
		}
	}
	return true
}

func (r *resolver) assign(lhs, rhs []ast.Expr) {
	var ts []string
	switch {
	case len(rhs) == 1 && len(lhs) > 1:
		switch x := rhs[0].(type) {
		case *ast.CallExpr:
			ts = r.results(x)
			if _, ext := r.resolveCall(x); ext != "" {
				ts = slicesRepeat(extType, len(lhs))
			}
		case *ast.TypeAssertExpr:
			ts = []string{typeString(x.Type)}
		case *ast.IndexExpr:
			ts = []string{r.typeOf(x)}
		}
	default:
		for _, e := range rhs {
			ts = append(ts, r.typeOf(e))
		}
	}
	for i, l := range lhs {
		id, ok := l.(*ast.Ident)
		if !ok {
			continue
		}
		t := ""
		if i < len(ts) {
			t = ts[i]
		}
		r.bind(id.Name, t)
	}
}

// results returns the result types of a call, as far as they are known.
func (r *resolver) results(c *ast.CallExpr) []string {
	targets, _ := r.resolveCall(c)
	if len(targets) > 0 {
		return targets[0].results
	}
	if id, ok := unparen(c.Fun).(*ast.Ident); ok {
		switch id.Name {
		case "new", "make":
			if len(c.Args) > 0 {
				return []string{typeString(c.Args[0])}
			}
		case "append":
			if len(c.Args) > 0 {
				return []string{r.typeOf(c.Args[0])}
			}
		}
		if !r.locals[id.Name] {
			if _, ok := r.idx.types[id.Name]; ok { // conversion T(x)
				return []string{id.Name}
			}
		}
	}
	return nil
}

func unparen(e ast.Expr) ast.Expr {
	for {
		p, ok := e.(*ast.ParenExpr)
		if !ok {
			return e
		}
		e = p.X
	}
}

func (r *resolver) typeOf(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		if t, ok := r.env[x.Name]; ok {
			return t
		}
		return r.idx.vars[x.Name]
	case *ast.ParenExpr:
		return r.typeOf(x.X)
	case *ast.StarExpr:
		return r.typeOf(x.X)
	case *ast.UnaryExpr:
		if x.Op == token.AND {
			return r.typeOf(x.X)
		}
	case *ast.CompositeLit:
		return typeString(x.Type)
	case *ast.CallExpr:
		if res := r.results(x); len(res) > 0 {
			return res[0]
		}
		if _, ext := r.resolveCall(x); ext != "" {
			return extType
		}
	case *ast.IndexExpr:
		if t := r.typeOf(x.X); strings.HasPrefix(t, "[]") {
			return t[2:]
		}
	case *ast.SliceExpr:
		return r.typeOf(x.X)
	case *ast.TypeAssertExpr:
		return typeString(x.Type)
	case *ast.SelectorExpr:
		if id, ok := x.X.(*ast.Ident); ok && r.isImport(id.Name) {
			return ""
		}
		base := r.typeOf(x.X)
		if base == "" {
			return ""
		}
		if r.idx.types[baseName(base)] == nil {
			return extType
		}
		return r.fieldType(base, x.Sel.Name, 0)
	}
	return ""
}

// extType marks a value of a type that is known not to belong to the package
// (an imported package's result): its methods resolve to nothing rather than
// to every package method of the same name.
const extType = "?ext"

func slicesRepeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func (r *resolver) isImport(name string) bool {
	return !r.locals[name] && r.imports[name]
}

func (r *resolver) fieldType(ts, field string, depth int) string {
	t := r.idx.types[baseName(ts)]
	if t == nil || depth > 3 {
		return ""
	}
	if f, ok := t.fields[field]; ok {
		return f
	}
	for _, e := range t.embedded {
		if f := r.fieldType(e, field, depth+1); f != "" {
			return f
		}
	}
	return ""
}

func (r *resolver) method(ts, name string, depth int) *Func {
	t := r.idx.types[baseName(ts)]
	if t == nil || depth > 3 {
		return nil
	}
	if m := t.methods[name]; m != nil {
		return m
	}
	for _, e := range t.embedded {
		if m := r.method(e, name, depth+1); m != nil {
			return m
		}
	}
	return nil
}

// resolveCall returns the package functions a call may reach and, for a
// call into an imported package, its "pkg.Name".
func (r *resolver) resolveCall(c *ast.CallExpr) ([]*Func, string) {
	fun := unparen(c.Fun)
	switch f := fun.(type) {
	case *ast.IndexExpr: // explicit instantiation f[T](...)
		fun = f.X
	case *ast.IndexListExpr:
		fun = f.X
	}
	switch f := fun.(type) {
	case *ast.Ident:
		if r.locals[f.Name] {
			return nil, ""
		}
		return r.idx.funcs[f.Name], ""
	case *ast.SelectorExpr:
		name := f.Sel.Name
		if id, ok := f.X.(*ast.Ident); ok && r.isImport(id.Name) {
			return nil, id.Name + "." + name
		}
		ts := r.typeOf(f.X)
		if ts == "" {
			return r.idx.methods[name], ""
		}
		t := r.idx.types[baseName(ts)]
		if t == nil {
			return nil, "" // builtin, slice or imported type
		}
		if t.iface {
			return r.implementers(t, name), ""
		}
		if m := r.method(ts, name, 0); m != nil {
			return []*Func{m}, ""
		}
	}
	return nil, ""
}

// implementers returns the methods called name of the package types whose
// method set covers the interface's method names.
func (r *resolver) implementers(iface *typeInfo, name string) []*Func {
	var out []*Func
	for _, m := range r.idx.methods[name] {
		t := r.idx.types[m.recvBase]
		ok := true
		for _, want := range iface.ifaceMeth {
			if t.methods[want] == nil {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}
