package inventory

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
)

// FuncSource returns the source text of the function declared at line in
// file (its doc comment included), for `feature show --source`.
func FuncSource(file string, line int) (string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("inventory: %w", err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return "", fmt.Errorf("inventory: %w", err)
	}
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fset.Position(fd.Pos()).Line != line {
			continue
		}
		start := fd.Pos()
		if fd.Doc != nil {
			start = fd.Doc.Pos()
		}
		return string(src[fset.Position(start).Offset:fset.Position(fd.End()).Offset]) + "\n", nil
	}
	return "", fmt.Errorf("inventory: no function declared at %s:%d (has the file changed since the scan?)", file, line)
}
