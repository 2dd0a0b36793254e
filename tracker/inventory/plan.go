package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// Plan is a batch plan file (plan/storage.json): which batches exist, which
// features and tests belong to each, and which tests do not apply. See
// plan/README.md for the rules in prose.
type Plan struct {
	Comment  string      `json:"comment,omitempty"`
	Upstream PlanSource  `json:"upstream"`
	Batches  []PlanBatch `json:"batches"`
	Tests    TestRules   `json:"tests"`
	Links    LinkRules   `json:"static_links"`
}

// PlanSource names the upstream tree the plan was written against; apply
// refuses a database scanned from another module.
type PlanSource struct {
	Module  string `json:"module"`
	Version string `json:"version"`
}

// PlanBatch is one batch and its explicit selectors.
type PlanBatch struct {
	ID          int64      `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description,omitempty"`
	DependsOn   []int64    `json:"depends_on"`
	Features    []Selector `json:"features"`
	Tests       []Selector `json:"tests,omitempty"`
}

// Selector picks items. Package and File narrow the candidates (exact
// matches); Receiver/Receivers keep methods of those receivers (as written,
// "*fileStore"); Names keeps those names, and every listed name must match at
// least one item, so a typo or an upstream rename fails loudly. With Names and
// no receiver only free functions match. Rest takes every candidate no other
// selector of the plan claimed. OnlyCallsBatch (tests) keeps the tests whose
// calls into non-test code of their package, through their test-file
// helpers, all land in this batch's features.
type Selector struct {
	Package        string   `json:"package,omitempty"`
	File           string   `json:"file,omitempty"`
	Receiver       string   `json:"receiver,omitempty"`
	Receivers      []string `json:"receivers,omitempty"`
	Names          []string `json:"names,omitempty"`
	Rest           bool     `json:"rest,omitempty"`
	OnlyCallsBatch bool     `json:"only_calls_batch,omitempty"`
}

// TestRules assigns the tests of Files (and of Packages) that no batch
// selected explicitly: first the NA rules in order, then the batch of the
// features they call (see plan/README.md).
type TestRules struct {
	Rule     string   `json:"rule"`
	Files    []string `json:"files"`
	Packages []string `json:"packages"`
	NA       []NARule `json:"n_a"`
}

// NARule moves matching tests to n_a with Reason. A test matches when its
// closure (its body plus the test-file helpers it reaches) calls a function
// whose name matches one of Calls (a trailing * is a prefix match), calls
// into an imported package matching External ("nats.*"), mentions one of
// Types, or calls code of a file in CallsFiles and none of NotCallsFiles.
type NARule struct {
	Reason        string   `json:"reason"`
	Calls         []string `json:"calls,omitempty"`
	External      []string `json:"external,omitempty"`
	Types         []string `json:"types,omitempty"`
	CallsFiles    []string `json:"calls_files,omitempty"`
	NotCallsFiles []string `json:"not_calls_files,omitempty"`
}

// LinkRules bounds the static links stored for batched tests.
type LinkRules struct {
	MaxDepth int `json:"max_depth"`
	// BatchedOnly keeps links to features the plan batches (the links are a
	// planning aid for those batches; coverage links replace them later).
	BatchedOnly bool `json:"batched_only"`
}

// LoadPlan reads and validates a plan file.
func LoadPlan(file string) (*Plan, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, tracker.Usagef("plan: %v", err)
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, tracker.Usagef("plan %s: %v", file, err)
	}
	if err := p.validate(); err != nil {
		return nil, tracker.Usagef("plan %s: %v", file, err)
	}
	return &p, nil
}

