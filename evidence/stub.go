package evidence

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Target is one tracked item a gate checks.
type Target struct {
	Kind Kind
	ID   int64
	// Pkg is the target package dir relative to the module root: "./store".
	Pkg string
	// Symbol is the target symbol: "store.(*msgBlock).compact",
	// "store.TestFileStoreCompact".
	Symbol string
	// Upstream is the upstream declaration's source text (doc comment
	// allowed), or "". With it, a trivial body that mirrors a trivial
	// upstream body is honest, and a constant return where upstream
	// computes is a stub.
	Upstream string
}

// StubOptions tunes the stub scan. The zero value uses the defaults.
type StubOptions struct {
	// CommentMarkers are refused in comments of a declaration (its doc
	// comment and comments inside the body).
	CommentMarkers *regexp.Regexp
	// StringMarkers are refused in string literals inside a body.
	StringMarkers *regexp.Regexp
	// AssertPackages are import path prefixes whose every call counts as
	// an assertion (testify's require and assert by default).
	AssertPackages []string
}

var (
	// DefaultCommentMarkers: work left undone, said in a comment.
	DefaultCommentMarkers = regexp.MustCompile(`\b(TODO|FIXME|PLACEHOLDER|XXX)\b|(?i:\bnot (yet )?implemented\b)`)
	// DefaultStringMarkers: work left undone, said in a string (a panic
	// message, an error). XXX is left out: it is common test data.
	DefaultStringMarkers = regexp.MustCompile(`\b(TODO|FIXME|PLACEHOLDER)\b|(?i:\bnot (yet )?implemented\b)`)
	// DefaultAssertPackages: testify.
	DefaultAssertPackages = []string{"github.com/stretchr/testify/"}
)

func (o *StubOptions) withDefaults() StubOptions {
	var r StubOptions
	if o != nil {
		r = *o
	}
	if r.CommentMarkers == nil {
		r.CommentMarkers = DefaultCommentMarkers
	}
	if r.StringMarkers == nil {
		r.StringMarkers = DefaultStringMarkers
	}
	if r.AssertPackages == nil {
		r.AssertPackages = DefaultAssertPackages
	}
	return r
}

// StubResult is the stub scan's verdict on one target.
type StubResult struct {
	Target  Target
	Verdict Verdict // Pass, Fail, or Missing
	Detail  string
	// File and Line locate the declaration when it was found.
	File string
	Line int
}

// StubScan checks each target symbol with go/ast. It fails a feature whose
// body is empty, only panics, only returns zero values, or only returns
// constants where the upstream body computes, and anything carrying a
// TODO/FIXME/PLACEHOLDER/"not implemented" marker. It fails a test that
// reaches no assertion or is skipped unconditionally. A symbol that cannot be
// found is Missing. Packages are parsed once per call.
func (m *Module) StubScan(targets []Target, opts *StubOptions) ([]StubResult, error) {
	o := opts.withDefaults()
	pkgs := map[string]*pkgIndex{}
	asserts := map[string]*assertIndex{}
	out := make([]StubResult, 0, len(targets))
	for _, t := range targets {
		res := StubResult{Target: t}
		sym, err := ParseSymbol(t.Symbol)
		if err != nil {
			res.Verdict, res.Detail = Missing, err.Error()
			out = append(out, res)
			continue
		}
		pkg := CleanPkg(t.Pkg)
		idx, ok := pkgs[pkg]
		if !ok {
			idx, err = loadPackage(m.PkgDir(pkg))
			if err != nil {
				return nil, err
			}
			pkgs[pkg] = idx
		}
		fd := idx.lookup(sym)
		if fd == nil {
			res.Verdict, res.Detail = Missing, fmt.Sprintf("missing symbol: no %s in %s", sym.Key(), pkg)
			out = append(out, res)
			continue
		}
		pos := idx.fset.Position(fd.decl.Pos())
		res.File, res.Line = relPath(m.Dir, pos.Filename), pos.Line
		if t.Kind == Test {
			ai := asserts[pkg]
			if ai == nil {
				ai = newAssertIndex(idx, o.AssertPackages)
				asserts[pkg] = ai
			}
			res.Verdict, res.Detail = scanTest(idx, ai, fd, o)
		} else {
			res.Verdict, res.Detail = scanFeature(idx, fd, t.Upstream, o)
		}
		out = append(out, res)
	}
	return out, nil
}

