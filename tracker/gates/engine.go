package gates

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// ErrNoModule is wrapped when porting.db has no Go module next to it (or at
// config module_dir) to run the gates in.
var ErrNoModule = errors.New("no module to run the gates in")

// Options tune an Engine.
type Options struct {
	// Jobs is how many test processes run at once; config jobs, then one
	// per CPU, when zero.
	Jobs int
	// Force runs every requested gate even when fresh passing evidence
	// exists.
	Force bool
	// Progress, if set, hears about each stage and each finished step.
	Progress func(Progress)
}

// Progress is one report from a running Engine. A report with Total 0
// closes a stage (Line then says what it checked and how long it took).
type Progress struct {
	Stage string // the gate running
	Done  int    // steps finished in this stage
	Total int
	Line  string // what just finished, one line
}

// Outcome is an item's standing on one gate: the newest evidence row.
type Outcome struct {
	Verdict     evidence.Verdict `json:"verdict"`
	Detail      string           `json:"detail"`
	EvidenceID  int64            `json:"evidence_id"`
	Fingerprint string           `json:"fingerprint"`
	// Reused is set when no gate ran: the evidence is an earlier run's.
	Reused bool      `json:"reused"`
	Start  time.Time `json:"-"`
}

// OK reports a pass.
func (o *Outcome) OK() bool { return o != nil && o.Verdict == evidence.Pass }

// ItemReport is one item's gates after a run.
type ItemReport struct {
	Kind   tracker.Kind               `json:"kind"`
	ID     int64                      `json:"id"`
	Symbol string                     `json:"symbol"`
	Target string                     `json:"target"`
	Status tracker.Status             `json:"status"`
	Gates  map[evidence.Gate]*Outcome `json:"gates"`
	fresh  map[evidence.Gate]bool     // evidence taken on the current sources
	item   db.Item
}

// Ref names the item.
func (r *ItemReport) Ref() tracker.ItemRef { return tracker.ItemRef{Kind: r.Kind, ID: r.ID} }

// Fresh reports whether the item's newest evidence for gate was taken on
// the current sources.
func (r *ItemReport) Fresh(g evidence.Gate) bool { return r.fresh[g] }

// FreshPass reports a fresh passing outcome.
func (r *ItemReport) FreshPass(g evidence.Gate) bool { return r.fresh[g] && r.Gates[g].OK() }

// Report is what a run found, for the items it was asked about.
type Report struct {
	Items []*ItemReport `json:"items"`
}

// Request names the items and gates to run.
type Request struct {
	Features, Tests []int64
	// Gates restricts the run; empty means every gate that applies.
	Gates []evidence.Gate
}

// FeatureGates and TestGates are the gates that apply to each kind, in the
// order they run.
var (
	FeatureGates = []evidence.Gate{evidence.GateBuild, evidence.GateStub, evidence.GateLinks, evidence.GateTest, evidence.GateGut}
	TestGates    = []evidence.Gate{evidence.GateStub, evidence.GateTest, evidence.GateLinks}
)

// Applies reports whether gate applies to kind.
func Applies(kind tracker.Kind, g evidence.Gate) bool {
	if kind == tracker.KindTest {
		return slices.Contains(TestGates, g)
	}
	return slices.Contains(FeatureGates, g)
}

// portResult is what a run saw of one of the port's own tests.
type portResult struct {
	stub evidence.StubResult
	test evidence.TestResult
}

type itemKey struct {
	kind tracker.Kind
	id   int64
}

// Engine runs gates for items of one porting.db.
type Engine struct {
	db     *db.DB
	cfg    Config
	mod    *evidence.Module
	opts   Options
	commit string
	dirty  bool

	fps        map[string]string       // package dir -> fingerprint, for this run
	items      map[itemKey]*ItemReport // every item the run touches
	candidates map[int64][]int64       // feature -> tests that may cover it
	linked     map[int64][]int64       // feature -> coverage-linked tests
	// The port's own tests (not items): coverage-linked per feature, and
	// what this run saw of them.
	portLinked  map[int64][]evidence.TestRef
	portResults map[evidence.TestRef]portResult
	tracked     map[string]map[string]bool // test package -> names of tracked tests
	symbols     map[string]int64           // "pkg|Recv.Name" -> feature ID
	regions     map[string][]int           // non-Go target file -> target lines of its items
}