func (p *Plan) validate() error {
	ids := map[int64]bool{}
	names := map[string]bool{}
	for _, b := range p.Batches {
		if b.ID <= 0 || b.Name == "" {
			return fmt.Errorf("batch %d %q: needs a positive id and a name", b.ID, b.Name)
		}
		if ids[b.ID] || names[b.Name] {
			return fmt.Errorf("batch %d %q: duplicate id or name", b.ID, b.Name)
		}
		ids[b.ID], names[b.Name] = true, true
	}
	for _, b := range p.Batches {
		for _, d := range b.DependsOn {
			if !ids[d] {
				return fmt.Errorf("batch %d depends on unknown batch %d", b.ID, d)
			}
			if d >= b.ID {
				return fmt.Errorf("batch %d depends on %d: dependencies must have lower ids (keeps the plan acyclic)", b.ID, d)
			}
		}
	}
	if p.Links.MaxDepth < 0 {
		return fmt.Errorf("static_links.max_depth must be >= 0")
	}
	return nil
}

// PlanResult is the evaluated plan: the batch of every feature and test it
// places, the n_a tests, and the static links.
type PlanResult struct {
	FeatureBatch map[int64]int64  // feature ID -> batch
	TestBatch    map[int64]int64  // test ID -> batch
	NA           map[int64]string // test ID -> reason
	NAWhy        map[int64]string // test ID -> what matched the n_a rule
	Unassigned   []db.Item        // rule-file tests that reach no batched feature
	Links        map[[2]int64]bool
	Skipped      []string // items the plan wanted to change but that have moved on (not deferred)
}