func relPath(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return path
}

// shape is how much a function body does, from nothing to computing.
type shape int

const (
	shapeNoBody   shape = iota // declared without a body (assembly)
	shapeEmpty                 // no statement that has an effect
	shapePanic                 // only panics
	shapeZero                  // only returns zero values / nil
	shapeConst                 // only returns constants
	shapeComputes              // anything else
)

func (s shape) String() string {
	switch s {
	case shapeNoBody:
		return "no body"
	case shapeEmpty:
		return "empty body"
	case shapePanic:
		return "body only panics"
	case shapeZero:
		return "body only returns zero values"
	case shapeConst:
		return "body only returns constants"
	}
	return "computes"
}

// classify decides the shape of a function body syntactically. Trivial
// statements are `var x T` (no value), `_ = x`, panic(...) and a return
// of zero values or constants; one statement of any other kind computes.
func classify(fd *ast.FuncDecl, imports map[string]string) shape {
	if fd.Body == nil {
		return shapeNoBody
	}
	bound := map[string]bool{} // parameters and receiver: reading them computes
	zeroVars := map[string]bool{}
	for _, fl := range []*ast.FieldList{fd.Recv, fd.Type.Params} {
		if fl == nil {
			continue
		}
		for _, f := range fl.List {
			for _, n := range f.Names {
				bound[n.Name] = true
			}
		}
	}
	if fd.Type.Results != nil {
		// Named results are zero until assigned, and a trivial body never
		// assigns them.
		for _, f := range fd.Type.Results.List {
			for _, n := range f.Names {
				zeroVars[n.Name] = true
			}
		}
	}
	sawPanic, sawReturn := false, false
	worst := shapeZero // the most "computing" return seen
	for _, st := range fd.Body.List {
		switch s := st.(type) {
		case *ast.EmptyStmt:
		case *ast.DeclStmt:
			gd, ok := s.Decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				return shapeComputes
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				if len(vs.Values) > 0 {
					return shapeComputes
				}
				for _, n := range vs.Names {
					zeroVars[n.Name] = true
				}
			}
		case *ast.AssignStmt:
			// `_ = x` only silences an unused name.
			for _, l := range s.Lhs {
				if id, ok := l.(*ast.Ident); !ok || id.Name != "_" {
					return shapeComputes
				}
			}
		case *ast.ExprStmt:
			call, ok := s.X.(*ast.CallExpr)
			if !ok {
				return shapeComputes
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "panic" {
				return shapeComputes
			}
			sawPanic = true
		case *ast.ReturnStmt:
			sawReturn = true
			for _, r := range s.Results {
				switch {
				case isZeroExpr(r, zeroVars):
				case isConstExpr(r, bound, zeroVars, imports):
					worst = shapeConst
				default:
					return shapeComputes
				}
			}
		default:
			return shapeComputes
		}
	}
	switch {
	case sawPanic:
		return shapePanic
	case !sawReturn || fd.Type.Results == nil || len(fd.Type.Results.List) == 0:
		return shapeEmpty
	}
	return worst
}

var basicTypes = map[string]bool{
	"bool": true, "string": true, "int": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true, "uintptr": true,
	"byte": true, "rune": true, "float32": true, "float64": true, "complex64": true, "complex128": true,
}

