package inventory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Kinds of items, as stored in items.kind.
const (
	KindFeature = "feature"
	KindTest    = "test"
)

// Symbol is one upstream function, method or test as the scanner saw it.
type Symbol struct {
	Kind      string // KindFeature or KindTest
	Package   string // directory relative to the scan root, slash-separated: "server", "server/avl"
	File      string // file relative to the scan root: "server/filestore.go"
	StartLine int
	EndLine   int
	Receiver  string // as written: "*msgBlock", "*SubjectTree[T]"; "" for functions and tests
	Name      string
	SymKey    string // "" unless needed to tell apart symbols that share the other key fields
	Signature string // one-line printed signature: "func (mb *msgBlock) compact() error"
	BodyHash  string // formatting-insensitive hash of the body; "" for a body-less declaration
}

// Key is the identity of an item in porting.db.
type Key struct {
	Kind, Package, Receiver, Name, SymKey string
}

// Key returns the symbol's identity.
func (s Symbol) Key() Key {
	return Key{s.Kind, s.Package, s.Receiver, s.Name, s.SymKey}
}

// ScanOptions tunes Scan.
type ScanOptions struct {
	// Include lists the directories (relative to the root, slash-separated)
	// whose trees are scanned. Empty means DefaultInclude.
	Include []string
	// SkipBroken makes a file that does not parse a reported problem instead
	// of a refusal.
	SkipBroken bool
	// Workers bounds the parallel parsers; 0 means GOMAXPROCS.
	Workers int
}

// DefaultInclude is the upstream subtree a nats-server inventory covers.
var DefaultInclude = []string{"server"}

// Broken is a file that could not be parsed.
type Broken struct {
	File string
	Line int
	Msg  string
}

func (b Broken) String() string { return fmt.Sprintf("%s:%d: %s", b.File, b.Line, b.Msg) }

// ScanResult is the outcome of a scan: symbols sorted by file and line.
type ScanResult struct {
	Root    string
	Include []string
	Files   int // Go files parsed
	Lines   int // lines in those files
	Symbols []Symbol
	Broken  []Broken // files skipped under SkipBroken
}

// ParseError refuses a scan because a file does not parse.
type ParseError struct{ Broken }

func (e *ParseError) Error() string {
	return fmt.Sprintf("inventory: %s (use --skip-broken to report and go on)", e.Broken)
}

// ErrNoGoFiles is returned when the included directories hold no Go file.
var ErrNoGoFiles = errors.New("inventory: no Go files")

// Scan parses every Go file under the included directories of root.
func Scan(ctx context.Context, root string, opts ScanOptions) (*ScanResult, error) {
	files, include, err := listGoFiles(root, opts.Include)
	if err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	type fileOut struct {
		syms   []Symbol
		lines  int
		broken *Broken
		err    error
	}
	outs := make([]fileOut, len(files))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				syms, lines, broken, err := scanFile(root, files[i])
				outs[i] = fileOut{syms, lines, broken, err}
			}
		}()
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res := &ScanResult{Root: root, Include: include, Files: len(files)}
	for _, o := range outs {
		if o.err != nil {
			return nil, o.err
		}
		if o.broken != nil {
			if !opts.SkipBroken {
				return nil, &ParseError{*o.broken}
			}
			res.Broken = append(res.Broken, *o.broken)
			res.Files--
			continue
		}
		res.Lines += o.lines
		res.Symbols = append(res.Symbols, o.syms...)
	}
	disambiguate(res.Symbols)
	return res, nil
}

