package evidence

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// GutMode chooses how mutants are built.
type GutMode int

const (
	// GutAuto replaces the body when one feature is checked and uses
	// schemata otherwise.
	GutAuto GutMode = iota
	// GutSchemata compiles each test package once with every mutant behind
	// a guard and runs one process per mutant.
	GutSchemata
	// GutReplace compiles one binary per mutant with the body replaced.
	GutReplace
)

// GutTarget is a feature to gut-check and the tests linked to it.
type GutTarget struct {
	Target Target
	Tests  []TestRef
}

// GutOptions tunes the gut check. The zero value uses the defaults.
type GutOptions struct {
	Mode GutMode
	// Jobs is how many mutant processes run at once; Module.Jobs when zero.
	Jobs int
	// A mutant run is killed after TimeoutFactor x the baseline time of its
	// tests + TimeoutSlack (5x + 10s by default); a killed mutant is caught.
	TimeoutFactor float64
	TimeoutSlack  time.Duration
	// Progress, if set, is called once per target as its verdict is known.
	Progress func(done, total int, r *GutResult)
}

// GutResult is the gut check's verdict on one feature.
type GutResult struct {
	Target Target
	// Verdict: Pass when a linked test caught the mutant, Fail when the
	// mutant survived, Missing without a symbol or linked tests, Error when
	// inconclusive (baseline fails, mutant does not compile).
	Verdict  Verdict
	Detail   string
	CaughtBy []string // the tests that failed (or hung) on the mutant
	Commands [][]string
	Start    time.Time
	Duration time.Duration
	Log      []byte
}

type gutJob struct {
	mut     *gutMutation
	pkg     string
	bin     string
	tests   []string
	timeout time.Duration
	watch   *testWatch
	env     []string
}

type gutMutation struct {
	mutation
	result    *GutResult
	tests     map[string][]string // test pkg -> names
	log       bytes.Buffer
	mu        sync.Mutex // guards result and log while jobs run
	done      bool
	failed    []string // job errors
	remaining int      // jobs not yet finished
}

