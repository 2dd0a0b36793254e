package evidence

import (
	"fmt"
	"go/ast"
	"strings"
)

// Symbol is a parsed target symbol in the tracker's format:
//
//	store.compactBlocks                 function
//	store.TestFileStoreCompact          test
//	store.(*msgBlock).compact           method on a pointer receiver
//	avl.SequenceSet.Size                method on a value receiver
//	stree.(*SubjectTree[T]).Insert      method of a generic type
type Symbol struct {
	Pkg  string // package name, e.g. "store"
	Recv string // receiver base type name, "" for functions
	// TypeParams are the receiver's type parameter names as written.
	TypeParams []string
	Ptr        bool // pointer receiver
	Name       string
}

// ParseSymbol parses a target symbol.
func ParseSymbol(s string) (Symbol, error) {
	pkg, rest, ok := strings.Cut(s, ".")
	if !ok || pkg == "" || rest == "" {
		return Symbol{}, fmt.Errorf("evidence: bad target symbol %q: want pkg.Name, pkg.(*Recv).Name or pkg.Recv.Name", s)
	}
	sym := Symbol{Pkg: pkg}
	if strings.HasPrefix(rest, "(") {
		end := strings.Index(rest, ")")
		if end < 0 || end+2 > len(rest) || rest[end+1] != '.' {
			return Symbol{}, fmt.Errorf("evidence: bad target symbol %q: unbalanced receiver", s)
		}
		recv := rest[1:end]
		sym.Name = rest[end+2:]
		if after, found := strings.CutPrefix(recv, "*"); found {
			sym.Ptr = true
			recv = after
		}
		sym.Recv = recv
	} else if recv, name, found := strings.Cut(rest, "."); found {
		sym.Recv, sym.Name = recv, name
	} else {
		sym.Name = rest
	}
	if i := strings.Index(sym.Recv, "["); i >= 0 {
		params := strings.TrimSuffix(sym.Recv[i+1:], "]")
		sym.Recv = sym.Recv[:i]
		for p := range strings.SplitSeq(params, ",") {
			sym.TypeParams = append(sym.TypeParams, strings.TrimSpace(p))
		}
	}
	if !isIdent(sym.Name) || (sym.Recv != "" && !isIdent(sym.Recv)) {
		return Symbol{}, fmt.Errorf("evidence: bad target symbol %q", s)
	}
	return sym, nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0x80 || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// String formats the symbol in the tracker's format.
func (s Symbol) String() string {
	if s.Recv == "" {
		return s.Pkg + "." + s.Name
	}
	recv := s.Recv
	if len(s.TypeParams) > 0 {
		recv += "[" + strings.Join(s.TypeParams, ", ") + "]"
	}
	if s.Ptr {
		return s.Pkg + ".(*" + recv + ")." + s.Name
	}
	return s.Pkg + "." + recv + "." + s.Name
}

// Key identifies the declaration within its package regardless of pointer
// receivers and type parameter names: "msgBlock.compact", "TestX".
func (s Symbol) Key() string {
	if s.Recv == "" {
		return s.Name
	}
	return s.Recv + "." + s.Name
}

// SameDecl reports whether two symbols name the same declaration: same
// package name (an external _test package counts as its package), receiver
// and name. Pointer-ness and type parameter names do not matter.
func (s Symbol) SameDecl(o Symbol) bool {
	return strings.TrimSuffix(s.Pkg, "_test") == strings.TrimSuffix(o.Pkg, "_test") && s.Key() == o.Key()
}

// declSymbol builds the Symbol of a function declaration in package pkg.
func declSymbol(pkg string, fd *ast.FuncDecl) Symbol {
	sym := Symbol{Pkg: strings.TrimSuffix(pkg, "_test"), Name: fd.Name.Name}
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return sym
	}
	t := fd.Recv.List[0].Type
	if st, ok := t.(*ast.StarExpr); ok {
		sym.Ptr = true
		t = st.X
	}
	switch x := t.(type) {
	case *ast.IndexExpr:
		t = x.X
		sym.TypeParams = []string{exprName(x.Index)}
	case *ast.IndexListExpr:
		t = x.X
		for _, ix := range x.Indices {
			sym.TypeParams = append(sym.TypeParams, exprName(ix))
		}
	}
	sym.Recv = exprName(t)
	return sym
}

func exprName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.ParenExpr:
		return exprName(x.X)
	}
	return "?"
}