// listGoFiles returns the Go files under root's included directories as
// slash-separated paths relative to root, sorted.
func listGoFiles(root string, include []string) ([]string, []string, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, nil, fmt.Errorf("inventory: upstream directory: %w", err)
	}
	if !st.IsDir() {
		return nil, nil, fmt.Errorf("inventory: upstream %s is not a directory", root)
	}
	if len(include) == 0 {
		include = DefaultInclude
	}
	var files []string
	var clean []string
	for _, inc := range include {
		inc = path.Clean(filepath.ToSlash(inc))
		clean = append(clean, inc)
		dir := filepath.Join(root, filepath.FromSlash(inc))
		if _, err := os.Stat(dir); err != nil {
			return nil, nil, fmt.Errorf("inventory: %s has no %s directory: %w", root, inc, err)
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			name := d.Name()
			if d.IsDir() {
				// Same rule as the go tool: testdata, vendor-like and hidden
				// directories are not packages of the tree.
				if p != dir && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(name, ".go") || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("inventory: walking %s: %w", dir, err)
		}
	}
	if len(files) == 0 {
		return nil, nil, fmt.Errorf("%w under %s (included: %s)", ErrNoGoFiles, root, strings.Join(clean, ", "))
	}
	sort.Strings(files)
	files = compactStrings(files)
	return files, clean, nil
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// scanFile parses one file. A syntax error is returned as broken, an I/O
// error as err.
func scanFile(root, rel string) ([]Symbol, int, *Broken, error) {
	src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, 0, nil, fmt.Errorf("inventory: %w", err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, rel, src, parser.SkipObjectResolution)
	if err != nil {
		b := &Broken{File: rel, Msg: err.Error()}
		var list scanner.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			b.Line = list[0].Pos.Line
			b.Msg = list[0].Msg
		}
		return nil, 0, b, nil
	}
	isTest := strings.HasSuffix(rel, "_test.go")
	pkg := path.Dir(rel)
	tf := fset.File(f.Pos())

	var syms []Symbol
	var bodies []*ast.BlockStmt
	inits := map[string]int{}
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		kind := KindFeature
		if isTest {
			if !IsTestFunc(fd) {
				continue
			}
			kind = KindTest
		}
		s := Symbol{
			Kind:      kind,
			Package:   pkg,
			File:      rel,
			StartLine: tf.Line(fd.Pos()),
			EndLine:   tf.Line(fd.End()),
			Name:      fd.Name.Name,
			Signature: Signature(fd),
		}
		if fd.Recv != nil && len(fd.Recv.List) > 0 {
			s.Receiver = types.ExprString(fd.Recv.List[0].Type)
		}
		if s.Receiver == "" && (s.Name == "init" || s.Name == "_") {
			inits[s.Name]++
			s.SymKey = fmt.Sprintf("%s#%d", rel, inits[s.Name])
		}
		syms = append(syms, s)
		bodies = append(bodies, fd.Body)
	}
	hashBodies(tf, src, bodies, syms)
	return syms, tf.LineCount(), nil, nil
}