// isZeroExpr: nil, false, 0, "", T{}, a zero var, a conversion of those.
func isZeroExpr(e ast.Expr, zeroVars map[string]bool) bool {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return isZeroExpr(x.X, zeroVars)
	case *ast.Ident:
		return x.Name == "nil" || x.Name == "false" || zeroVars[x.Name]
	case *ast.BasicLit:
		switch x.Kind {
		case token.INT, token.FLOAT, token.IMAG:
			v, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSuffix(x.Value, "i"), "_", ""), 64)
			if err != nil {
				// Hex, octal and binary literals: zero only if all digits are.
				return strings.Trim(strings.ToLower(x.Value), "0xob_") == ""
			}
			return v == 0
		case token.STRING:
			s, err := strconv.Unquote(x.Value)
			return err == nil && s == ""
		case token.CHAR:
			return x.Value == `'\x00'` || x.Value == `'\000'` || x.Value == `'\u0000'`
		}
	case *ast.CompositeLit:
		return len(x.Elts) == 0
	case *ast.CallExpr:
		if id, ok := x.Fun.(*ast.Ident); ok && basicTypes[id.Name] && len(x.Args) == 1 {
			return isZeroExpr(x.Args[0], zeroVars)
		}
	}
	return false
}

// isConstExpr: literals, package-level names and qualified identifiers,
// and composites/operators over them. Reading a parameter or the receiver,
// or calling anything but a basic-type conversion, computes.
func isConstExpr(e ast.Expr, bound, zeroVars map[string]bool, imports map[string]string) bool {
	switch x := e.(type) {
	case *ast.ParenExpr:
		return isConstExpr(x.X, bound, zeroVars, imports)
	case *ast.BasicLit:
		return true
	case *ast.Ident:
		return !bound[x.Name]
	case *ast.SelectorExpr:
		id, ok := x.X.(*ast.Ident)
		return ok && !bound[id.Name] && !zeroVars[id.Name] && imports[id.Name] != ""
	case *ast.UnaryExpr:
		if x.Op == token.ARROW {
			return false
		}
		return isConstExpr(x.X, bound, zeroVars, imports)
	case *ast.BinaryExpr:
		return isConstExpr(x.X, bound, zeroVars, imports) && isConstExpr(x.Y, bound, zeroVars, imports)
	case *ast.CompositeLit:
		for _, el := range x.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				el = kv.Value
			}
			if !isZeroExpr(el, zeroVars) && !isConstExpr(el, bound, zeroVars, imports) {
				return false
			}
		}
		return true
	case *ast.CallExpr:
		if id, ok := x.Fun.(*ast.Ident); ok && basicTypes[id.Name] && len(x.Args) == 1 {
			return isConstExpr(x.Args[0], bound, zeroVars, imports)
		}
	}
	return false
}

// upstreamShape parses upstream declaration source and classifies it.
func upstreamShape(src string) (shape, bool) {
	if strings.TrimSpace(src) == "" {
		return 0, false
	}
	f, err := parser.ParseFile(token.NewFileSet(), "upstream.go", "package p\n"+src, parser.SkipObjectResolution)
	if err != nil {
		return 0, false
	}
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok {
			return classify(fd, fileImports(f)), true
		}
	}
	return 0, false
}

// trivialMatchesUpstream says whether a trivial target shape is an honest
// port of the upstream shape.
func trivialMatchesUpstream(target, upstream shape) bool {
	switch target {
	case shapeConst:
		return upstream == shapeConst || upstream == shapeZero
	case shapeZero, shapeEmpty, shapePanic, shapeNoBody:
		return upstream == target
	}
	return true
}

func scanFeature(idx *pkgIndex, fd *funcDecl, upstream string, o StubOptions) (Verdict, string) {
	sh := classify(fd.decl, fd.file.imports)
	detail := "body computes"
	if sh != shapeComputes {
		up, haveUp := upstreamShape(upstream)
		switch {
		case haveUp && trivialMatchesUpstream(sh, up):
			detail = sh.String() + ", as upstream's does"
		case haveUp && sh == shapeConst:
			return Fail, "body only returns constants where upstream computes"
		case haveUp:
			return Fail, fmt.Sprintf("%s (upstream: %s)", sh, up)
		case sh == shapeConst:
			detail = "body only returns constants (no upstream body to compare)"
		default:
			return Fail, sh.String()
		}
	}
	if msg := findMarker(idx, fd, o); msg != "" {
		return Fail, msg
	}
	return Pass, detail
}