// NewEngine reads the configuration and opens the module next to porting.db.
// Without one it returns an error wrapping ErrNoModule.
func NewEngine(ctx context.Context, d *db.DB, opts Options) (*Engine, error) {
	var cfg Config
	err := d.Read(ctx, func(tx *db.Tx) error {
		var err error
		cfg, err = LoadConfig(tx, d.Path())
		return err
	})
	if err != nil {
		return nil, err
	}
	mod, err := evidence.OpenModule(cfg.ModuleDir)
	if err != nil && len(cfg.BuildCommand) > 0 && len(cfg.TestCommand) > 0 {
		// A non-Go port: its own build and test commands run in the
		// project root, which has no go.mod.
		if fi, statErr := os.Stat(cfg.ModuleDir); statErr == nil && fi.IsDir() {
			mod, err = &evidence.Module{Dir: cfg.ModuleDir}, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v (porting.db's config %s is %q)", ErrNoModule, err, KeyModuleDir, cfg.ModuleDir)
	}
	mod.Go, mod.Timeout, mod.PackageFlags = cfg.Go, cfg.Timeout, cfg.PackageFlags
	mod.Jobs = cfg.Jobs
	if opts.Jobs > 0 {
		mod.Jobs = opts.Jobs
	}
	e := &Engine{db: d, cfg: cfg, mod: mod, opts: opts}
	// The tracker's own database changes with every command: it does not
	// make the tree dirty.
	var exclude []string
	if abs, err := filepath.Abs(d.Path()); err == nil {
		if rel, err := filepath.Rel(mod.Dir, abs); err == nil && !strings.HasPrefix(rel, "..") {
			exclude = append(exclude, rel, rel+"-wal", rel+"-shm")
		}
	}
	e.commit, e.dirty, _ = mod.GitState(ctx, exclude...)
	return e, nil
}

// Module is the module the engine runs in.
func (e *Engine) Module() *evidence.Module { return e.mod }

// Config is the configuration the engine read.
func (e *Engine) Config() Config { return e.cfg }

// Run runs the requested gates for the requested items, reusing fresh
// passing evidence unless Options.Force, and records every new verdict.
// Features bring along the tests that may cover them (their batch's tests
// and linked tests): links, test and gut need them.
func (e *Engine) Run(ctx context.Context, req Request) (*Report, error) {
	want := map[evidence.Gate]bool{}
	for _, g := range req.Gates {
		want[g] = true
	}
	if len(want) == 0 {
		for _, g := range evidence.Gates {
			want[g] = true
		}
	}
	if err := e.load(ctx, req, want); err != nil {
		return nil, err
	}
	features := e.requested(tracker.KindFeature, req.Features)
	tests := e.requested(tracker.KindTest, req.Tests)

	stages := []struct {
		gate evidence.Gate
		run  func(context.Context, []*ItemReport, []*ItemReport) error
	}{
		{evidence.GateBuild, e.stageBuild},
		{evidence.GateLinks, e.stageLinks},
		{evidence.GateStub, e.stageStub},
		{evidence.GateTest, e.stageTest},
		{evidence.GateGut, e.stageGut},
	}
	for _, s := range stages {
		if !want[s.gate] {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var fs, ts []*ItemReport
		for _, ir := range features {
			if e.needs(ir, s.gate) {
				fs = append(fs, ir)
			}
		}
		for _, ir := range tests {
			if e.needs(ir, s.gate) {
				ts = append(ts, ir)
			}
		}
		// The test gate of a feature needs its linked tests' stub
		// verdicts, so the stub stage looks at them too (after links).
		if s.gate == evidence.GateStub && want[evidence.GateTest] {
			ts = e.withLinkedTests(ts, features, evidence.GateStub)
		}
		if len(fs)+len(ts) == 0 {
			continue
		}
		start := time.Now()
		if err := s.run(ctx, fs, ts); err != nil {
			return nil, fmt.Errorf("%s gate: %w", s.gate, err)
		}
		e.progress(string(s.gate), 0, 0, fmt.Sprintf("%d features, %d tests in %s", len(fs), len(ts), time.Since(start).Round(time.Millisecond)))
	}
	rep := &Report{}
	rep.Items = append(append(rep.Items, features...), tests...)
	return rep, nil
}

// load reads the items, their newest evidence, links and the symbol map,
// then fingerprints every package involved.
func (e *Engine) load(ctx context.Context, req Request, want map[evidence.Gate]bool) error {
	e.items = map[itemKey]*ItemReport{}
	e.candidates = map[int64][]int64{}
	e.linked = map[int64][]int64{}
	e.symbols = map[string]int64{}
	e.regions = map[string][]int{}
	e.portLinked = map[int64][]evidence.TestRef{}
	e.portResults = map[evidence.TestRef]portResult{}
	e.tracked = map[string]map[string]bool{}
	needTests := want[evidence.GateLinks] || want[evidence.GateTest] || want[evidence.GateGut]
	err := e.db.Read(ctx, func(tx *db.Tx) error {
		clear(e.items)
		var problems []string
		for _, k := range []struct {
			kind tracker.Kind
			ids  []int64
		}{{tracker.KindFeature, req.Features}, {tracker.KindTest, req.Tests}} {
			found, unknown, err := tx.GetItems(k.kind, k.ids)
			if err != nil {
				return err
			}
			if len(unknown) > 0 {
				problems = append(problems, fmt.Sprintf("unknown %s ID(s): %s", k.kind, joinIDs(unknown)))
			}
			for _, it := range found {
				if err := e.addItem(tx, it); err != nil {
					return err
				}
			}
		}
		if len(problems) > 0 {
			return &tracker.RefusedError{Msg: "refused", Problems: problems}
		}
		all, err := tx.ListItems(db.ItemFilter{Kind: tracker.KindFeature})
		if err != nil {
			return err
		}
		for _, it := range all {
			if it.Target == "" {
				continue
			}
			if sym, err := evidence.ParseSymbol(it.Target); err == nil {
				e.symbols[symbolKey(it.TargetPkg, sym)] = it.ID
			}
			e.addRegion(it)
		}
		allTests, err := tx.ListItems(db.ItemFilter{Kind: tracker.KindTest})
		if err != nil {
			return err
		}
		testsByPkg := map[string][]int64{}
		for _, it := range allTests {
			e.addRegion(it)
			if it.Target == "" || it.TargetPkg == "" {
				continue
			}
			p := evidence.CleanPkg(it.TargetPkg)
			if e.tracked[p] == nil {
				e.tracked[p] = map[string]bool{}
			}
			e.tracked[p][testRef(it).Name] = true
			testsByPkg[p] = append(testsByPkg[p], it.ID)
		}
		if !needTests {
			return nil
		}
		batchTests := map[int64][]int64{}
		for _, id := range req.Features {
			ir := e.items[itemKey{tracker.KindFeature, id}]
			if ir == nil {
				continue
			}
			var cands []int64
			if b := ir.item.BatchID; b != 0 {
				if _, ok := batchTests[b]; !ok {
					members, err := tx.ListItems(db.ItemFilter{Kind: tracker.KindTest, BatchID: b})
					if err != nil {
						return err
					}
					for _, m := range members {
						batchTests[b] = append(batchTests[b], m.ID)
					}
				}
				cands = append(cands, batchTests[b]...)
			}
			links, err := tx.ItemLinks(tracker.KindFeature, id)
			if err != nil {
				return err
			}
			for _, l := range links {
				cands = append(cands, l.TestID)
				if l.Source == "coverage" {
					e.linked[id] = append(e.linked[id], l.TestID)
				}
			}
			// Every tracked test of the packages involved may cover it.
			found, _, err := tx.GetItems(tracker.KindTest, cands)
			if err != nil {
				return err
			}
			pkgs := []string{evidence.CleanPkg(ir.item.TargetPkg)}
			for _, it := range found {
				if it.TargetPkg != "" && !slices.Contains(pkgs, evidence.CleanPkg(it.TargetPkg)) {
					pkgs = append(pkgs, evidence.CleanPkg(it.TargetPkg))
				}
			}
			for _, p := range pkgs {
				cands = append(cands, testsByPkg[p]...)
			}
			slices.Sort(cands)
			e.candidates[id] = slices.Compact(cands)
			if e.portLinked[id], err = portLinks(tx, id); err != nil {
				return err
			}
			found, _, err = tx.GetItems(tracker.KindTest, e.candidates[id])
			if err != nil {
				return err
			}
			for _, it := range found {
				if e.items[itemKey{tracker.KindTest, it.ID}] == nil {
					if err := e.addItem(tx, it); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return e.fingerprintAll(ctx)
}

func (e *Engine) addItem(tx *db.Tx, it db.Item) error {
	latest, err := latestByGate(tx, it.Kind, it.ID)
	if err != nil {
		return err
	}
	e.items[itemKey{it.Kind, it.ID}] = &ItemReport{
		Kind: it.Kind, ID: it.ID, Symbol: it.Symbol(), Target: it.Target, Status: it.Status,
		Gates: latest, fresh: map[evidence.Gate]bool{}, item: it,
	}
	return nil
}

// addRegion remembers where items start in non-Go target files, so the
// regex stub scan of one item stops where the next begins.
func (e *Engine) addRegion(it db.Item) {
	if it.TargetFile != "" && filepath.Ext(it.TargetFile) != ".go" && it.TargetLine > 0 {
		e.regions[it.TargetFile] = append(e.regions[it.TargetFile], it.TargetLine)
	}
}

// requested returns the reports of the requested items, in request order.
func (e *Engine) requested(kind tracker.Kind, ids []int64) []*ItemReport {
	var out []*ItemReport
	seen := map[int64]bool{}
	for _, id := range ids {
		if ir := e.items[itemKey{kind, id}]; ir != nil && !seen[id] {
			seen[id] = true
			out = append(out, ir)
		}
	}
	return out
}

func symbolKey(pkg string, sym evidence.Symbol) string {
	return evidence.CleanPkg(pkg) + "|" + sym.Key()
}

// resolved reports whether the item's target is known.
func resolved(ir *ItemReport) bool { return ir.item.Target != "" && ir.item.TargetPkg != "" }

// fingerprintAll fingerprints every package the run's items live in, and
// marks which stored outcomes are fresh.
func (e *Engine) fingerprintAll(ctx context.Context) error {
	var pkgs []string
	for _, ir := range e.items {
		if resolved(ir) && !slices.Contains(pkgs, evidence.CleanPkg(ir.item.TargetPkg)) {
			pkgs = append(pkgs, evidence.CleanPkg(ir.item.TargetPkg))
		}
	}
	for _, refs := range e.portLinked {
		for _, r := range refs {
			if !slices.Contains(pkgs, r.Pkg) {
				pkgs = append(pkgs, r.Pkg)
			}
		}
	}
	sort.Strings(pkgs)
	e.fps = map[string]string{}
	var goPkgs []string
	for _, p := range pkgs {
		if e.isGoPkg(p) {
			goPkgs = append(goPkgs, p)
			continue
		}
		fp, err := dirFingerprint(e.mod.PkgDir(p))
		if err != nil {
			return err
		}
		e.fps[p] = fp
	}
	if len(goPkgs) > 0 {
		fps, err := e.mod.Fingerprints(ctx, goPkgs)
		if err != nil {
			return err
		}
		for p, fp := range fps {
			e.fps[p] = fp
		}
	}
	for _, ir := range e.items {
		e.markFresh(ir)
	}
	return nil
}

func (e *Engine) markFresh(ir *ItemReport) {
	for g, o := range ir.Gates {
		ir.fresh[g] = resolved(ir) && o.Fingerprint != "" && o.Fingerprint == e.fingerprint(ir, g)
	}
}

// isGoPkg reports whether a target package is Go code (a directory with .go
// files); non-Go ports fingerprint the directory's files instead.
func (e *Engine) isGoPkg(pkg string) bool {
	matches, _ := filepath.Glob(filepath.Join(e.mod.PkgDir(pkg), "*.go"))
	return len(matches) > 0
}

// fingerprint is the current fingerprint a gate's evidence for ir must
// carry to be fresh: its package's, and for the gates that run tests, the
// tests' packages' too.
func (e *Engine) fingerprint(ir *ItemReport, g evidence.Gate) string {
	pkgs := e.fingerprintPkgs(ir, g)
	fps := make([]string, len(pkgs))
	for i, p := range pkgs {
		fps[i] = e.fps[p]
	}
	return evidence.CombineFingerprints(fps...)
}

// fingerprintPkgs are the packages whose sources a gate's verdict on ir
// depends on.
func (e *Engine) fingerprintPkgs(ir *ItemReport, g evidence.Gate) []string {
	pkgs := []string{evidence.CleanPkg(ir.item.TargetPkg)}
	if ir.Kind == tracker.KindTest {
		return pkgs
	}
	var tests []int64
	switch g {
	case evidence.GateLinks:
		tests = e.candidates[ir.ID]
	case evidence.GateTest, evidence.GateGut:
		tests = e.linked[ir.ID]
	default:
		return pkgs
	}
	add := func(p string) {
		if !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	for _, id := range tests {
		if t := e.items[itemKey{tracker.KindTest, id}]; t != nil && resolved(t) {
			add(evidence.CleanPkg(t.item.TargetPkg))
		}
	}
	if g != evidence.GateLinks {
		for _, r := range e.portLinked[ir.ID] {
			add(r.Pkg)
		}
	}
	return pkgs
}

// needs reports whether gate must run for ir.
func (e *Engine) needs(ir *ItemReport, g evidence.Gate) bool {
	if !Applies(ir.Kind, g) {
		return false
	}
	if !resolved(ir) {
		ir.Gates[g] = &Outcome{Verdict: evidence.Missing, Detail: "target not resolved: map it or rescan the inventory"}
		return false
	}
	return e.opts.Force || !ir.FreshPass(g)
}

// withLinkedTests adds the coverage-linked tests of features to ts when
// their evidence for g is not a fresh pass.
func (e *Engine) withLinkedTests(ts []*ItemReport, features []*ItemReport, g evidence.Gate) []*ItemReport {
	for _, f := range features {
		for _, id := range e.linked[f.ID] {
			t := e.items[itemKey{tracker.KindTest, id}]
			if t == nil || !resolved(t) || slices.Contains(ts, t) {
				continue
			}
			if e.opts.Force || !t.FreshPass(g) {
				ts = append(ts, t)
			}
		}
	}
	return ts
}

// record turns a verdict into an outcome on ir and a row to write.
func (e *Engine) record(ir *ItemReport, g evidence.Gate, v evidence.Verdict, detail string, cmds [][]string,
	start time.Time, dur time.Duration, log *logBlob) *pendingRow {
	fp := e.fingerprint(ir, g)
	o := &Outcome{Verdict: v, Detail: detail, Fingerprint: fp, Start: start}
	pkgs := e.fingerprintPkgs(ir, g)
	ir.Gates[g] = o
	ir.fresh[g] = true
	return &pendingRow{
		rec: evidence.Record{
			Gate: g, Kind: evidence.Kind(ir.Kind), ItemID: ir.ID, Subject: ir.item.Target, Verdict: v,
			Detail: oneLine(detail), Commands: cmds, Start: start, Duration: dur,
			GitCommit: e.commit, GitDirty: e.dirty, Fingerprint: fp,
		},
		log:      log,
		pkgs:     pkgs,
		outcome:  o,
		item:     ir,
		onStored: func(id int64) { o.EvidenceID = id },
	}
}

// flush writes rows (and any extra writes) in one transaction. The
// fingerprints are taken again first: a verdict whose sources changed while
// its gate ran (someone edited the tree) gets a fingerprint that can never
// be fresh, so it is never reused.
func (e *Engine) flush(ctx context.Context, rows []*pendingRow, extra func(tx *db.Tx) error) error {
	if len(rows) == 0 && extra == nil {
		return nil
	}
	if err := e.markChanged(ctx, rows); err != nil {
		return err
	}
	return e.db.Write(ctx, func(tx *db.Tx) error {
		if err := writeRows(tx, rows); err != nil {
			return err
		}
		if extra != nil {
			return extra(tx)
		}
		return nil
	})
}

// changedMark prefixes the fingerprint of evidence taken while its sources
// changed.
const changedMark = "changed-during-run:"

func (e *Engine) markChanged(ctx context.Context, rows []*pendingRow) error {
	var pkgs []string
	for _, r := range rows {
		for _, p := range r.pkgs {
			if !slices.Contains(pkgs, p) {
				pkgs = append(pkgs, p)
			}
		}
	}
	changed := map[string]bool{}
	var goPkgs []string
	for _, p := range pkgs {
		if !e.isGoPkg(p) {
			fp, err := dirFingerprint(e.mod.PkgDir(p))
			if err != nil {
				return err
			}
			changed[p] = fp != e.fps[p]
			continue
		}
		goPkgs = append(goPkgs, p)
	}
	if len(goPkgs) > 0 {
		now, err := e.mod.Fingerprints(ctx, goPkgs)
		if err != nil {
			return err
		}
		for _, p := range goPkgs {
			changed[p] = now[p] != e.fps[p]
		}
	}
	for _, r := range rows {
		for _, p := range r.pkgs {
			if changed[p] {
				r.rec.Fingerprint = changedMark + r.rec.Fingerprint
				r.rec.Detail += " [sources changed while the gate ran: re-run]"
				if r.outcome != nil {
					r.outcome.Fingerprint = r.rec.Fingerprint
					r.outcome.Detail = r.rec.Detail
				}
				if r.item != nil {
					r.item.fresh[r.rec.Gate] = false
				}
				break
			}
		}
	}
	return nil
}

func (e *Engine) progress(stage string, done, total int, line string) {
	if e.opts.Progress != nil {
		e.opts.Progress(Progress{Stage: string(stage), Done: done, Total: total, Line: line})
	}
}

func itemLine(ir *ItemReport, g evidence.Gate) string {
	o := ir.Gates[g]
	return fmt.Sprintf("%s %d %s: %s %s (%s)", ir.Kind, ir.ID, ir.item.Target, g, o.Verdict, o.Detail)
}

// stageBuild: go build + go vet once per target package (or the configured
// build command once), one row per feature citing the shared log.
func (e *Engine) stageBuild(ctx context.Context, features, _ []*ItemReport) error {
	byPkg := map[string][]*ItemReport{}
	for _, ir := range features {
		p := evidence.CleanPkg(ir.item.TargetPkg)
		byPkg[p] = append(byPkg[p], ir)
	}
	var rows []*pendingRow
	done := 0
	if len(e.cfg.BuildCommand) > 0 {
		ex := e.mod.RunCommand(ctx, e.cfg.BuildCommand)
		v, detail := evidence.Pass, "build command succeeded"
		if !ex.OK() {
			v, detail = evidence.Fail, fmt.Sprintf("build command failed (exit %d)", ex.ExitCode)
		}
		log := &logBlob{data: ex.Log()}
		for _, ir := range features {
			rows = append(rows, e.record(ir, evidence.GateBuild, v, detail, [][]string{ex.Argv}, ex.Start, ex.Duration, log))
		}
		e.progress("build", 1, 1, detail)
		return e.flush(ctx, rows, nil)
	}
	for _, p := range sortedKeys(byPkg) {
		res := e.mod.Build(ctx, []string{p})
		log := &logBlob{data: res.Log()}
		for _, ir := range byPkg[p] {
			rows = append(rows, e.record(ir, evidence.GateBuild, res.Verdict, res.Detail, res.Commands(), res.Start(), res.Duration(), log))
		}
		done++
		e.progress("build", done, len(byPkg), fmt.Sprintf("%s: %s (%s)", p, res.Verdict, res.Detail))
	}
	return e.flush(ctx, rows, nil)
}

// stageStub: go/ast over Go targets, the configured patterns over others.
func (e *Engine) stageStub(ctx context.Context, features, tests []*ItemReport) error {
	all := append(append([]*ItemReport(nil), features...), tests...)
	var goTargets []evidence.Target
	var goItems []*ItemReport
	var rows []*pendingRow
	for _, ir := range all {
		if e.isGoPkg(ir.item.TargetPkg) {
			t := evidence.Target{Kind: evidence.Kind(ir.Kind), ID: ir.ID, Pkg: ir.item.TargetPkg, Symbol: ir.item.Target}
			if ir.Kind == tracker.KindFeature {
				t.Upstream = e.upstreamSource(ir.item)
			}
			goTargets = append(goTargets, t)
			goItems = append(goItems, ir)
			continue
		}
		start := time.Now()
		v, detail := e.textStub(ir.item)
		rows = append(rows, e.record(ir, evidence.GateStub, v, detail, nil, start, time.Since(start), nil))
	}
	start := time.Now()
	results, err := e.mod.StubScan(goTargets, nil)
	if err != nil {
		return err
	}
	dur := time.Since(start)
	for i, r := range results {
		ir := goItems[i]
		log := &logBlob{data: fmt.Appendf(nil, "stub scan of %s in %s: %s: %s\n", r.Target.Symbol, r.Target.Pkg, r.Verdict, r.Detail)}
		if r.File != "" {
			log.data = fmt.Appendf(log.data, "declared at %s:%d\n", r.File, r.Line)
		}
		if r.Target.Upstream != "" {
			log.data = fmt.Appendf(log.data, "upstream declaration compared:\n%s", r.Target.Upstream)
		}
		rows = append(rows, e.record(ir, evidence.GateStub, r.Verdict, r.Detail, nil, start, dur/time.Duration(max(1, len(results))), log))
		e.progress("stub", i+1, len(results), itemLine(ir, evidence.GateStub))
	}
	return e.flush(ctx, rows, nil)
}

// upstreamSource reads an item's upstream declaration when config
// upstream_dir points at the upstream checkout.
func (e *Engine) upstreamSource(it db.Item) string {
	if e.cfg.UpstreamDir == "" || it.File == "" || it.StartLine <= 0 {
		return ""
	}
	src, err := evidence.ReadLines(filepath.Join(e.cfg.UpstreamDir, filepath.FromSlash(it.File)), it.StartLine, it.EndLine)
	if err != nil {
		return ""
	}
	return src
}

// textStub scans a non-Go target's region: from its line to the line
// before the next item of the same file.
func (e *Engine) textStub(it db.Item) (evidence.Verdict, string) {
	if it.TargetFile == "" {
		return evidence.Missing, "target file not resolved"
	}
	if e.cfg.StubPatterns == nil {
		return evidence.Error, fmt.Sprintf("%s is not Go: set config %s to scan it", it.TargetFile, KeyStubPatterns)
	}
	end := 0
	for _, l := range e.regions[it.TargetFile] {
		if l > it.TargetLine && (end == 0 || l-1 < end) {
			end = l - 1
		}
	}
	findings, err := evidence.ScanText(filepath.Join(e.mod.Dir, filepath.FromSlash(it.TargetFile)), it.TargetLine, end, e.cfg.StubPatterns)
	if err != nil {
		return evidence.Missing, err.Error()
	}
	if len(findings) > 0 {
		f := findings[0]
		return evidence.Fail, fmt.Sprintf("%q at %s:%d", f.Match, f.File, f.Line)
	}
	return evidence.Pass, "no stub pattern in the target"
}

// stageLinks runs per-test coverage for the tracked tests that need it and
// for the port's own tests of the packages involved, replaces their
// coverage links, then judges each feature by its fresh links.
func (e *Engine) stageLinks(ctx context.Context, features, tests []*ItemReport) error {
	toLink := append([]*ItemReport(nil), tests...)
	var portPkgs []string
	for _, f := range features {
		if p := evidence.CleanPkg(f.item.TargetPkg); !slices.Contains(portPkgs, p) {
			portPkgs = append(portPkgs, p)
		}
		for _, id := range e.candidates[f.ID] {
			t := e.items[itemKey{tracker.KindTest, id}]
			if t == nil || !resolved(t) {
				continue
			}
			if p := evidence.CleanPkg(t.item.TargetPkg); !slices.Contains(portPkgs, p) {
				portPkgs = append(portPkgs, p)
			}
			if !slices.Contains(toLink, t) && (e.opts.Force || !t.FreshPass(evidence.GateLinks)) {
				toLink = append(toLink, t)
			}
		}
	}
	// The port's own tests have no evidence rows to reuse: they run
	// whenever a feature of their packages needs links.
	var portTests []evidence.TestRef
	// listed holds every test each listed package has now, so links left by
	// port tests that were since deleted or renamed can be dropped.
	listed := map[string][]string{}
	if len(e.cfg.TestCommand) == 0 {
		sort.Strings(portPkgs)
		for _, p := range portPkgs {
			if !e.isGoPkg(p) {
				continue
			}
			names, err := e.mod.ListTests(p)
			if err != nil {
				return err
			}
			listed[p] = names
			for _, n := range names {
				if !e.tracked[p][n] {
					portTests = append(portTests, evidence.TestRef{Pkg: p, Name: n})
				}
			}
		}
	}
	var rows []*pendingRow
	type update struct {
		test     int64
		port     evidence.TestRef
		features []int64
	}
	var updates []update
	if len(toLink)+len(portTests) > 0 {
		if len(e.cfg.TestCommand) > 0 {
			for _, t := range toLink {
				rows = append(rows, e.record(t, evidence.GateLinks, evidence.Error,
					"coverage links need go test; link non-Go tests by hand (feature map / manual links)", nil, time.Now(), 0, nil))
			}
		} else {
			refs := make([]evidence.TestRef, 0, len(toLink)+len(portTests))
			for _, t := range toLink {
				refs = append(refs, testRef(t.item))
			}
			refs = append(refs, portTests...)
			rep, err := e.mod.CoverageLinks(ctx, refs, e.cfg.TargetPackages, &evidence.LinkOptions{
				Progress: func(done, total int, r *evidence.LinkResult) {
					e.progress("links", done, total, fmt.Sprintf("%s %s: %s (%s)", r.Test.Pkg, r.Test.Name, r.Verdict, r.Detail))
				},
			})
			if err != nil {
				return err
			}
			shared := &logBlob{data: rep.Log}
			for i, r := range rep.Results {
				var ids []int64
				var names []string
				for _, f := range r.Features {
					sym, err := evidence.ParseSymbol(f.Symbol)
					if err != nil {
						continue
					}
					if id, ok := e.symbols[symbolKey(f.Pkg, sym)]; ok && !slices.Contains(ids, id) {
						ids = append(ids, id)
						names = append(names, f.Symbol)
					}
				}
				slices.Sort(ids)
				if i >= len(toLink) {
					// One of the port's own tests: links only, no evidence row.
					if r.Verdict == evidence.Pass {
						updates = append(updates, update{port: r.Test, features: ids})
					}
					continue
				}
				t := toLink[i]
				log := &logBlob{data: r.Log}
				cmds := [][]string{r.Argv}
				if len(r.Log) == 0 {
					log, cmds = shared, rep.Commands
				}
				detail := r.Detail
				if r.Verdict == evidence.Pass {
					detail = fmt.Sprintf("covers %d tracked features (%d target functions); test %s", len(ids), len(r.Features), r.TestVerdict)
					log.data = fmt.Appendf(log.data, "# tracked features covered: %s\n", strings.Join(names, ", "))
					updates = append(updates, update{test: t.ID, features: ids})
				}
				rows = append(rows, e.record(t, evidence.GateLinks, r.Verdict, detail, cmds, r.Start, r.Duration, log))
			}
		}
		err := e.flush(ctx, rows, func(tx *db.Tx) error {
			for pkg, names := range listed {
				if err := prunePortLinks(tx, pkg, names); err != nil {
					return err
				}
			}
			for _, u := range updates {
				var err error
				if u.test != 0 {
					err = replaceCoverageLinks(tx, u.test, u.features)
				} else {
					err = replacePortLinks(tx, u.port, u.features)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		rows = nil
	}
	if len(features) == 0 {
		return nil
	}
	// Re-read the coverage links every feature now has.
	err := e.db.Read(ctx, func(tx *db.Tx) error {
		for _, f := range features {
			ids, err := coverageTests(tx, f.ID)
			if err != nil {
				return err
			}
			e.linked[f.ID] = ids
			if e.portLinked[f.ID], err = portLinks(tx, f.ID); err != nil {
				return err
			}
			found, _, err := tx.GetItems(tracker.KindTest, ids)
			if err != nil {
				return err
			}
			for _, it := range found {
				if e.items[itemKey{tracker.KindTest, it.ID}] == nil {
					if err := e.addItem(tx, it); err != nil {
						return err
					}
					e.markFresh(e.items[itemKey{tracker.KindTest, it.ID}])
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, f := range features {
		var names []string
		for _, id := range e.linked[f.ID] {
			t := e.items[itemKey{tracker.KindTest, id}]
			if t != nil && t.FreshPass(evidence.GateLinks) {
				names = append(names, fmt.Sprintf("%d %s", t.ID, t.item.Name))
			}
		}
		for _, r := range e.portLinked[f.ID] {
			names = append(names, r.Name+" (port)")
		}
		v, detail := evidence.Pass, fmt.Sprintf("covered by %d tests: %s", len(names), summarize(names, 5))
		if len(names) == 0 {
			v, detail = evidence.Missing, fmt.Sprintf("no test covers it (%d tracked and %d port tests ran with coverage)",
				len(e.candidates[f.ID]), len(portTests))
		}
		log := &logBlob{data: fmt.Appendf(nil, "%s\ntracked candidates: %s\nport tests: %v\n", detail, joinIDs(e.candidates[f.ID]), portTests)}
		rows = append(rows, e.record(f, evidence.GateLinks, v, detail, nil, time.Now(), 0, log))
		e.progress("links", i+1, len(features), itemLine(f, evidence.GateLinks))
	}
	return e.flush(ctx, rows, nil)
}

func testRef(it db.Item) evidence.TestRef {
	name := it.Target
	if sym, err := evidence.ParseSymbol(it.Target); err == nil {
		name = sym.Name
	}
	return evidence.TestRef{Pkg: evidence.CleanPkg(it.TargetPkg), Name: name}
}

// stageTest runs the tests that need a fresh run (requested ones, the
// coverage-linked tests of features, and the port's own tests linked to
// them), then judges each feature by its linked tests.
func (e *Engine) stageTest(ctx context.Context, features, tests []*ItemReport) error {
	toRun := e.withLinkedTests(append([]*ItemReport(nil), tests...), features, evidence.GateTest)
	var port []evidence.TestRef
	if len(e.cfg.TestCommand) == 0 {
		for _, f := range features {
			for _, r := range e.portLinked[f.ID] {
				if !slices.Contains(port, r) {
					port = append(port, r)
				}
			}
		}
	}
	var rows []*pendingRow
	if len(toRun)+len(port) > 0 {
		var err error
		if len(e.cfg.TestCommand) > 0 {
			rows, err = e.runCommandTests(ctx, toRun)
		} else {
			rows, err = e.runGoTests(ctx, toRun, port)
		}
		if err != nil {
			return err
		}
		if err := e.flush(ctx, rows, nil); err != nil {
			return err
		}
		rows = nil
	}
	for i, f := range features {
		linked := e.linked[f.ID]
		var problems, passed []string
		for _, id := range linked {
			t := e.items[itemKey{tracker.KindTest, id}]
			switch {
			case t == nil || !resolved(t):
				problems = append(problems, fmt.Sprintf("test %d: target not resolved", id))
			case !t.FreshPass(evidence.GateStub):
				problems = append(problems, fmt.Sprintf("test %d %s: stub scan %s", id, t.item.Name, describe(t, evidence.GateStub)))
			case !t.FreshPass(evidence.GateTest):
				problems = append(problems, fmt.Sprintf("test %d %s: %s", id, t.item.Name, describe(t, evidence.GateTest)))
			default:
				passed = append(passed, t.item.Name)
			}
		}
		for _, r := range e.portLinked[f.ID] {
			pr, ok := e.portResults[r]
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("port test %s: not run", r.Name))
			case pr.stub.Verdict != evidence.Pass:
				problems = append(problems, fmt.Sprintf("port test %s: stub scan %s: %s", r.Name, pr.stub.Verdict, pr.stub.Detail))
			case pr.test.Verdict != evidence.Pass:
				problems = append(problems, fmt.Sprintf("port test %s: %s: %s", r.Name, pr.test.Verdict, pr.test.Detail))
			default:
				passed = append(passed, r.Name+" (port)")
			}
		}
		v, detail := evidence.Pass, fmt.Sprintf("%d linked tests assert and pass: %s", len(passed), summarize(passed, 5))
		switch {
		case len(linked)+len(e.portLinked[f.ID]) == 0:
			v, detail = evidence.Missing, "no coverage-linked tests"
		case len(problems) > 0:
			v, detail = evidence.Fail, strings.Join(problems, "; ")
		}
		log := &logBlob{data: fmt.Appendf(nil, "%s\nlinked tests: %s\nport tests: %v\n", detail, joinIDs(linked), e.portLinked[f.ID])}
		rows = append(rows, e.record(f, evidence.GateTest, v, detail, nil, time.Now(), 0, log))
		e.progress("test", i+1, len(features), itemLine(f, evidence.GateTest))
	}
	return e.flush(ctx, rows, nil)
}

func describe(ir *ItemReport, g evidence.Gate) string {
	o := ir.Gates[g]
	switch {
	case o == nil:
		return "not run"
	case !ir.Fresh(g):
		return fmt.Sprintf("stale (%s on other sources)", o.Verdict)
	}
	return fmt.Sprintf("%s: %s", o.Verdict, o.Detail)
}

// runGoTests runs tracked tests (recording their rows) and the port's own
// tests (stub-scanned too, kept in portResults) with one go test per
// package.
func (e *Engine) runGoTests(ctx context.Context, toRun []*ItemReport, port []evidence.TestRef) ([]*pendingRow, error) {
	refs := make([]evidence.TestRef, 0, len(toRun)+len(port))
	byRef := map[evidence.TestRef]*ItemReport{}
	for _, t := range toRun {
		r := testRef(t.item)
		refs = append(refs, r)
		byRef[r] = t
	}
	refs = append(refs, port...)
	if len(port) > 0 {
		targets := make([]evidence.Target, len(port))
		for i, r := range port {
			targets[i] = evidence.Target{Kind: evidence.Test, Pkg: r.Pkg, Symbol: "port." + r.Name}
		}
		stubs, err := e.mod.StubScan(targets, nil)
		if err != nil {
			return nil, err
		}
		for i, r := range port {
			e.portResults[r] = portResult{stub: stubs[i]}
		}
	}
	e.progress("test", 0, len(refs), fmt.Sprintf("running %d tests", len(refs)))
	runs, err := e.mod.RunTests(ctx, refs)
	if err != nil {
		return nil, err
	}
	var rows []*pendingRow
	done := 0
	for _, run := range runs {
		log := &logBlob{data: run.Exec.Log()}
		for _, r := range run.Results {
			ref := evidence.TestRef{Pkg: run.Pkg, Name: r.Name}
			done++
			if pr, ok := e.portResults[ref]; ok {
				pr.test = r
				e.portResults[ref] = pr
				e.progress("test", done, len(refs), fmt.Sprintf("port test %s %s: %s (%s)", ref.Pkg, ref.Name, r.Verdict, r.Detail))
			}
			t := byRef[ref]
			if t == nil {
				continue
			}
			rows = append(rows, e.record(t, evidence.GateTest, r.Verdict, r.Detail, [][]string{run.Exec.Argv}, run.Exec.Start, r.Elapsed, log))
			e.progress("test", done, len(refs), itemLine(t, evidence.GateTest))
		}
	}
	return rows, nil
}

// runCommandTests runs the configured test command once and reads its
// JUnit report; a test item's target names its test case
// ("Class.Method").
func (e *Engine) runCommandTests(ctx context.Context, toRun []*ItemReport) ([]*pendingRow, error) {
	report := filepath.Join(e.mod.Dir, filepath.FromSlash(e.cfg.TestReport))
	if e.cfg.TestReport != "" {
		_ = os.Remove(report) // a stale report must not pass for a fresh one
	}
	ex := e.mod.RunCommand(ctx, e.cfg.TestCommand)
	log := &logBlob{data: ex.Log()}
	var results []evidence.TestResult
	var readErr error
	if e.cfg.TestReport == "" {
		readErr = fmt.Errorf("config %s is not set", KeyTestReport)
	} else if f, err := os.Open(report); err != nil {
		readErr = err
	} else {
		results, readErr = evidence.ReadJUnit(f)
		f.Close()
	}
	names := make([]string, len(toRun))
	for i, t := range toRun {
		names[i] = t.item.Target
	}
	matched := evidence.MatchResults(results, names)
	var rows []*pendingRow
	for i, t := range toRun {
		v, detail := matched[i].Verdict, matched[i].Detail
		if readErr != nil {
			v, detail = evidence.Error, fmt.Sprintf("no JUnit report: %v", readErr)
		}
		rows = append(rows, e.record(t, evidence.GateTest, v, detail, [][]string{ex.Argv}, ex.Start, matched[i].Elapsed, log))
	}
	return rows, nil
}

// stageGut hollows every feature that needs it against its coverage-linked
// tests (schemata: one build per test package).
func (e *Engine) stageGut(ctx context.Context, features, _ []*ItemReport) error {
	var targets []evidence.GutTarget
	var items []*ItemReport
	var rows []*pendingRow
	for _, f := range features {
		if len(e.cfg.TestCommand) > 0 {
			rows = append(rows, e.record(f, evidence.GateGut, evidence.Error, "the gut check needs go test -overlay", nil, time.Now(), 0, nil))
			continue
		}
		gt := evidence.GutTarget{Target: evidence.Target{Kind: evidence.Feature, ID: f.ID, Pkg: f.item.TargetPkg, Symbol: f.item.Target}}
		for _, id := range e.linked[f.ID] {
			if t := e.items[itemKey{tracker.KindTest, id}]; t != nil && resolved(t) {
				gt.Tests = append(gt.Tests, testRef(t.item))
			}
		}
		gt.Tests = append(gt.Tests, e.portLinked[f.ID]...)
		targets = append(targets, gt)
		items = append(items, f)
	}
	if len(targets) > 0 {
		e.progress("gut", 0, len(targets), fmt.Sprintf("building mutants for %d features", len(targets)))
		results, err := e.mod.GutCheck(ctx, targets, &evidence.GutOptions{
			Progress: func(done, total int, r *evidence.GutResult) {
				e.progress("gut", done, total, fmt.Sprintf("feature %d %s: gut %s (%s)", r.Target.ID, r.Target.Symbol, r.Verdict, r.Detail))
			},
		})
		if err != nil {
			return err
		}
		for i, r := range results {
			rows = append(rows, e.record(items[i], evidence.GateGut, r.Verdict, r.Detail, r.Commands, r.Start, r.Duration, &logBlob{data: r.Log}))
		}
	}
	return e.flush(ctx, rows, nil)
}

func summarize(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprint(id)
	}
	return strings.Join(parts, ",")
}
