package evidence

import (
	"bytes"
	"context"
	"fmt"
	"go/ast"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/tools/cover"
)

// LinkOptions tunes CoverageLinks. The zero value uses the defaults.
type LinkOptions struct {
	// Jobs is how many test processes run at once; Module.Jobs when zero.
	Jobs int
	// Progress, if set, is called after each test.
	Progress func(done, total int, r *LinkResult)
}

// LinkResult is which target functions one test executes.
type LinkResult struct {
	Test TestRef
	// Verdict: Pass when the test ran and its coverage was read (whether
	// the test itself passed is TestVerdict), Missing when no such test ran,
	// Error when no profile could be read (the binary crashed, hung).
	Verdict     Verdict
	TestVerdict Verdict
	Detail      string
	// Features are the target functions whose code the test executed
	// beyond what package initialisation executes, sorted.
	Features []FuncRef
	Argv     []string
	Start    time.Time
	Duration time.Duration
	Log      []byte
}

// FuncRef names a function of a target package: its package dir and its
// symbol in the tracker's format.
type FuncRef struct {
	Pkg    string // "./store/avl"
	Symbol string // "avl.(*SequenceSet).Insert"
}

// LinksReport is the outcome of CoverageLinks.
type LinksReport struct {
	Results []LinkResult // in request order
	// Commands and Log cover the shared steps: compiling and the baselines.
	Commands [][]string
	Log      []byte
}