// findMarker looks for markers in the declaration's comments and in the
// string literals of its body.
func findMarker(idx *pkgIndex, fd *funcDecl, o StubOptions) string {
	start, end := fd.decl.Pos(), fd.decl.End()
	if fd.decl.Doc != nil {
		start = fd.decl.Doc.Pos()
	}
	for _, cg := range fd.file.ast.Comments {
		if cg.End() < start || cg.Pos() > end {
			continue
		}
		for _, c := range cg.List {
			if m := o.CommentMarkers.FindString(c.Text); m != "" {
				return fmt.Sprintf("%q marker in a comment (line %d)", m, idx.fset.Position(c.Pos()).Line)
			}
		}
	}
	if fd.decl.Body == nil {
		return ""
	}
	var msg string
	ast.Inspect(fd.decl.Body, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING || msg != "" {
			return msg == ""
		}
		s, err := strconv.Unquote(lit.Value)
		if err != nil {
			s = lit.Value
		}
		if m := o.StringMarkers.FindString(s); m != "" {
			msg = fmt.Sprintf("%q marker in a string (line %d)", m, idx.fset.Position(lit.Pos()).Line)
		}
		return true
	})
	return msg
}

func scanTest(idx *pkgIndex, ai *assertIndex, fd *funcDecl, o StubOptions) (Verdict, string) {
	if msg := findMarker(idx, fd, o); msg != "" {
		return Fail, msg
	}
	if fd.decl.Body == nil || len(fd.decl.Body.List) == 0 {
		return Fail, "empty test body"
	}
	tvars := testingVars(fd.decl)
	for _, st := range fd.decl.Body.List {
		if isSkipCall(st, tvars) {
			return Fail, fmt.Sprintf("skipped unconditionally (line %d)", idx.fset.Position(st.Pos()).Line)
		}
		if ai.reaches(st, fd.file, tvars) {
			break
		}
	}
	if !ai.funcReaches(fd) {
		return Fail, "no assertion reached (no t.Error/Fatal/Fail, assertion library or helper that calls one)"
	}
	return Pass, "asserts"
}

// isSkipCall matches a top-level t.Skip/Skipf/SkipNow statement.
func isSkipCall(st ast.Stmt, tvars map[string]bool) bool {
	es, ok := st.(*ast.ExprStmt)
	if !ok {
		return false
	}
	call, ok := es.X.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	id, ok := sel.X.(*ast.Ident)
	return ok && tvars[id.Name] && (sel.Sel.Name == "Skip" || sel.Sel.Name == "Skipf" || sel.Sel.Name == "SkipNow")
}

// ListTests lists the top-level tests (func TestXxx(t *testing.T)) declared
// in a package's test files, sorted: the port's own tests are found this way.
func (m *Module) ListTests(pkg string) ([]string, error) {
	idx, err := loadPackage(m.PkgDir(pkg))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, decls := range idx.funcs {
		for _, fd := range decls {
			d := fd.decl
			if !fd.file.test || d.Recv != nil || !isTestName(d.Name.Name) || d.Type.Params == nil ||
				len(d.Type.Params.List) != 1 || d.Type.TypeParams != nil {
				continue
			}
			if st, ok := d.Type.Params.List[0].Type.(*ast.StarExpr); ok && isTestingType(st) && exprName(st.X.(*ast.SelectorExpr).Sel) == "T" {
				out = append(out, d.Name.Name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// isTestName: "Test" followed by nothing or by a non-lowercase rune, as go
// test requires.
func isTestName(name string) bool {
	rest, ok := strings.CutPrefix(name, "Test")
	if !ok {
		return false
	}
	return rest == "" || !(rest[0] >= 'a' && rest[0] <= 'z')
}