// GutCheck hollows each feature (its body becomes a zero-value return,
// through go test -overlay, never touching the tree) and runs its linked
// tests: at least one must fail for the feature to pass. The linked tests
// must pass on the unmutated code first (the baseline), or the check is
// inconclusive. A mutant that hangs past a bound derived from the baseline
// time is killed and counts as caught.
func (m *Module) GutCheck(ctx context.Context, targets []GutTarget, opts *GutOptions) ([]GutResult, error) {
	var o GutOptions
	if opts != nil {
		o = *opts
	}
	if o.Jobs <= 0 {
		o.Jobs = m.jobs()
	}
	if o.TimeoutFactor <= 0 {
		o.TimeoutFactor = 5
	}
	if o.TimeoutSlack <= 0 {
		o.TimeoutSlack = 10 * time.Second
	}
	start := time.Now()
	results := make([]GutResult, len(targets))
	idxs := map[string]*pkgIndex{}
	var muts []*gutMutation
	for i, gt := range targets {
		r := &results[i]
		r.Target, r.Start = gt.Target, start
		sym, err := ParseSymbol(gt.Target.Symbol)
		if err != nil {
			r.Verdict, r.Detail = Missing, err.Error()
			continue
		}
		pkg := CleanPkg(gt.Target.Pkg)
		idx := idxs[pkg]
		if idx == nil {
			if idx, err = loadPackage(m.PkgDir(pkg)); err != nil {
				return nil, err
			}
			idxs[pkg] = idx
		}
		fd := idx.lookup(sym)
		switch {
		case fd == nil:
			r.Verdict, r.Detail = Missing, fmt.Sprintf("missing symbol: no %s in %s", sym.Key(), pkg)
			continue
		case fd.decl.Body == nil:
			r.Verdict, r.Detail = Error, "no body to mutate"
			continue
		case len(gt.Tests) == 0:
			r.Verdict, r.Detail = Missing, "no linked tests"
			continue
		}
		if sh := classify(fd.decl, fd.file.imports); sh == shapeZero || sh == shapeEmpty {
			r.Verdict, r.Detail = Fail, "equivalent mutant: the body already does nothing but return zero values"
			continue
		}
		mu := &gutMutation{mutation: mutation{id: len(muts) + 1, idx: idx, fd: fd}, result: r, tests: map[string][]string{}}
		for _, t := range gt.Tests {
			p := CleanPkg(t.Pkg)
			if !slices.Contains(mu.tests[p], t.Name) {
				mu.tests[p] = append(mu.tests[p], t.Name)
			}
		}
		muts = append(muts, mu)
	}
	if len(muts) == 0 {
		return results, nil
	}
	tmp, cleanup, err := tempDir("porttracker-gut-")
	if err != nil {
		return nil, err
	}
	defer cleanup()

	mode := o.Mode
	if mode == GutAuto {
		mode = GutSchemata
		if len(muts) == 1 {
			mode = GutReplace
		}
	}
	var testPkgs []string
	for _, mu := range muts {
		for p := range mu.tests {
			if !slices.Contains(testPkgs, p) {
				testPkgs = append(testPkgs, p)
			}
		}
	}
	sort.Strings(testPkgs)

	var sharedCommands [][]string
	var sharedLog bytes.Buffer
	// Baseline binaries: in schemata mode the mutant binary with no mutant
	// active, otherwise the plain test binary.
	baseBins := map[string]string{}
	mutBins := map[string]string{} // schemata: pkg -> binary
	brokenPkg := map[string]string{}
	if mode == GutSchemata {
		ov, err := schemataOverlay(tmp, mutsBase(muts))
		if err != nil {
			return nil, err
		}
		ovPath, err := ov.write("schemata")
		if err != nil {
			return nil, err
		}
		for _, p := range testPkgs {
			bin := filepath.Join(tmp, binaryName(p, ".schemata"))
			ex := m.compileTest(ctx, p, bin, "-overlay", ovPath)
			sharedCommands = append(sharedCommands, ex.Argv)
			if !ex.OK() {
				sharedLog.Write(ex.Log())
				brokenPkg[p] = "mutant schemata do not compile: " + firstDiagnostic(ex.Stderr)
				continue
			}
			baseBins[p], mutBins[p] = bin, bin
		}
	} else {
		for _, p := range testPkgs {
			bin := filepath.Join(tmp, binaryName(p, ".base"))
			ex := m.compileTest(ctx, p, bin)
			sharedCommands = append(sharedCommands, ex.Argv)
			if !ex.OK() {
				sharedLog.Write(ex.Log())
				brokenPkg[p] = "linked tests do not compile: " + firstDiagnostic(ex.Stderr)
				continue
			}
			baseBins[p] = bin
		}
	}

	// Baseline: every linked test of every mutant, once per package.
	baseline := map[string]map[string]TestResult{}
	for _, p := range testPkgs {
		if brokenPkg[p] != "" {
			continue
		}
		var names []string
		for _, mu := range muts {
			for _, n := range mu.tests[p] {
				if !slices.Contains(names, n) {
					names = append(names, n)
				}
			}
		}
		args := []string{"-test.run", runPattern(names), "-test.count=1", "-test.v=test2json", "-test.paniconexit0"}
		ex := m.runBinary(ctx, baseBins[p], p, []string{MutantEnv + "=0"}, m.timeout(), args...)
		sharedCommands = append(sharedCommands, ex.Argv)
		baseline[p] = map[string]TestResult{}
		for _, r := range testVResults(ex, names) {
			baseline[p][r.Name] = r
		}
		if !ex.OK() {
			sharedLog.Write(ex.Log())
		}
	}

	// Plan the mutant runs.
	var jobs []*gutJob
	for _, mu := range muts {
		fmt.Fprintf(&mu.log, "gut check %s (mutant #%d, %s)\nmutation: body -> { %s }\n", mu.fd.sym, mu.id, modeName(mode), zeroReturn(mu.fd.decl))
		var problems []string
		var planned int
		for _, p := range sortedKeys(mu.tests) {
			if why := brokenPkg[p]; why != "" {
				problems = append(problems, p+": "+why)
				continue
			}
			var runnable []string
			var budget time.Duration
			for _, n := range mu.tests[p] {
				b := baseline[p][n]
				fmt.Fprintf(&mu.log, "baseline %s %s: %s\n", p, n, b.Detail)
				switch b.Verdict {
				case Pass:
					runnable = append(runnable, n)
					budget += b.Elapsed
				case Skip:
					// A skipped test cannot catch anything; it is not a failure.
				default:
					problems = append(problems, fmt.Sprintf("baseline: %s %s", n, b.Detail))
				}
			}
			if len(runnable) == 0 {
				continue
			}
			timeout := time.Duration(o.TimeoutFactor*float64(budget)) + o.TimeoutSlack
			// Each test is also held to the same rule on its own, so a test
			// the mutant hangs is caught within its budget, not the run's.
			watch := &testWatch{Budget: map[string]time.Duration{}}
			for _, n := range runnable {
				watch.Budget[n] = time.Duration(o.TimeoutFactor*float64(baseline[p][n].Elapsed)) + o.TimeoutSlack
			}
			job := &gutJob{mut: mu, pkg: p, tests: runnable, timeout: timeout, watch: watch, env: []string{fmt.Sprintf("%s=%d", MutantEnv, mu.id)}}
			if mode == GutSchemata {
				job.bin = mutBins[p]
			}
			jobs = append(jobs, job)
			planned++
		}
		switch {
		case len(problems) > 0:
			mu.result.Verdict, mu.result.Detail = Error, "inconclusive: "+strings.Join(problems, "; ")
			mu.done = true
			jobs = slices.DeleteFunc(jobs, func(j *gutJob) bool { return j.mut == mu })
		case planned == 0:
			mu.result.Verdict, mu.result.Detail = Error, "inconclusive: no linked test passes in the baseline"
			mu.done = true
		}
	}

	// Replace mode: one binary per mutant and test package.
	if mode == GutReplace {
		var pkgNames map[string]string
		for _, j := range jobs {
			if j.mut.done {
				continue
			}
			if pkgNames == nil {
				pkgNames = m.importNames(ctx, mutatedPkgs(muts))
			}
			ov := replaceOverlay(tmp, &j.mut.mutation, pkgNames)
			ovPath, err := ov.write(fmt.Sprintf("mutant%d", j.mut.id))
			if err != nil {
				return nil, err
			}
			bin := filepath.Join(tmp, binaryName(j.pkg, fmt.Sprintf(".mutant%d", j.mut.id)))
			ex := m.compileTest(ctx, j.pkg, bin, "-overlay", ovPath)
			j.mut.result.Commands = append(j.mut.result.Commands, ex.Argv)
			if !ex.OK() {
				j.mut.log.Write(ex.Log())
				j.mut.failed = append(j.mut.failed, "mutant does not compile: "+firstDiagnostic(ex.Stderr))
				continue
			}
			j.bin = bin
		}
	}

	var doneCount int
	var progressMu sync.Mutex // serialises Progress calls and doneCount
	report := func(r *GutResult) {
		if o.Progress == nil {
			return
		}
		progressMu.Lock()
		doneCount++
		o.Progress(doneCount, len(results), r)
		progressMu.Unlock()
	}
	finish := func(mu *gutMutation) { report(mu.result) }
	for i := range results {
		// Decided without running anything: missing, equivalent, inconclusive.
		if results[i].Verdict != "" {
			report(&results[i])
		}
	}
	for _, j := range jobs {
		j.mut.remaining++
	}
	parallel(ctx, len(jobs), o.Jobs, func(i int) {
		j := jobs[i]
		j.mut.mu.Lock()
		skip := j.mut.done || j.bin == ""
		j.mut.mu.Unlock()
		var ex *Exec
		var caught []string
		if !skip {
			args := []string{"-test.run", runPattern(j.tests), "-test.count=1", "-test.v=test2json",
				"-test.paniconexit0", "-test.failfast"}
			ex = m.runBinaryWatched(ctx, j.bin, j.pkg, j.env, j.timeout, j.watch, args...)
			caught = mutantCaught(ex, j.tests)
		}
		j.mut.mu.Lock()
		defer j.mut.mu.Unlock()
		if ex != nil {
			j.mut.result.Commands = append(j.mut.result.Commands, ex.Argv)
			j.mut.log.Write(ex.Log())
			switch {
			case ex.Err != nil && !ex.TimedOut:
				j.mut.failed = append(j.mut.failed, fmt.Sprintf("%s: %v", j.pkg, ex.Err))
			case len(caught) > 0:
				j.mut.result.CaughtBy = append(j.mut.result.CaughtBy, caught...)
			}
		}
		j.mut.remaining--
		if j.mut.done {
			return
		}
		if len(j.mut.result.CaughtBy) > 0 || j.mut.remaining == 0 {
			j.mut.done = true
			settleGut(j.mut, ex)
			finish(j.mut)
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, mu := range muts {
		r := mu.result
		if !mu.done {
			settleGut(mu, nil)
		}
		r.Commands = append(append([][]string(nil), sharedCommands...), r.Commands...)
		r.Log = append(mu.log.Bytes(), sharedLog.Bytes()...)
		r.Duration = time.Since(start)
	}
	return results, nil
}

// settleGut sets the verdict of a mutation whose runs are over.
func settleGut(mu *gutMutation, last *Exec) {
	r := mu.result
	if r.Verdict != "" {
		return
	}
	switch {
	case len(r.CaughtBy) > 0:
		sort.Strings(r.CaughtBy)
		r.Verdict, r.Detail = Pass, "caught by "+strings.Join(r.CaughtBy, ", ")
		if last != nil && last.TimedOut {
			r.Detail += fmt.Sprintf(" (hung: killed after %s)", last.Duration.Round(time.Second))
		}
	case len(mu.failed) > 0:
		r.Verdict, r.Detail = Error, "inconclusive: "+strings.Join(mu.failed, "; ")
	default:
		var names []string
		for _, p := range sortedKeys(mu.tests) {
			names = append(names, mu.tests[p]...)
		}
		r.Verdict, r.Detail = Fail, "survived: "+strings.Join(names, ", ")+" pass with the body hollowed"
	}
}

// mutantCaught lists the tests that observed the mutant: those that failed,
// or that were running when the binary hung or crashed.
func mutantCaught(ex *Exec, tests []string) []string {
	var caught []string
	for _, r := range testVResults(ex, tests) {
		if r.Verdict == Fail {
			caught = append(caught, r.Name)
		}
	}
	if ex.HungTest != "" && !slices.Contains(caught, ex.HungTest) {
		caught = append(caught, ex.HungTest)
	}
	if len(caught) == 0 && (ex.TimedOut || ex.ExitCode > 0) {
		// The binary failed outside any requested test (init, TestMain).
		caught = append(caught, "(test binary exit "+fmt.Sprint(ex.ExitCode)+")")
	}
	return caught
}

func modeName(m GutMode) string {
	if m == GutSchemata {
		return "schemata"
	}
	return "body replaced"
}

func mutsBase(muts []*gutMutation) []*mutation {
	out := make([]*mutation, len(muts))
	for i, mu := range muts {
		out[i] = &mu.mutation
	}
	return out
}

func mutatedPkgs(muts []*gutMutation) []string {
	var out []string
	for _, mu := range muts {
		if !slices.Contains(out, mu.idx.dir) {
			out = append(out, mu.idx.dir)
		}
	}
	return out
}

// importNames maps the import paths of the given package dirs' dependencies
// to their package names; on failure the mutation falls back to guessing.
func (m *Module) importNames(ctx context.Context, dirs []string) map[string]string {
	names := map[string]string{}
	args := []string{"-deps", "-test"}
	for _, d := range dirs {
		args = append(args, m.relPkg(d))
	}
	pkgs, err := m.goList(ctx, args...)
	if err != nil {
		return names
	}
	for _, p := range pkgs {
		if p.ForTest == "" {
			names[p.ImportPath] = p.Name
		}
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
