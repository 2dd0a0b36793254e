package evidence

import (
	"go/ast"
	"strings"
)

// assertIndex answers "does this function reach an assertion?" for every
// function of a package. A function reaches one when its body (func
// literals and t.Run closures included) calls t.Error*/Fatal*/Fail* on a
// testing value, calls into an assertion package (testify), or calls a
// helper of the package that reaches one, passing it a testing value.
// Helpers are resolved to a fixed point, so chains of helpers count.
// Without type information the analysis is syntactic: testing values are
// parameters typed *testing.T/B/F or testing.TB, and struct fields of those
// types (a harness holding t).
type assertIndex struct {
	facts   map[*funcDecl]*funcFacts
	byKey   map[string][]*funcDecl
	fields  map[string]bool // names of struct fields of a testing type
	pkgs    []string        // assertion package path prefixes
	reached map[*funcDecl]bool
}

// funcFacts is what one function does that matters for assertions.
type funcFacts struct {
	direct bool         // asserts itself
	calls  []helperCall // calls (or passes as values) functions of the package
	takesT bool         // has a testing parameter
}

type helperCall struct {
	key   string // function name, or "." + method name
	tArg  bool   // a testing value is among the arguments
	value bool   // passed as a function value (t.Run("x", testFoo)), not called
}

var assertMethods = map[string]bool{"Error": true, "Errorf": true, "Fatal": true, "Fatalf": true, "Fail": true, "FailNow": true}

func newAssertIndex(idx *pkgIndex, assertPkgs []string) *assertIndex {
	ai := &assertIndex{
		facts:   map[*funcDecl]*funcFacts{},
		byKey:   map[string][]*funcDecl{},
		fields:  map[string]bool{},
		pkgs:    assertPkgs,
		reached: map[*funcDecl]bool{},
	}
	for _, f := range idx.files {
		ast.Inspect(f.ast, func(n ast.Node) bool {
			if st, ok := n.(*ast.StructType); ok {
				for _, fl := range st.Fields.List {
					if isTestingType(fl.Type) {
						for _, nm := range fl.Names {
							ai.fields[nm.Name] = true
						}
					}
				}
			}
			return true
		})
	}
	for _, decls := range idx.funcs {
		for _, fd := range decls {
			key := fd.decl.Name.Name
			if fd.decl.Recv != nil {
				key = "." + key
			}
			ai.byKey[key] = append(ai.byKey[key], fd)
			tvars := testingVars(fd.decl)
			ff := &funcFacts{takesT: hasTestingParam(fd.decl)}
			if fd.decl.Body != nil {
				ai.collect(fd.decl.Body, fd.file, tvars, ff)
			}
			ai.facts[fd] = ff
		}
	}
	// Fixed point: a function reaches an assertion directly or through a
	// helper already known to reach one.
	for changed := true; changed; {
		changed = false
		for fd, ff := range ai.facts {
			if !ai.reached[fd] && ai.factsReach(ff) {
				ai.reached[fd] = true
				changed = true
			}
		}
	}
	return ai
}

func (ai *assertIndex) factsReach(ff *funcFacts) bool {
	if ff.direct {
		return true
	}
	for _, c := range ff.calls {
		for _, h := range ai.byKey[c.key] {
			if ai.reached[h] && (c.value || c.tArg || !ai.facts[h].takesT) {
				return true
			}
		}
	}
	return false
}

// funcReaches reports whether fd reaches an assertion.
func (ai *assertIndex) funcReaches(fd *funcDecl) bool { return ai.reached[fd] }

// reaches reports whether node (a statement of a test) reaches an assertion.
func (ai *assertIndex) reaches(node ast.Node, file *srcFile, tvars map[string]bool) bool {
	ff := &funcFacts{}
	ai.collect(node, file, tvars, ff)
	return ai.factsReach(ff)
}

func (ai *assertIndex) collect(node ast.Node, file *srcFile, tvars map[string]bool, ff *funcFacts) {
	ast.Inspect(node, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if ai.isAssertCall(call, file, tvars) {
			ff.direct = true
			return true
		}
		tArg := false
		for _, a := range call.Args {
			if ai.isTestingExpr(a, tvars) {
				tArg = true
			}
			if key := ai.calleeKey(a, file); key != "" {
				ff.calls = append(ff.calls, helperCall{key: key, value: true})
			}
		}
		if key := ai.calleeKey(call.Fun, file); key != "" {
			ff.calls = append(ff.calls, helperCall{key: key, tArg: tArg})
		}
		return true
	})
}

// calleeKey names the package function or method an expression refers to.
func (ai *assertIndex) calleeKey(e ast.Expr, file *srcFile) string {
	for {
		switch x := e.(type) {
		case *ast.ParenExpr:
			e = x.X
			continue
		case *ast.IndexExpr:
			e = x.X
			continue
		case *ast.IndexListExpr:
			e = x.X
			continue
		case *ast.Ident:
			return x.Name
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && file.imports[id.Name] != "" {
				return "" // another package's function
			}
			return "." + x.Sel.Name
		}
		return ""
	}
}

func (ai *assertIndex) isAssertCall(call *ast.CallExpr, file *srcFile, tvars map[string]bool) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	if assertMethods[sel.Sel.Name] && ai.isTestingExpr(sel.X, tvars) {
		return true
	}
	if id, ok := sel.X.(*ast.Ident); ok {
		if path := file.imports[id.Name]; path != "" {
			for _, p := range ai.pkgs {
				if strings.HasPrefix(path, p) {
					return true
				}
			}
		}
	}
	return false
}

// isTestingExpr: a testing parameter (t) or a testing field (h.t).
func (ai *assertIndex) isTestingExpr(e ast.Expr, tvars map[string]bool) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return tvars[x.Name]
	case *ast.SelectorExpr:
		return ai.fields[x.Sel.Name]
	case *ast.ParenExpr:
		return ai.isTestingExpr(x.X, tvars)
	}
	return false
}

// testingVars are the names of testing parameters of fd and of every func
// literal inside it (t.Run closures).
func testingVars(fd *ast.FuncDecl) map[string]bool {
	vars := map[string]bool{}
	addParams := func(ft *ast.FuncType) {
		if ft == nil || ft.Params == nil {
			return
		}
		for _, f := range ft.Params.List {
			if isTestingType(f.Type) {
				for _, n := range f.Names {
					vars[n.Name] = true
				}
			}
		}
	}
	addParams(fd.Type)
	if fd.Body != nil {
		ast.Inspect(fd.Body, func(n ast.Node) bool {
			if fl, ok := n.(*ast.FuncLit); ok {
				addParams(fl.Type)
			}
			return true
		})
	}
	return vars
}

func hasTestingParam(fd *ast.FuncDecl) bool {
	if fd.Type.Params == nil {
		return false
	}
	for _, f := range fd.Type.Params.List {
		if isTestingType(f.Type) {
			return true
		}
	}
	return false
}

// isTestingType matches *testing.T, *testing.B, *testing.F and testing.TB.
func isTestingType(e ast.Expr) bool {
	star := false
	if s, ok := e.(*ast.StarExpr); ok {
		star, e = true, s.X
	}
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "testing" {
		return false
	}
	switch sel.Sel.Name {
	case "T", "B", "F":
		return star
	case "TB":
		return !star
	}
	return false
}
