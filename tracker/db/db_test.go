package db

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/porttracker/porttracker/tracker"
)

var keepDB = flag.Bool("keepdb", false, "keep each test's porting.db and print its path")

// newTestDB creates a fresh database per test; -keepdb keeps the file.
func newTestDB(t *testing.T, opts ...Option) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	if *keepDB {
		var err error
		dir, err = os.MkdirTemp("", "porttracker-db-test-")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("keeping %s", dir)
	}
	path := filepath.Join(dir, "porting.db")
	d, err := Create(path, opts...)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d, path
}

func fixedClock() func() time.Time {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time { return t0 }
}

func seedItems(t *testing.T, d *DB, kind tracker.Kind, n int) {
	t.Helper()
	err := d.Write(context.Background(), func(tx *Tx) error {
		for i := 1; i <= n; i++ {
			if err := tx.InsertItem(Item{Kind: kind, ID: int64(i), Package: "server", File: "server/x.go",
				StartLine: i * 10, EndLine: i*10 + 5, Name: "f" + string(rune('a'+i%26)) + strings.Repeat("x", i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateThenOpen(t *testing.T) {
	d, path := newTestDB(t)
	v, err := d.SchemaVersion(context.Background())
	if err != nil || v != LatestVersion() {
		t.Fatalf("schema version %d, %v; want %d", v, err, LatestVersion())
	}
	d.Close()
	d2, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer d2.Close()
	err = d2.Read(context.Background(), func(tx *Tx) error {
		n, err := tx.MaxBatchIDs()
		if err != nil || n != 15 {
			t.Errorf("MaxBatchIDs = %d, %v; want 15", n, err)
		}
		var mode string
		if err := tx.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v; want wal", mode, err)
		}
		var fk int
		if err := tx.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCreateRefusesExistingFile(t *testing.T) {
	_, path := newTestDB(t)
	_, err := Create(path)
	if !errors.Is(err, ErrExists) || !errors.Is(err, tracker.ErrDatabase) {
		t.Fatalf("Create over existing file: %v", err)
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// A SQLite header followed by garbage pages.
	badPages := filepath.Join(dir, "badpages.db")
	page := make([]byte, 4096)
	copy(page, sqliteMagic)
	page[16], page[17] = 0x10, 0x00 // page size 4096
	for i := 100; i < len(page); i++ {
		page[i] = 0xA5
	}
	if err := os.WriteFile(badPages, append(page, page...), 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := makeForeignDB(t, dir)
	newer := makeNewerDB(t, dir)

	cases := []struct {
		name string
		path string
		want error
	}{
		{"missing file", filepath.Join(dir, "nope.db"), ErrNotFound},
		{"directory", dir, ErrCorrupt},
		{"not sqlite", garbage, ErrCorrupt},
		{"empty file", empty, ErrCorrupt},
		{"corrupt pages", badPages, ErrCorrupt},
		{"other application", foreign, ErrForeign},
		{"newer schema", newer, ErrNewerSchema},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := os.ReadFile(c.path)
			d, err := Open(c.path)
			if err == nil {
				d.Close()
				t.Fatalf("Open succeeded, want %v", c.want)
			}
			if !errors.Is(err, c.want) || !errors.Is(err, tracker.ErrDatabase) {
				t.Fatalf("Open error %v; want %v wrapped with tracker.ErrDatabase", err, c.want)
			}
			after, _ := os.ReadFile(c.path)
			if string(before) != string(after) {
				t.Errorf("Open modified the refused file")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created the missing file: %v", err)
	}
}

// makeForeignDB writes a valid SQLite file whose application_id is not ours.
func makeForeignDB(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "foreign.db")
	d, err := openSQL(path, "rwc", buildOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"PRAGMA application_id = 42", "CREATE TABLE photos (id INTEGER PRIMARY KEY)", "INSERT INTO photos VALUES (1)"} {
		if _, err := d.sql.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	return path
}

// makeNewerDB writes a porting.db whose user_version is beyond this binary.
func makeNewerDB(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "newer.db")
	d, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.sql.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	d.Close()
	return path
}

func TestMigrateIsIdempotent(t *testing.T) {
	d, _ := newTestDB(t)
	applied, err := d.Migrate(context.Background())
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Migrate applied %v, %v; want nothing", applied, err)
	}
}

func TestMigrateFromOlderVersion(t *testing.T) {
	d, path := newTestDB(t)
	// Pretend the file predates every migration: drop back to version 0
	// with an empty schema but our application id.
	d.Close()
	os.Remove(path)
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	raw, err := openSQL(path, "rwc", buildOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.sql.Exec("PRAGMA application_id = 1347703380"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	d2, err := Open(path)
	if err != nil {
		t.Fatalf("Open of a version-0 porting.db: %v", err)
	}
	defer d2.Close()
	v, err := d2.SchemaVersion(context.Background())
	if err != nil || v != LatestVersion() {
		t.Fatalf("after Open, version %d, %v; want %d", v, err, LatestVersion())
	}
}

func TestWriteRollsBackOnError(t *testing.T) {
	d, _ := newTestDB(t)
	seedItems(t, d, tracker.KindFeature, 3)
	before, err := d.Dump(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = d.Write(context.Background(), func(tx *Tx) error {
		it, err := tx.GetItem(tracker.KindFeature, 1)
		if err != nil {
			return err
		}
		if err := tx.SetItemStatus(it, StatusChange{To: tracker.StatusNA, Reason: "r"}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write error %v, want boom", err)
	}
	after, _ := d.Dump(context.Background())
	if before != after {
		t.Fatalf("failed Write changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func TestWriteRollsBackOnPanic(t *testing.T) {
	d, _ := newTestDB(t)
	seedItems(t, d, tracker.KindFeature, 1)
	before, _ := d.Dump(context.Background())
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic was swallowed")
			}
		}()
		d.Write(context.Background(), func(tx *Tx) error {
			if _, err := tx.Exec("UPDATE items SET reason = 'x'"); err != nil {
				t.Fatal(err)
			}
			panic("boom")
		})
	}()
	after, err := d.Dump(context.Background())
	if err != nil {
		t.Fatalf("database unusable after a panicking Write: %v", err)
	}
	if before != after {
		t.Fatal("panicking Write left changes behind")
	}
}

func TestAuditChainAndReplay(t *testing.T) {
	d, path := newTestDB(t, WithClock(fixedClock()), WithActor("alice"), WithArgv([]string{"porttracker", "x"}))
	seedItems(t, d, tracker.KindFeature, 3)
	ctx := context.Background()
	err := d.Write(ctx, func(tx *Tx) error {
		for _, id := range []int64{1, 2} {
			it, err := tx.GetItem(tracker.KindFeature, id)
			if err != nil {
				return err
			}
			if err := tx.SetItemStatus(it, StatusChange{To: tracker.StatusNA, Reason: "needs a server"}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	problems, err := d.Check(ctx)
	if err != nil || len(problems) != 0 {
		t.Fatalf("Check on a healthy db: %v, %v", problems, err)
	}
	err = d.Read(ctx, func(tx *Tx) error {
		rows, err := tx.ItemAudit("feature", 1)
		if err != nil {
			return err
		}
		if len(rows) != 1 || rows[0].From != "deferred" || rows[0].To != "n_a" || rows[0].Actor != "alice" ||
			rows[0].Argv != `["porttracker","x"]` || rows[0].At != "2025-01-02T03:04:05.000000000Z" {
			t.Errorf("audit history of feature 1 = %+v", rows)
		}
		if rows[0].PrevHash != GenesisHash {
			t.Errorf("first row prev_hash = %s", rows[0].PrevHash)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()

	tamper := []struct {
		name string
		sql  string
		want string
	}{
		{"status edited", "UPDATE items SET status = 'verified' WHERE kind = 'feature' AND id = 3", "status differs from audit: feature 3 is verified"},
		{"audit reason edited", "UPDATE audit SET reason = 'other' WHERE id = 1", "audit row 1: hash mismatch"},
		{"audit row deleted", "DELETE FROM audit WHERE id = 1", "audit row 2: prev_hash does not match"},
		{"n_a without reason", "UPDATE items SET reason = '' WHERE kind = 'feature' AND id = 1", "missing reason: feature 1 is n_a without a reason"},
		{"item in missing batch", "PRAGMA foreign_keys = OFF; UPDATE items SET batch_id = 77 WHERE id = 1", "item in a missing batch: feature 1 is in batch 77"},
		{"item_counts edited", "UPDATE item_counts SET n = n + 1 WHERE status = 'n_a'", "item_counts differ from items: feature batch 0 n_a override=0 drifted=0 removed=0: counted 3, items 2"},
		{"batch cycle", "INSERT INTO batches (id, name) VALUES (1, 'a'), (2, 'b'); INSERT INTO batch_deps VALUES (1, 2), (2, 1)", "batch dependencies form a cycle: 1 -> 2 -> 1"},
	}
	for _, c := range tamper {
		t.Run(c.name, func(t *testing.T) {
			copyPath := filepath.Join(t.TempDir(), "copy.db")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(copyPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			raw, err := openSQL(copyPath, "rw", buildOptions(nil))
			if err != nil {
				t.Fatal(err)
			}
			conn, err := raw.sql.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, c.sql); err != nil {
				t.Fatalf("tamper: %v", err)
			}
			conn.Close()
			raw.Close()
			d, err := Open(copyPath)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			problems, err := d.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, p := range problems {
				if strings.Contains(p, c.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("Check problems %q do not mention %q", problems, c.want)
			}
		})
	}
}

func TestAppendAuditNeedsWriteTx(t *testing.T) {
	d, _ := newTestDB(t)
	err := d.Read(context.Background(), func(tx *Tx) error {
		_, err := tx.AppendAudit(AuditEntry{Kind: "db", Action: "x"})
		return err
	})
	if err == nil {
		t.Fatal("AppendAudit in a read transaction succeeded")
	}
}

func TestVacuumRemovesWAL(t *testing.T) {
	d, path := newTestDB(t)
	seedItems(t, d, tracker.KindTest, 50)
	if err := d.Vacuum(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.Close()
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(path + suffix); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Vacuum and Close", path+suffix)
		}
	}
	d2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	problems, err := d2.Check(context.Background())
	if err != nil || len(problems) > 0 {
		t.Fatalf("Check after vacuum: %v %v", problems, err)
	}
}

func TestFindCycle(t *testing.T) {
	cases := []struct {
		name  string
		graph map[int64][]int64
		want  string
	}{
		{"none", map[int64][]int64{15: {14}, 14: {13}}, ""},
		{"self", map[int64][]int64{3: {3}}, "3 -> 3"},
		{"three", map[int64][]int64{1: {2}, 2: {3}, 3: {1}}, "1 -> 2 -> 3 -> 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := findCycle(c.graph); got != c.want {
				t.Errorf("findCycle = %q, want %q", got, c.want)
			}
		})
	}
}

func TestListItemsBatchPaths(t *testing.T) {
	d, _ := newTestDB(t)
	ctx := context.Background()
	err := d.Write(ctx, func(tx *Tx) error {
		for _, b := range []Batch{{ID: 1, Name: "dense"}, {ID: 2, Name: "sparse"}} {
			if _, err := tx.CreateBatch(b); err != nil {
				return err
			}
		}
		// Batch 1 holds 1-10 except 4 (a dense range, walked by ID); batch 2
		// holds 4, 500 and 9000 (sparse, read through the index).
		for _, id := range []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 500, 9000, 9001} {
			batch := int64(1)
			switch id {
			case 4, 500, 9000:
				batch = 2
			case 9001:
				batch = 0
			}
			if err := tx.InsertItem(Item{Kind: tracker.KindFeature, ID: id, Package: "p", File: "f.go", Name: fmt.Sprint("f", id),
				Target: "store.F", TargetFile: "store/f.go", TargetLine: int(id), BatchID: batch}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		filter ItemFilter
		want   string
	}{
		{ItemFilter{Kind: tracker.KindFeature, BatchID: 1}, "1,2,3,5,6,7,8,9,10"},
		{ItemFilter{Kind: tracker.KindFeature, BatchID: 1, Brief: true}, "1,2,3,5,6,7,8,9,10"},
		{ItemFilter{Kind: tracker.KindFeature, BatchID: 2, Brief: true}, "4,500,9000"},
		{ItemFilter{Kind: tracker.KindFeature, BatchID: 2}, "4,500,9000"},
		{ItemFilter{Kind: tracker.KindFeature, BatchID: 3}, ""},
		{ItemFilter{Kind: tracker.KindFeature, Unbatched: true}, "9001"},
		{ItemFilter{Kind: tracker.KindFeature, BatchID: 1, Limit: 2}, "1,2"},
		{ItemFilter{Kind: tracker.KindTest, BatchID: 1}, ""},
	}
	err = d.Read(ctx, func(tx *Tx) error {
		_, err := tx.ListItems(ItemFilter{Kind: tracker.KindFeature, Brief: true})
		return err
	})
	if err == nil {
		t.Error("a brief list without a batch was accepted")
	}
	for _, c := range cases {
		var got []int64
		err := d.Read(ctx, func(tx *Tx) error {
			items, err := tx.ListItems(c.filter)
			for _, it := range items {
				got = append(got, it.ID)
				if c.filter.Brief && (it.Name == "" || it.TargetLocation() != fmt.Sprintf("store/f.go:%d", it.ID) || it.Package != "" ||
					it.BatchID != c.filter.BatchID || it.Kind != tracker.KindFeature) {
					t.Errorf("brief item %+v", it)
				}
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		gotS := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(got)), ","), "[]")
		if gotS != c.want {
			t.Errorf("%+v: got %s, want %s", c.filter, gotS, c.want)
		}
	}
}

// TestConcurrentWriters: goroutines with their own handles (separate
// connections, so SQLite's file locks arbitrate, as between processes) and
// goroutines sharing one handle all append to the audit chain at once.
// No write may fail with SQLITE_BUSY and the chain must stay linear.
func TestConcurrentWriters(t *testing.T) {
	d, path := newTestDB(t)
	seedItems(t, d, tracker.KindFeature, 16)
	const writers, writes = 8, 25
	errs := make(chan error, 2*writers)
	var wg sync.WaitGroup
	for w := 0; w < 2*writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			h := d
			if w < writers {
				own, err := Open(path, WithActor(fmt.Sprint("w", w)))
				if err != nil {
					errs <- err
					return
				}
				defer own.Close()
				h = own
			}
			for i := 0; i < writes; i++ {
				err := h.Write(context.Background(), func(tx *Tx) error {
					it, err := tx.GetItem(tracker.KindFeature, int64(w%16+1))
					if err != nil {
						return err
					}
					to := tracker.StatusNA
					if it.Status == tracker.StatusNA {
						to = tracker.StatusDeferred
					}
					return tx.SetItemStatus(it, StatusChange{To: to, Reason: fmt.Sprint("round ", i)})
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d write %d: %w", w, i, err)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var n int64
	if err := d.Read(context.Background(), func(tx *Tx) (err error) { n, err = tx.AuditCount(); return err }); err != nil {
		t.Fatal(err)
	}
	if n != 2*writers*writes {
		t.Errorf("%d audit rows, want %d", n, 2*writers*writes)
	}
	problems, err := d.Check(context.Background())
	if err != nil || len(problems) > 0 {
		t.Fatalf("Check: %v %q", err, problems)
	}
}
