package evidence

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Module is the Go module the gates run in, and how they run the go command
// there. The zero values of the optional fields are usable defaults.
type Module struct {
	// Dir is the module root (the directory holding go.mod), absolute.
	Dir string
	// Path is the module path from go.mod.
	Path string

	// Go is the go command; "go" when empty.
	Go string
	// Env is added to the inherited environment of every command.
	Env []string
	// Timeout bounds each command; DefaultTimeout when zero.
	Timeout time.Duration
	// BuildFlags go to every go build, vet and test command (e.g. -tags).
	BuildFlags []string
	// PackageFlags are extra go test build flags per target package, keyed
	// by package dir as written in the tracker ("./store": {"-race"}). They
	// apply when that package's tests are built.
	PackageFlags map[string][]string
	// Jobs is how many test processes run at once; runtime.NumCPU() when zero.
	Jobs int
}

// OpenModule finds the module rooted at dir (which must hold go.mod).
func OpenModule(dir string) (*Module, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(filepath.Join(abs, "go.mod"))
	if err != nil {
		return nil, fmt.Errorf("evidence: open module: %w", err)
	}
	defer f.Close()
	path, err := modulePath(f)
	if err != nil {
		return nil, fmt.Errorf("evidence: %s: %w", filepath.Join(abs, "go.mod"), err)
	}
	return &Module{Dir: abs, Path: path}, nil
}

// modulePath reads the module directive; go.mod's grammar puts it on one line.
func modulePath(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module"); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t' || rest[0] == '"') {
			rest = strings.TrimSpace(rest)
			if i := strings.Index(rest, "//"); i >= 0 {
				rest = strings.TrimSpace(rest[:i])
			}
			rest = strings.Trim(rest, "\"`")
			if rest == "" {
				break
			}
			return rest, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no module directive")
}

func (m *Module) goCmd() string {
	if m.Go == "" {
		return "go"
	}
	return m.Go
}

func (m *Module) jobs() int {
	if m.Jobs > 0 {
		return m.Jobs
	}
	return runtime.NumCPU()
}

func (m *Module) timeout() time.Duration {
	if m.Timeout > 0 {
		return m.Timeout
	}
	return DefaultTimeout
}

// goCommand builds a go command run in the module root.
func (m *Module) goCommand(args ...string) command {
	return command{argv: append([]string{m.goCmd()}, args...), dir: m.Dir, env: m.Env, timeout: m.timeout()}
}

// CleanPkg normalises a package dir to the tracker's form: "./store/avl".
func CleanPkg(pkg string) string {
	pkg = filepath.ToSlash(filepath.Clean(pkg))
	if pkg == "." {
		return "."
	}
	return "./" + strings.TrimPrefix(pkg, "./")
}

// ImportPath turns a package dir relative to the module root ("./store") into
// its import path.
func (m *Module) ImportPath(pkg string) string {
	rel := strings.TrimPrefix(CleanPkg(pkg), "./")
	if rel == "." {
		return m.Path
	}
	return m.Path + "/" + rel
}

// PkgDir is the absolute directory of a package dir relative to the root.
func (m *Module) PkgDir(pkg string) string {
	return filepath.Join(m.Dir, filepath.FromSlash(strings.TrimPrefix(CleanPkg(pkg), "./")))
}

// relPkg turns an absolute package directory back into "./x" form.
func (m *Module) relPkg(dir string) string {
	rel, err := filepath.Rel(m.Dir, dir)
	if err != nil {
		return dir
	}
	return CleanPkg(rel)
}

// testBuildFlags are the build flags for building pkg's tests.
func (m *Module) testBuildFlags(pkg string) []string {
	flags := append([]string(nil), m.BuildFlags...)
	return append(flags, m.PackageFlags[CleanPkg(pkg)]...)
}

// listedPackage is the part of `go list -json` the gates read.
type listedPackage struct {
	Dir             string
	ImportPath      string
	Name            string
	ForTest         string
	GoFiles         []string
	CgoFiles        []string
	CFiles          []string
	HFiles          []string
	SFiles          []string
	TestGoFiles     []string
	XTestGoFiles    []string
	EmbedFiles      []string
	TestEmbedFiles  []string
	XTestEmbedFiles []string
	Standard        bool
	Module          *struct {
		Path string
		Main bool
	}
	Error *struct{ Err string }
}

const listFields = "Dir,ImportPath,Name,ForTest,GoFiles,CgoFiles,CFiles,HFiles,SFiles,TestGoFiles,XTestGoFiles," +
	"EmbedFiles,TestEmbedFiles,XTestEmbedFiles,Standard,Module,Error"

// goList runs go list -e -json with args and decodes the package stream.
func (m *Module) goList(ctx context.Context, args ...string) ([]listedPackage, error) {
	argv := append([]string{"list", "-e", "-json=" + listFields}, m.BuildFlags...)
	ex := run(ctx, m.goCommand(append(argv, args...)...))
	if !ex.OK() {
		return nil, fmt.Errorf("evidence: go list %s: %v\n%s", strings.Join(args, " "), ex.Err, ex.Stderr)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(ex.Stdout))
	for dec.More() {
		var p listedPackage
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("evidence: go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}

// ListPackages expands package patterns ("./store/...") into package dirs
// relative to the module root, in go list order.
func (m *Module) ListPackages(ctx context.Context, patterns ...string) ([]string, error) {
	pkgs, err := m.goList(ctx, patterns...)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range pkgs {
		if p.Error != nil {
			return nil, fmt.Errorf("evidence: %s: %s", p.ImportPath, p.Error.Err)
		}
		out = append(out, m.relPkg(p.Dir))
	}
	return out, nil
}

// RunCommand runs a configured argv (a non-Go port's build or test command)
// in the module root, with the module's environment and timeout.
func (m *Module) RunCommand(ctx context.Context, argv []string) *Exec {
	return run(ctx, command{argv: argv, dir: m.Dir, env: m.Env, timeout: m.timeout()})
}