// Evaluate applies the plan's selectors to the items and the call graph.
func (p *Plan) Evaluate(features, tests []db.Item, g *CallGraph) (*PlanResult, error) {
	res := &PlanResult{FeatureBatch: map[int64]int64{}, TestBatch: map[int64]int64{}, NA: map[int64]string{},
		NAWhy: map[int64]string{}, Links: map[[2]int64]bool{}}
	live := func(items []db.Item) []db.Item {
		var out []db.Item
		for _, it := range items {
			if !it.Removed {
				out = append(out, it)
			}
		}
		return out
	}
	features, tests = live(features), live(tests)

	// Features: explicit selectors first, then the "rest" selectors.
	var problems []string
	claim := func(b PlanBatch, sel Selector, rest bool) {
		matched := map[string]bool{}
		for _, it := range features {
			if !sel.matches(it) {
				continue
			}
			if rest {
				if _, taken := res.FeatureBatch[it.ID]; taken {
					continue
				}
			} else if prev, taken := res.FeatureBatch[it.ID]; taken && prev != b.ID {
				problems = append(problems, fmt.Sprintf("feature %d %s selected by batches %d and %d", it.ID, it.Symbol(), prev, b.ID))
				continue
			}
			res.FeatureBatch[it.ID] = b.ID
			matched[it.Name] = true
		}
		for _, n := range sel.Names {
			if !matched[n] {
				problems = append(problems, fmt.Sprintf("batch %d: selector %s: name %q matches no feature", b.ID, sel, n))
			}
		}
		if len(sel.Names) == 0 && len(matched) == 0 && !rest {
			problems = append(problems, fmt.Sprintf("batch %d: selector %s matches no feature", b.ID, sel))
		}
	}
	for _, b := range p.Batches {
		for _, sel := range b.Features {
			if !sel.Rest {
				claim(b, sel, false)
			}
		}
	}
	for _, b := range p.Batches {
		for _, sel := range b.Features {
			if sel.Rest {
				claim(b, sel, true)
			}
		}
	}
	if len(problems) > 0 {
		return nil, &tracker.RefusedError{Msg: "plan does not fit the inventory", Problems: problems}
	}

	// Map call-graph nodes to items.
	featureOf := map[*Func]int64{}
	testFunc := map[int64]*Func{}
	byLoc := map[string]db.Item{}
	for _, it := range features {
		byLoc[it.Location()] = it
	}
	for _, it := range tests {
		byLoc[it.Location()] = it
	}
	for _, f := range g.Funcs {
		it, ok := byLoc[f.ID()]
		if !ok {
			continue
		}
		if f.TestFile && f.Test && it.Kind == tracker.KindTest {
			testFunc[it.ID] = f
		} else if !f.TestFile && it.Kind == tracker.KindFeature {
			featureOf[f] = it.ID
		}
	}

	// Explicit test selectors.
	batchFeatures := map[int64]map[int64]bool{}
	for fid, b := range res.FeatureBatch {
		if batchFeatures[b] == nil {
			batchFeatures[b] = map[int64]bool{}
		}
		batchFeatures[b][fid] = true
	}
	for _, b := range p.Batches {
		for _, sel := range b.Tests {
			n := 0
			for _, it := range tests {
				if !sel.matches(it) {
					continue
				}
				if sel.OnlyCallsBatch {
					fn := testFunc[it.ID]
					if fn == nil {
						continue
					}
					called := closureFeatureCalls(fn)
					if len(called) == 0 {
						continue
					}
					ok := true
					for _, c := range called {
						fid, known := featureOf[c]
						if !known || !batchFeatures[b.ID][fid] {
							ok = false
							break
						}
					}
					if !ok {
						continue
					}
				}
				res.TestBatch[it.ID] = b.ID
				n++
			}
			if n == 0 {
				problems = append(problems, fmt.Sprintf("batch %d: test selector %s matches no test", b.ID, sel))
			}
		}
	}

	// Rule files: n_a first, then the batch of the nearest batched features.
	for _, it := range tests {
		if _, done := res.TestBatch[it.ID]; done || !p.Tests.covers(it) {
			continue
		}
		fn := testFunc[it.ID]
		if fn == nil {
			problems = append(problems, fmt.Sprintf("test %d %s: not found in the call graph", it.ID, it.Location()))
			continue
		}
		if reason, why := p.Tests.naReason(fn); reason != "" {
			res.NA[it.ID] = reason
			res.NAWhy[it.ID] = why
			continue
		}
		if b := nearestBatch(fn, featureOf, res.FeatureBatch); b != 0 {
			res.TestBatch[it.ID] = b
		} else {
			res.Unassigned = append(res.Unassigned, it)
		}
	}
	if len(problems) > 0 {
		return nil, &tracker.RefusedError{Msg: "plan does not fit the inventory", Problems: problems}
	}

	// Static links of batched tests, bounded by depth.
	for tid := range res.TestBatch {
		fn := testFunc[tid]
		if fn == nil {
			continue
		}
		for f := range reach(fn, p.Links.MaxDepth) {
			fid, ok := featureOf[f]
			if !ok {
				continue
			}
			if _, batched := res.FeatureBatch[fid]; batched || !p.Links.BatchedOnly {
				res.Links[[2]int64{fid, tid}] = true
			}
		}
	}
	return res, nil
}

func (s Selector) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (s Selector) matches(it db.Item) bool {
	if s.Package != "" && it.Package != s.Package {
		return false
	}
	if s.File != "" && it.File != s.File {
		return false
	}
	recvs := s.Receivers
	if s.Receiver != "" {
		recvs = append([]string{s.Receiver}, recvs...)
	}
	if len(recvs) > 0 {
		ok := false
		for _, r := range recvs {
			if it.Receiver == r {
				ok = true
			}
		}
		if !ok {
			return false
		}
	} else if len(s.Names) > 0 && it.Receiver != "" {
		return false
	}
	if len(s.Names) > 0 {
		for _, n := range s.Names {
			if it.Name == n {
				return true
			}
		}
		return false
	}
	return true
}

func (r TestRules) covers(it db.Item) bool {
	for _, f := range r.Files {
		if it.File == f {
			return true
		}
	}
	for _, p := range r.Packages {
		if it.Package == p {
			return true
		}
	}
	return false
}

