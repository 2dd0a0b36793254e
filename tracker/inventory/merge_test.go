package inventory

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// newTestDB creates a fresh porting.db in a temporary directory.
func newTestDB(t *testing.T) *db.DB {
	t.Helper()
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d, err := db.Create(filepath.Join(t.TempDir(), "porting.db"), db.WithClock(func() time.Time { return clock }),
		db.WithActor("test"), db.WithArgv([]string{"porttracker", "test"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var fixtureUpstream = Upstream{Module: "example.com/fixture", Version: "v1", Commit: "c1"}

// mergeTree scans a fixture tree and merges it, writing when execute is set.
func mergeTree(t *testing.T, d *db.DB, root string, up Upstream, execute bool) *MergeReport {
	t.Helper()
	res, err := Scan(context.Background(), root, ScanOptions{SkipBroken: true})
	if err != nil {
		t.Fatal(err)
	}
	var rep *MergeReport
	fn := func(tx *db.Tx) error {
		var err error
		rep, err = Merge(tx, res, up)
		return err
	}
	if execute {
		err = d.Write(context.Background(), fn)
	} else {
		err = d.Read(context.Background(), fn)
	}
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func fixture(name string) string { return filepath.Join("testdata", name) }

// itemsByName returns the live and removed items of a kind keyed by symbol.
func itemsByName(t *testing.T, d *db.DB, kind tracker.Kind) map[string]db.Item {
	t.Helper()
	out := map[string]db.Item{}
	err := d.Read(context.Background(), func(tx *db.Tx) error {
		items, err := tx.ListItems(db.ItemFilter{Kind: kind})
		for _, it := range items {
			out[it.Symbol()] = it
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func auditActions(t *testing.T, d *db.DB) []db.AuditRow {
	t.Helper()
	var rows []db.AuditRow
	err := d.Read(context.Background(), func(tx *db.Tx) error {
		r, err := tx.Query(`SELECT id, kind, item_id, action, from_value, to_value, reason FROM audit ORDER BY id`)
		if err != nil {
			return err
		}
		defer r.Close()
		for r.Next() {
			var a db.AuditRow
			if err := r.Scan(&a.ID, &a.Kind, &a.ItemID, &a.Action, &a.From, &a.To, &a.Reason); err != nil {
				return err
			}
			rows = append(rows, a)
		}
		return r.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestMergeFreshScan(t *testing.T) {
	d := newTestDB(t)
	dry := mergeTree(t, d, fixture("v1"), fixtureUpstream, false)
	if dry.Written || dry.Features.New != 6 || dry.Tests.New != 2 {
		t.Fatalf("dry run: %+v / %+v written=%v, want 6 new features, 2 new tests, nothing written", dry.Features, dry.Tests, dry.Written)
	}
	if n := len(itemsByName(t, d, tracker.KindFeature)); n != 0 {
		t.Fatalf("dry run wrote %d features", n)
	}

	rep := mergeTree(t, d, fixture("v1"), fixtureUpstream, true)
	if !rep.Written || rep.Features.New != 6 || rep.Tests.New != 2 {
		t.Fatalf("execute: %+v / %+v", rep.Features, rep.Tests)
	}
	feats := itemsByName(t, d, tracker.KindFeature)
	// IDs follow file and line order, per kind.
	wantIDs := map[string]int64{"(*store).Store": 1, "(*store).Load": 2, "oldName": 3, "movesToB": 4, "reformatted": 5, "Stable": 6}
	for sym, id := range wantIDs {
		if feats[sym].ID != id {
			t.Errorf("%s has ID %d, want %d", sym, feats[sym].ID, id)
		}
	}
	if tests := itemsByName(t, d, tracker.KindTest); tests["TestStore"].ID != 1 || tests["TestGoesAway"].ID != 2 {
		t.Errorf("test IDs %d, %d, want 1, 2", tests["TestStore"].ID, tests["TestGoesAway"].ID)
	}
	err := d.Read(context.Background(), func(tx *db.Tx) error {
		for k, want := range map[string]string{MetaModule: "example.com/fixture", MetaVersion: "v1", MetaCommit: "c1", MetaRoot: "server"} {
			if got, _, err := tx.GetKV(db.TableMeta, k); err != nil || got != want {
				t.Errorf("meta %s = %q (%v), want %q", k, got, err, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	audit := auditActions(t, d)
	if len(audit) != 1 || audit[0].Action != db.ActionInventoryScan || audit[0].Kind != "db" {
		t.Fatalf("audit %+v, want exactly one inventory_scan row", audit)
	}
}

func TestMergeSameTreeTwiceIsNoop(t *testing.T) {
	d := newTestDB(t)
	mergeTree(t, d, fixture("v1"), fixtureUpstream, true)
	before := itemsByName(t, d, tracker.KindFeature)
	auditBefore := len(auditActions(t, d))

	rep := mergeTree(t, d, fixture("v1"), fixtureUpstream, true)
	if !rep.Empty() || rep.Written {
		t.Fatalf("second scan of the same tree: %+v / %+v meta %v written=%v, want no change", rep.Features, rep.Tests, rep.Meta, rep.Written)
	}
	if rep.Features.Unchanged != 6 || rep.Tests.Unchanged != 2 {
		t.Errorf("unchanged %d features, %d tests, want 6 and 2", rep.Features.Unchanged, rep.Tests.Unchanged)
	}
	if n := len(auditActions(t, d)); n != auditBefore {
		t.Errorf("audit grew from %d to %d rows on a no-change scan", auditBefore, n)
	}
	after := itemsByName(t, d, tracker.KindFeature)
	for sym, it := range before {
		if after[sym] != it {
			t.Errorf("%s changed: %+v -> %+v", sym, it, after[sym])
		}
	}
}

// markStub moves an item to stub the way the tracker does, which takes its
// current body hash as the drift baseline.
func markStub(t *testing.T, d *db.DB, kind tracker.Kind, id int64) {
	t.Helper()
	err := d.Write(context.Background(), func(tx *db.Tx) error {
		it, err := tx.GetItem(kind, id)
		if err != nil {
			return err
		}
		return tx.SetItemStatus(it, db.StatusChange{To: tracker.StatusStub})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMergeRenameMoveBodyChange(t *testing.T) {
	d := newTestDB(t)
	mergeTree(t, d, fixture("v1"), fixtureUpstream, true)
	v1 := itemsByName(t, d, tracker.KindFeature)
	v1Tests := itemsByName(t, d, tracker.KindTest)
	markStub(t, d, tracker.KindFeature, v1["(*store).Store"].ID)
	auditBefore := len(auditActions(t, d))

	up2 := Upstream{Module: "example.com/fixture", Version: "v2", Commit: "c2"}
	rep := mergeTree(t, d, fixture("v2"), up2, true)
	// v2: oldName renamed to newName; movesToB moved to b.go; Store's body
	// changed (drift: it is a stub); a comment line shifts Load and
	// reformatted, whose tokens did not change.
	wantF := Counts{Scanned: 6, New: 1, Moved: 4, Changed: 1, Removed: 1, Drifted: 1, Unchanged: 1}
	if rep.Features != wantF {
		t.Errorf("features %+v, want %+v", rep.Features, wantF)
	}
	wantT := Counts{Scanned: 2, New: 1, Moved: 0, Changed: 1, Removed: 1, Unchanged: 0}
	if rep.Tests != wantT {
		t.Errorf("tests %+v, want %+v", rep.Tests, wantT)
	}

	v2 := itemsByName(t, d, tracker.KindFeature)
	for _, sym := range []string{"(*store).Store", "(*store).Load", "movesToB", "reformatted", "Stable"} {
		if v2[sym].ID != v1[sym].ID {
			t.Errorf("%s renumbered %d -> %d", sym, v1[sym].ID, v2[sym].ID)
		}
	}
	if it := v2["oldName"]; !it.Removed || it.ID != 3 {
		t.Errorf("oldName: %+v, want kept with ID 3 and removed", it)
	}
	if it := v2["newName"]; it.ID != 7 || it.Removed || it.Status != tracker.StatusDeferred {
		t.Errorf("newName: ID %d removed=%v status %s, want next free ID 7, live, deferred", it.ID, it.Removed, it.Status)
	}
	if it := v2["movesToB"]; it.File != "server/b.go" || it.StartLine != 3 {
		t.Errorf("movesToB at %s, want server/b.go:3", it.Location())
	}
	if v2["reformatted"].BodyHash != v1["reformatted"].BodyHash {
		t.Error("reformatted: a layout/comment-only change altered the body hash")
	}
	store := v2["(*store).Store"]
	if !store.Drifted || store.PortedHash != v1["(*store).Store"].BodyHash || store.BodyHash == store.PortedHash {
		t.Errorf("Store: drifted=%v ported=%s body=%s, want drifted with the v1 hash as baseline", store.Drifted, store.PortedHash, store.BodyHash)
	}
	if v2["(*store).Load"].Drifted {
		t.Error("Load drifted although deferred and unchanged")
	}
	tests := itemsByName(t, d, tracker.KindTest)
	if tests["TestStore"].ID != v1Tests["TestStore"].ID || tests["TestStore"].Drifted {
		t.Errorf("TestStore: %+v, want same ID, changed but not drifted (deferred)", tests["TestStore"])
	}
	if !tests["TestGoesAway"].Removed || tests["TestNewName"].ID != 3 {
		t.Errorf("tests: TestGoesAway removed=%v, TestNewName ID %d; want removed and 3", tests["TestGoesAway"].Removed, tests["TestNewName"].ID)
	}

	audit := auditActions(t, d)[auditBefore:]
	count := map[string]int{}
	for _, a := range audit {
		count[a.Action]++
	}
	if count[db.ActionInventoryScan] != 1 || count[db.ActionDrift] != 1 || count[db.ActionRemoved] != 2 || len(audit) != 4 {
		t.Errorf("audit rows %v, want one inventory_scan, one drift, two removed", count)
	}
	for _, a := range audit {
		if a.Action == db.ActionDrift && (a.ItemID != store.ID || a.From != store.PortedHash || a.To != store.BodyHash) {
			t.Errorf("drift row %+v, want item %d from the baseline to the new hash", a, store.ID)
		}
	}

	// The same v2 again: nothing.
	if again := mergeTree(t, d, fixture("v2"), up2, true); !again.Empty() {
		t.Errorf("rescan of v2: %+v / %+v", again.Features, again.Tests)
	}

	// Back to v1: oldName comes back under its old ID, Store's drift clears.
	back := mergeTree(t, d, fixture("v1"), fixtureUpstream, true)
	if back.Features.Restored != 1 || back.Features.Removed != 1 {
		t.Errorf("back to v1: %+v, want oldName restored and newName removed", back.Features)
	}
	v1again := itemsByName(t, d, tracker.KindFeature)
	if it := v1again["oldName"]; it.Removed || it.ID != 3 {
		t.Errorf("oldName after restore: %+v", it)
	}
	if v1again["(*store).Store"].Drifted {
		t.Error("Store still drifted with the upstream body back at its baseline")
	}
}

func TestMergeLeavesBrokenFilesAndOtherSubtreesAlone(t *testing.T) {
	d := newTestDB(t)
	mergeTree(t, d, fixture("v1"), fixtureUpstream, true)

	// a.go stops parsing: with --skip-broken its items are not "removed".
	root := writeTree(t, map[string]string{
		"server/a.go":       "package server\n\nfunc (s *store) Store() int {\n",
		"server/a_test.go":  "package server\n",
		"server/sub/sub.go": "package sub\n\nfunc Stable() {}\n",
	})
	rep := mergeTree(t, d, root, fixtureUpstream, false)
	if rep.Features.Removed != 0 || rep.Tests.Removed != 2 {
		t.Errorf("broken a.go: %+v / %+v, want no feature removed (a.go skipped), both tests removed", rep.Features, rep.Tests)
	}

	// Scanning only server/sub leaves the items of server/ alone.
	res, err := Scan(context.Background(), fixture("v1"), ScanOptions{Include: []string{"server/sub"}})
	if err != nil {
		t.Fatal(err)
	}
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		rep, err := Merge(tx, res, Upstream{})
		if err == nil && (rep.Features.Removed != 0 || rep.Tests.Removed != 0) {
			t.Errorf("scan of server/sub removed items outside it: %+v / %+v", rep.Features, rep.Tests)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