// CoverageLinks computes, per test, the target functions it executes. Each
// test package is compiled once with -cover -covermode=count
// -coverpkg=<coverPkgs>; each test then runs alone in its own process with
// its own profile (-j at a time), and the counts of a baseline run that runs
// no test (package initialisation) are subtracted. Profile blocks map to the
// enclosing function declaration, closures included.
func (m *Module) CoverageLinks(ctx context.Context, tests []TestRef, coverPkgs []string, opts *LinkOptions) (*LinksReport, error) {
	var o LinkOptions
	if opts != nil {
		o = *opts
	}
	if o.Jobs <= 0 {
		o.Jobs = m.jobs()
	}
	report := &LinksReport{Results: make([]LinkResult, len(tests))}
	if len(tests) == 0 {
		return report, nil
	}
	dirs, err := m.ListPackages(ctx, coverPkgs...)
	if err != nil {
		return nil, err
	}
	funcs, err := newFuncMap(m, dirs)
	if err != nil {
		return nil, err
	}
	importPaths := make([]string, len(dirs))
	for i, d := range dirs {
		importPaths[i] = m.ImportPath(d)
	}
	tmp, cleanup, err := tempDir("porttracker-links-")
	if err != nil {
		return nil, err
	}
	defer cleanup()

	var log bytes.Buffer
	testPkgs := map[string]bool{}
	for i, t := range tests {
		report.Results[i].Test = TestRef{Pkg: CleanPkg(t.Pkg), Name: t.Name}
		testPkgs[CleanPkg(t.Pkg)] = true
	}
	bins := map[string]string{}
	baselines := map[string]map[string]int{}
	broken := map[string]string{}
	for _, p := range sortedKeys(testPkgs) {
		bin := filepath.Join(tmp, binaryName(p, ".cover"))
		ex := m.compileTest(ctx, p, bin, "-cover", "-covermode=count", "-coverpkg="+strings.Join(importPaths, ","))
		report.Commands = append(report.Commands, ex.Argv)
		log.Write(ex.Log())
		if !ex.OK() {
			broken[p] = "tests do not compile: " + firstDiagnostic(ex.Stderr)
			continue
		}
		prof := filepath.Join(tmp, binaryName(p, ".baseline")+".cov")
		ex = m.runBinary(ctx, bin, p, nil, m.timeout(), "-test.run", "^$", "-test.count=1", "-test.coverprofile="+prof)
		report.Commands = append(report.Commands, ex.Argv)
		log.Write(ex.Log())
		counts, err := readCounts(prof)
		if !ex.OK() || err != nil {
			broken[p] = fmt.Sprintf("baseline run failed: %v", firstNonNil(ex.Err, err, fmt.Errorf("exit status %d", ex.ExitCode)))
			continue
		}
		bins[p], baselines[p] = bin, counts
	}
	report.Log = log.Bytes()

	var progressMu sync.Mutex // serialises Progress and done
	done := 0
	parallel(ctx, len(tests), o.Jobs, func(i int) {
		r := &report.Results[i]
		p := r.Test.Pkg
		r.Start = time.Now()
		defer func() {
			r.Duration = time.Since(r.Start)
			if o.Progress != nil {
				progressMu.Lock()
				done++
				o.Progress(done, len(tests), r)
				progressMu.Unlock()
			}
		}()
		if why := broken[p]; why != "" {
			r.Verdict, r.Detail = Error, why
			return
		}
		prof := filepath.Join(tmp, fmt.Sprintf("%s.%d.cov", binaryName(p, ""), i))
		ex := m.runBinary(ctx, bins[p], p, nil, m.timeout(), "-test.run", runPattern([]string{r.Test.Name}),
			"-test.count=1", "-test.v=test2json", "-test.paniconexit0", "-test.coverprofile="+prof)
		r.Argv, r.Log = ex.Argv, ex.Log()
		tr := testVResults(ex, []string{r.Test.Name})[0]
		r.TestVerdict = tr.Verdict
		if tr.Verdict == Missing {
			r.Verdict, r.Detail = Missing, "no such test"
			return
		}
		counts, err := readCounts(prof)
		if err != nil {
			r.Verdict, r.Detail = Error, "no coverage profile: "+tr.Detail
			return
		}
		set := map[FuncRef]bool{}
		for block, n := range counts {
			if n > baselines[p][block] {
				if fn, ok := funcs.lookup(block); ok {
					set[fn] = true
				}
			}
		}
		r.Features = make([]FuncRef, 0, len(set))
		for fn := range set {
			r.Features = append(r.Features, fn)
		}
		sort.Slice(r.Features, func(i, j int) bool {
			a, b := r.Features[i], r.Features[j]
			if a.Pkg != b.Pkg {
				return a.Pkg < b.Pkg
			}
			return a.Symbol < b.Symbol
		})
		r.Verdict = Pass
		r.Detail = fmt.Sprintf("%d target functions covered; test %s", len(r.Features), tr.Detail)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return report, nil
}

func firstNonNil(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// blockKey identifies a profile block: "importpath/file.go:line.col".
func blockKey(file string, b cover.ProfileBlock) string {
	return fmt.Sprintf("%s:%d.%d", file, b.StartLine, b.StartCol)
}

// readCounts reads a coverage profile into block -> count.
func readCounts(path string) (map[string]int, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	profiles, err := cover.ParseProfiles(path)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, p := range profiles {
		for _, b := range p.Blocks {
			counts[blockKey(p.FileName, b)] += b.Count
		}
	}
	return counts, nil
}

// funcMap maps profile blocks to the function declaration enclosing them.
type funcMap struct {
	mu    sync.Mutex                // guards cache
	cache map[string]*FuncRef       // block key -> function (nil outside functions)
	files map[string][]funcInterval // "importpath/file.go" -> declarations
}

type funcInterval struct {
	startLine, startCol, endLine, endCol int
	fn                                   FuncRef
}

func newFuncMap(m *Module, dirs []string) (*funcMap, error) {
	fm := &funcMap{cache: map[string]*FuncRef{}, files: map[string][]funcInterval{}}
	for _, d := range dirs {
		idx, err := loadPackage(m.PkgDir(d))
		if err != nil {
			return nil, err
		}
		ip := m.ImportPath(d)
		for _, f := range idx.files {
			if f.test {
				continue
			}
			key := ip + "/" + filepath.Base(f.path)
			for _, decl := range f.ast.Decls {
				fd, ok := decl.(*ast.FuncDecl)
				if !ok || fd.Body == nil {
					continue
				}
				s, e := idx.fset.Position(fd.Pos()), idx.fset.Position(fd.End())
				fm.files[key] = append(fm.files[key], funcInterval{s.Line, s.Column, e.Line, e.Column,
					FuncRef{Pkg: CleanPkg(d), Symbol: declSymbol(idx.name, fd).String()}})
			}
		}
	}
	return fm, nil
}

func (fm *funcMap) lookup(block string) (FuncRef, bool) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fn, ok := fm.cache[block]; ok {
		if fn == nil {
			return FuncRef{}, false
		}
		return *fn, true
	}
	var found *FuncRef
	i := strings.LastIndexByte(block, ':')
	var line, col int
	if _, err := fmt.Sscanf(block[i+1:], "%d.%d", &line, &col); err == nil {
		for _, fi := range fm.files[block[:i]] {
			if after(line, col, fi.startLine, fi.startCol) && !after(line, col, fi.endLine, fi.endCol+1) {
				fn := fi.fn
				found = &fn
				break
			}
		}
	}
	fm.cache[block] = found
	if found == nil {
		return FuncRef{}, false
	}
	return *found, true
}

func after(l1, c1, l2, c2 int) bool { return l1 > l2 || l1 == l2 && c1 >= c2 }

// FeatureLinks inverts link results: function -> tests that cover it,
// sorted, for the tests whose coverage was read.
func FeatureLinks(results []LinkResult) map[FuncRef][]TestRef {
	out := map[FuncRef][]TestRef{}
	for _, r := range results {
		if r.Verdict != Pass {
			continue
		}
		for _, f := range r.Features {
			if !slices.Contains(out[f], r.Test) {
				out[f] = append(out[f], r.Test)
			}
		}
	}
	for _, ts := range out {
		sort.Slice(ts, func(i, j int) bool {
			if ts[i].Pkg != ts[j].Pkg {
				return ts[i].Pkg < ts[j].Pkg
			}
			return ts[i].Name < ts[j].Name
		})
	}
	return out
}