// closure returns fn and the test-file helpers it reaches.
func closure(fn *Func) []*Func {
	seen := map[*Func]bool{fn: true}
	out := []*Func{fn}
	for i := 0; i < len(out); i++ {
		for _, c := range out[i].Calls {
			if c.TestFile && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

// closureFeatureCalls returns the non-test functions the closure calls.
func closureFeatureCalls(fn *Func) []*Func {
	seen := map[*Func]bool{}
	var out []*Func
	for _, h := range closure(fn) {
		for _, c := range h.Calls {
			if !c.TestFile && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	return out
}

func globMatch(pattern, s string) bool {
	if strings.HasSuffix(pattern, "*") {
		return strings.HasPrefix(s, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == s
}

// naReason returns the reason of the first n_a rule the test matches, and
// what matched ("TestX calls RunBasicJetStreamServer").
func (r TestRules) naReason(fn *Func) (reason, why string) {
	cl := closure(fn)
	for _, rule := range r.NA {
		if why := rule.matches(cl); why != "" {
			return rule.Reason, why
		}
	}
	return "", ""
}

func (rule NARule) matches(cl []*Func) string {
	var files = map[string]bool{}
	for _, h := range cl {
		for _, c := range h.Calls {
			for _, p := range rule.Calls {
				if globMatch(p, c.Name) {
					return h.Name + " calls " + c.Name
				}
			}
			if !c.TestFile {
				files[c.File] = true
			}
		}
		for _, e := range h.External {
			for _, p := range rule.External {
				if globMatch(p, e) {
					return h.Name + " calls " + e
				}
			}
		}
		for _, t := range h.TypeRefs {
			for _, p := range rule.Types {
				if globMatch(p, t) {
					return h.Name + " uses type " + t
				}
			}
		}
	}
	for _, f := range rule.NotCallsFiles {
		if files[f] {
			return ""
		}
	}
	for _, f := range rule.CallsFiles {
		if files[f] {
			why := "calls code of " + f
			if len(rule.NotCallsFiles) > 0 {
				why += " and none of " + strings.Join(rule.NotCallsFiles, ", ")
			}
			return why
		}
	}
	return ""
}

// nearestBatch walks the call graph from a test breadth first and returns
// the highest batch among the batched features of the first level that has
// any: level 1 is what the test body calls itself (closures included).
func nearestBatch(fn *Func, featureOf map[*Func]int64, featureBatch map[int64]int64) int64 {
	seen := map[*Func]bool{fn: true}
	level := []*Func{fn}
	for depth := 0; depth < 8 && len(level) > 0; depth++ {
		var next []*Func
		var best int64
		for _, f := range level {
			for _, c := range f.Calls {
				if seen[c] {
					continue
				}
				seen[c] = true
				next = append(next, c)
				if fid, ok := featureOf[c]; ok {
					best = max(best, featureBatch[fid])
				}
			}
		}
		if best != 0 {
			return best
		}
		level = next
	}
	return 0
}

// reach returns the functions within depth calls of fn (fn excluded).
func reach(fn *Func, depth int) map[*Func]bool {
	seen := map[*Func]bool{}
	level := []*Func{fn}
	for d := 0; d < depth && len(level) > 0; d++ {
		var next []*Func
		for _, f := range level {
			for _, c := range f.Calls {
				if c != fn && !seen[c] {
					seen[c] = true
					next = append(next, c)
				}
			}
		}
		level = next
	}
	return seen
}

// Packages lists the upstream packages the plan selects from: the call graph
// must cover them.
func (p *Plan) Packages() []string {
	set := map[string]bool{}
	add := func(sel Selector) {
		if sel.Package != "" {
			set[sel.Package] = true
		}
		if sel.File != "" {
			set[path.Dir(sel.File)] = true
		}
	}
	for _, b := range p.Batches {
		for _, s := range b.Features {
			add(s)
		}
		for _, s := range b.Tests {
			add(s)
		}
	}
	for _, f := range p.Tests.Files {
		set[path.Dir(f)] = true
	}
	for _, pkg := range p.Tests.Packages {
		set[pkg] = true
	}
	var out []string
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// NAItem is one test an n_a rule matched.
type NAItem struct {
	ID                int64
	Name, Reason, Why string
}

// ApplyReport summarises what applying a plan did, or would do.
type ApplyReport struct {
	BatchesCreated []int64
	Moves          int // items whose batch changes
	NewNA          int
	LinksAdded     int
	LinksRemoved   int
	PerBatch       map[int64][2]int // batch -> {features, tests}
	NAByReason     map[string]int
	NAList         []NAItem // every test the n_a rules match, by ID
	Unassigned     []db.Item
	Skipped        []string
	Written        bool
}

// Apply evaluates the plan against the database and, in a write transaction,
// creates its batches, moves items to them (one audited 'move' per item),
// moves n_a tests to n_a with their reason (one audited 'status' per test) and
// replaces the static links of the plan's tests. Items that are no longer
// deferred keep their status; a re-apply of the same plan changes nothing.
func (p *Plan) Apply(tx *db.Tx, g *CallGraph, planName string) (*ApplyReport, error) {
	features, err := tx.ListItems(db.ItemFilter{Kind: tracker.KindFeature})
	if err != nil {
		return nil, err
	}
	tests, err := tx.ListItems(db.ItemFilter{Kind: tracker.KindTest})
	if err != nil {
		return nil, err
	}
	if len(features) == 0 {
		return nil, tracker.Refusedf("plan: the database has no inventory; run `porttracker inventory scan DIR --execute` first")
	}
	if mod, _, err := tx.GetKV(db.TableMeta, MetaModule); err != nil {
		return nil, err
	} else if p.Upstream.Module != "" && mod != p.Upstream.Module {
		return nil, tracker.Refusedf("plan: written for %s, the database was scanned from %q", p.Upstream.Module, mod)
	}
	res, err := p.Evaluate(features, tests, g)
	if err != nil {
		return nil, err
	}
	rep := &ApplyReport{PerBatch: map[int64][2]int{}, NAByReason: map[string]int{}, Unassigned: res.Unassigned}
	for _, b := range res.FeatureBatch {
		c := rep.PerBatch[b]
		c[0]++
		rep.PerBatch[b] = c
	}
	for _, b := range res.TestBatch {
		c := rep.PerBatch[b]
		c[1]++
		rep.PerBatch[b] = c
	}
	byID := map[int64]db.Item{}
	for _, it := range tests {
		byID[it.ID] = it
	}
	for id, r := range res.NA {
		rep.NAByReason[r]++
		rep.NAList = append(rep.NAList, NAItem{ID: id, Name: byID[id].Name, Reason: r, Why: res.NAWhy[id]})
	}
	sort.Slice(rep.NAList, func(i, j int) bool { return rep.NAList[i].ID < rep.NAList[j].ID })

	existing, err := tx.ListBatches()
	if err != nil {
		return nil, err
	}
	have := map[int64]db.Batch{}
	for _, b := range existing {
		have[b.ID] = b
	}
	planIDs := map[int64]bool{}
	var create []PlanBatch
	for _, b := range p.Batches {
		planIDs[b.ID] = true
		old, ok := have[b.ID]
		if !ok {
			create = append(create, b)
			rep.BatchesCreated = append(rep.BatchesCreated, b.ID)
			continue
		}
		if old.Name != b.Name || fmt.Sprint(old.DependsOn) != fmt.Sprint(sortedIDs(b.DependsOn)) {
			return nil, tracker.Refusedf("plan: batch %d exists as %q depending on %v; the plan has %q depending on %v",
				b.ID, old.Name, old.DependsOn, b.Name, sortedIDs(b.DependsOn))
		}
	}

	reason := "plan " + planName
	type move struct {
		it db.Item
		to int64
	}
	var moves []move
	var nas []db.Item
	for _, list := range [][]db.Item{features, tests} {
		for _, it := range list {
			want, ok := res.FeatureBatch[it.ID], true
			if it.Kind == tracker.KindTest {
				want, ok = res.TestBatch[it.ID]
			}
			if !ok {
				want = 0
			}
			if it.Kind == tracker.KindTest {
				if r, na := res.NA[it.ID]; na {
					want = 0
					if it.Status != tracker.StatusNA {
						if it.Status != tracker.StatusDeferred {
							rep.Skipped = append(rep.Skipped, fmt.Sprintf("test %d %s is %s, not moved to n_a", it.ID, it.Name, it.Status))
						} else {
							it.Reason = r
							nas = append(nas, it)
						}
					}
				}
			}
			// Only items in, or bound for, the plan's batches are the plan's business.
			if it.BatchID == want || (want == 0 && !planIDs[it.BatchID]) {
				continue
			}
			moves = append(moves, move{it, want})
		}
	}
	rep.Moves, rep.NewNA = len(moves), len(nas)

	// Static links: the plan owns every static link of the tests it batches
	// and of the tests in plan batches today.
	owned := map[int64]bool{}
	for tid := range res.TestBatch {
		owned[tid] = true
	}
	for _, it := range tests {
		if planIDs[it.BatchID] {
			owned[it.ID] = true
		}
	}
	var stale [][2]int64
	rows, err := tx.Query(`SELECT feature_id, test_id FROM links WHERE source = 'static'`)
	if err != nil {
		return nil, err
	}
	haveLinks := map[[2]int64]bool{}
	for rows.Next() {
		var l [2]int64
		if err := rows.Scan(&l[0], &l[1]); err != nil {
			rows.Close()
			return nil, err
		}
		haveLinks[l] = true
		if owned[l[1]] && !res.Links[l] {
			stale = append(stale, l)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var add [][2]int64
	for l := range res.Links {
		if !haveLinks[l] {
			add = append(add, l)
		}
	}
	sort.Slice(add, func(i, j int) bool { return add[i][1] < add[j][1] || (add[i][1] == add[j][1] && add[i][0] < add[j][0]) })
	rep.LinksAdded, rep.LinksRemoved = len(add), len(stale)

	if !tx.Writable() {
		return rep, nil
	}
	for _, b := range create {
		if _, err := tx.CreateBatch(db.Batch{ID: b.ID, Name: b.Name, Description: b.Description, DependsOn: sortedIDs(b.DependsOn)}); err != nil {
			return nil, fmt.Errorf("plan: creating batch %d: %w", b.ID, err)
		}
	}
	for _, m := range moves {
		if err := tx.SetItemBatch(m.it, m.to, reason); err != nil {
			return nil, err
		}
	}
	for _, it := range nas {
		if err := tx.SetItemStatus(it, db.StatusChange{To: tracker.StatusNA, Reason: it.Reason}); err != nil {
			return nil, err
		}
	}
	for _, l := range stale {
		if _, err := tx.Exec(`DELETE FROM links WHERE feature_id = ? AND test_id = ? AND source = 'static'`, l[0], l[1]); err != nil {
			return nil, err
		}
	}
	stmt, err := tx.Prepare(`INSERT INTO links (feature_id, test_id, source) VALUES (?, ?, 'static')`)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	for _, l := range add {
		if _, err := stmt.ExecContext(tx.Context(), l[0], l[1]); err != nil {
			return nil, err
		}
	}
	rep.Written = len(create)+len(moves)+len(nas)+len(add)+len(stale) > 0
	return rep, nil
}

func sortedIDs(ids []int64) []int64 {
	out := append([]int64{}, ids...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	if out == nil {
		out = []int64{}
	}
	return out
}

// PlanName is how audit rows refer to a plan file: its base name.
func PlanName(file string) string { return path.Base(strings.ReplaceAll(file, "\\", "/")) }