// IsTestFunc reports whether fd is a test the go tool would run:
// func TestXxx(t *testing.T), Xxx not starting with a lower-case letter.
func IsTestFunc(fd *ast.FuncDecl) bool {
	if fd.Recv != nil || fd.Type.TypeParams != nil || fd.Type.Results != nil {
		return false
	}
	name := fd.Name.Name
	if !strings.HasPrefix(name, "Test") {
		return false
	}
	if len(name) > 4 {
		r, _ := utf8.DecodeRuneInString(name[4:])
		if unicode.IsLower(r) {
			return false
		}
	}
	params := fd.Type.Params.List
	if len(params) != 1 || len(params[0].Names) > 1 {
		return false
	}
	star, ok := params[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	sel, ok := star.X.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == "testing" && sel.Sel.Name == "T"
}

// hashBodies fills BodyHash for each symbol by hashing the token stream of
// its body: comments are not tokens, whitespace is not a token, and an
// automatically inserted semicolon hashes like a written one, so gofmt-style
// reformatting never changes a hash.
func hashBodies(tf *token.File, src []byte, bodies []*ast.BlockStmt, syms []Symbol) {
	// Body ranges as byte offsets, in file order (top-level decls do not nest).
	type span struct{ from, to, sym int }
	var spans []span
	for i, b := range bodies {
		if b == nil {
			continue
		}
		spans = append(spans, span{tf.Offset(b.Lbrace), tf.Offset(b.Rbrace), i})
	}
	if len(spans) == 0 {
		return
	}
	var s scanner.Scanner
	fset := token.NewFileSet()
	file := fset.AddFile("", -1, len(src))
	s.Init(file, src, nil, 0)
	h := sha256.New()
	var buf bytes.Buffer
	write := func(tok token.Token, lit string) {
		buf.Reset()
		buf.WriteString(tok.String())
		if tok.IsLiteral() {
			buf.WriteByte(' ')
			buf.WriteString(lit)
		}
		buf.WriteByte(0)
		h.Write(buf.Bytes())
	}
	// A separator (';' written or inserted at a newline, ',') right before
	// a closing bracket is optional in Go source, so it is held back until
	// the next token shows whether it counts.
	pending := token.ILLEGAL
	flush := func(next token.Token) {
		if pending != token.ILLEGAL && next != token.RBRACE && next != token.RPAREN && next != token.RBRACK {
			write(pending, "")
		}
		pending = token.ILLEGAL
	}
	cur := 0
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			break
		}
		off := file.Offset(pos)
		for cur < len(spans) && off > spans[cur].to {
			pending = token.ILLEGAL
			syms[spans[cur].sym].BodyHash = finishHash(h)
			h.Reset()
			cur++
		}
		if cur == len(spans) {
			break
		}
		if off < spans[cur].from {
			continue
		}
		flush(tok)
		if tok == token.SEMICOLON || tok == token.COMMA {
			pending = tok
			continue
		}
		write(tok, lit)
	}
	for ; cur < len(spans); cur++ {
		syms[spans[cur].sym].BodyHash = finishHash(h)
		h.Reset()
	}
}

// finishHash keeps 128 bits of sha256: ample to tell bodies apart, and half
// the bytes per item in a database that lives in git.
func finishHash(h interface{ Sum([]byte) []byte }) string {
	sum := h.Sum(nil)
	return hex.EncodeToString(sum[:16])
}

// disambiguate gives every group of symbols that share a key a file-based
// symkey, so platform variants of one function (build-tagged files) are
// distinct items. Within a file names are unique, except init and _, which
// already carry '<file>#<ordinal>'.
func disambiguate(syms []Symbol) {
	count := make(map[Key]int, len(syms))
	for _, s := range syms {
		count[s.Key()]++
	}
	for i := range syms {
		if count[syms[i].Key()] > 1 {
			syms[i].SymKey = syms[i].File
		}
	}
}

// Signature prints a function declaration's signature on one line, as
// written: "func (mb *msgBlock) compact() error".
func Signature(fd *ast.FuncDecl) string {
	var b strings.Builder
	b.WriteString("func ")
	if fd.Recv != nil {
		b.WriteByte('(')
		writeFields(&b, fd.Recv, ", ")
		b.WriteString(") ")
	}
	b.WriteString(fd.Name.Name)
	if fd.Type.TypeParams != nil {
		b.WriteByte('[')
		writeFields(&b, fd.Type.TypeParams, ", ")
		b.WriteByte(']')
	}
	b.WriteByte('(')
	writeFields(&b, fd.Type.Params, ", ")
	b.WriteByte(')')
	if res := fd.Type.Results; res != nil && len(res.List) > 0 {
		b.WriteByte(' ')
		if len(res.List) == 1 && len(res.List[0].Names) == 0 {
			b.WriteString(types.ExprString(res.List[0].Type))
		} else {
			b.WriteByte('(')
			writeFields(&b, res, ", ")
			b.WriteByte(')')
		}
	}
	return b.String()
}

func writeFields(b *strings.Builder, fl *ast.FieldList, sep string) {
	if fl == nil {
		return
	}
	for i, f := range fl.List {
		if i > 0 {
			b.WriteString(sep)
		}
		for j, n := range f.Names {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(n.Name)
		}
		if len(f.Names) > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(types.ExprString(f.Type))
	}
}
