// Package seed builds porting.db files for tests and benchmarks through the
// tracker/db API (never hand-written SQL), so fixtures obey the same rules
// and audit chain as real databases.
package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// Clock is the fixed time seeded databases are written at.
func Clock() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

func open(path string) (*db.DB, error) {
	return db.Create(path, db.WithClock(Clock), db.WithActor("seed"), db.WithArgv([]string{"seed"}))
}

// Small creates the database the command lines run against:
//
//   - batches 13 "FileStore Read/Query" (complete), 14 "FileStore
//     Write/Lifecycle" (complete, empty, depends on 13), 15 "MsgBlock +
//     ConsumerFileStore" (pending, ready, depends on 14) and 16 "Cluster"
//     (pending, depends on 15);
//   - features 951-954, 971 (stub, in 15, targets resolved), 1259 (deferred
//     with a blocker, in 15), 960-965 (deferred, unbatched), 100 and 101
//     (verified in 13), 102 (n_a in 13);
//   - tests 368 and 373 (stub, in 15), 400 (deferred, unbatched, statically
//     linked to feature 951), 10 (verified in 13);
//   - links: 951<->368 coverage, 952<->373 coverage, 951<->400 static.
func Small(path string) error {
	d, err := open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	return d.Write(ctx, func(tx *db.Tx) error {
		for k, v := range map[string]string{"upstream_module": "github.com/nats-io/nats-server/v2",
			"upstream_version": "v2.14.5", "upstream_commit": "d3bc0453384d00d37991b084263e59af828fa90d"} {
			if err := tx.SetKV(db.TableMeta, k, v); err != nil {
				return err
			}
		}
		batches := []db.Batch{
			{ID: 13, Name: "FileStore Read/Query"},
			{ID: 14, Name: "FileStore Write/Lifecycle", DependsOn: []int64{13}},
			{ID: 15, Name: "MsgBlock + ConsumerFileStore", DependsOn: []int64{14}},
			{ID: 16, Name: "Cluster", DependsOn: []int64{15}},
		}
		for _, b := range batches {
			if _, err := tx.CreateBatch(b); err != nil {
				return err
			}
		}
		feature := func(id int64, recv, name string, line int, batch int64) db.Item {
			return db.Item{Kind: tracker.KindFeature, ID: id, Package: "server", File: "server/filestore.go",
				StartLine: line, EndLine: line + 20, Receiver: recv, Name: name,
				Signature: fmt.Sprintf("func (mb %s) %s() error", recv, name), BodyHash: fmt.Sprintf("h%d", id),
				TargetPkg: "./store", Target: fmt.Sprintf("store.(%s).%s", recv, name), BatchID: batch}
		}
		items := []db.Item{
			feature(951, "*msgBlock", "compact", 5100, 15),
			feature(952, "*msgBlock", "loadMsgs", 5200, 15),
			feature(953, "*msgBlock", "flushPendingMsgs", 5300, 15),
			feature(954, "*msgBlock", "writeIndexInfo", 5400, 15),
			feature(971, "*consumerFileStore", "Update", 9100, 15),
			feature(1259, "*consumerFileStore", "encryptState", 9900, 15),
			feature(100, "*fileStore", "LoadMsg", 2000, 13),
			feature(101, "*fileStore", "State", 2100, 13),
			feature(102, "*fileStore", "debugDump", 2200, 13),
		}
		for id := int64(960); id <= 965; id++ {
			items = append(items, feature(id, "*raft", fmt.Sprintf("step%d", id), int(id)*3, 0))
		}
		test := func(id int64, name string, line int, batch int64) db.Item {
			return db.Item{Kind: tracker.KindTest, ID: id, Package: "server", File: "server/filestore_test.go",
				StartLine: line, EndLine: line + 40, Name: name, Signature: "func " + name + "(t *testing.T)",
				TargetPkg: "./store", Target: "store." + name, BatchID: batch}
		}
		items = append(items,
			test(368, "TestFileStoreCompact", 3680, 15),
			test(373, "TestFileStoreLoadMsgs", 3730, 15),
			test(400, "TestFileStoreMsgBlockScan", 4000, 0),
			test(10, "TestFileStoreBasics", 100, 13),
		)
		for i := range items {
			it := &items[i]
			if it.BatchID == 15 || it.BatchID == 13 {
				it.TargetFile, it.TargetLine = "store/block.go", it.StartLine/10
			}
			if err := tx.InsertItem(*it); err != nil {
				return err
			}
		}
		for _, l := range []db.Link{
			{FeatureID: 951, TestID: 368, Source: "coverage"},
			{FeatureID: 952, TestID: 373, Source: "coverage"},
			{FeatureID: 951, TestID: 400, Source: "static"},
		} {
			if err := tx.AddLink(l); err != nil {
				return err
			}
		}
		moves := []struct {
			kind     tracker.Kind
			id       int64
			to       tracker.Status
			reason   string
			override bool
		}{
			{tracker.KindFeature, 951, tracker.StatusStub, "", false},
			{tracker.KindFeature, 952, tracker.StatusStub, "", false},
			{tracker.KindFeature, 953, tracker.StatusStub, "", false},
			{tracker.KindFeature, 954, tracker.StatusStub, "", false},
			{tracker.KindFeature, 971, tracker.StatusStub, "", false},
			{tracker.KindFeature, 1259, tracker.StatusDeferred, "blocked: needs key management", false},
			{tracker.KindFeature, 100, tracker.StatusVerified, "", false},
			{tracker.KindFeature, 101, tracker.StatusVerified, "equivalent mutant: accessor", true},
			{tracker.KindFeature, 102, tracker.StatusNA, "debug helper, not ported", false},
			{tracker.KindTest, 368, tracker.StatusStub, "", false},
			{tracker.KindTest, 373, tracker.StatusStub, "", false},
			{tracker.KindTest, 10, tracker.StatusVerified, "", false},
		}
		for _, m := range moves {
			it, err := tx.GetItem(m.kind, m.id)
			if err != nil {
				return err
			}
			if err := tx.SetItemStatus(it, db.StatusChange{To: m.to, Reason: m.reason, Override: m.override}); err != nil {
				return err
			}
		}
		b13, err := tx.GetBatch(13)
		if err != nil {
			return err
		}
		if err := tx.SetBatchState(b13, db.BatchStarted); err != nil {
			return err
		}
		b13.State = db.BatchStarted
		if err := tx.SetBatchState(b13, db.BatchComplete); err != nil {
			return err
		}
		b14, err := tx.GetBatch(14)
		if err != nil {
			return err
		}
		if err := tx.SetBatchState(b14, db.BatchStarted); err != nil {
			return err
		}
		b14.State = db.BatchStarted
		return tx.SetBatchState(b14, db.BatchComplete)
	})
}

// Large describes a generated benchmark database.
type Large struct {
	Features, Tests, Batches int
}

// Generate writes a large database quickly: one transaction, prepared
// statements. Items are spread evenly over the batches (batch i depends on
// i-1); every feature has a coverage link to two tests and a static link to
// one; every 20th item gets a status change through SetItemStatus so the
// audit log and statuses are realistic.
func Generate(path string, spec Large) error {
	d, err := open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := context.Background()
	err = d.Write(ctx, func(tx *db.Tx) error {
		for b := 1; b <= spec.Batches; b++ {
			batch := db.Batch{ID: int64(b), Name: fmt.Sprintf("batch %03d", b)}
			if b > 1 {
				batch.DependsOn = []int64{int64(b - 1)}
			}
			if _, err := tx.CreateBatch(batch); err != nil {
				return err
			}
		}
		ins, err := tx.NewItemInserter()
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, part := range []struct {
			kind tracker.Kind
			n    int
		}{{tracker.KindFeature, spec.Features}, {tracker.KindTest, spec.Tests}} {
			for i := 1; i <= part.n; i++ {
				batch := int64((i-1)*spec.Batches/part.n + 1)
				it := db.Item{Kind: part.kind, ID: int64(i), Package: "server", File: fmt.Sprintf("server/file%03d.go", i%500),
					StartLine: i % 5000, EndLine: i%5000 + 30, Name: fmt.Sprintf("Func%d", i),
					Signature: fmt.Sprintf("func Func%d(a int, b string) (int, error)", i), BodyHash: fmt.Sprintf("%064x", i),
					TargetPkg: "./store", Target: fmt.Sprintf("store.Func%d", i),
					TargetFile: fmt.Sprintf("store/file%03d.go", i%500), TargetLine: i % 5000, BatchID: batch}
				if part.kind == tracker.KindFeature && i%3 == 0 {
					it.Receiver = "*msgBlock"
				}
				if part.kind == tracker.KindTest {
					it.Name = fmt.Sprintf("TestFunc%d", i)
					it.Signature = "func " + it.Name + "(t *testing.T)"
					it.Target = "store." + it.Name
				}
				if i%10 == 0 {
					it.BatchID = 0 // some unplanned items
				}
				if err := ins.Insert(it); err != nil {
					return err
				}
			}
		}
		link, err := tx.Prepare(`INSERT OR IGNORE INTO links (feature_id, test_id, source) VALUES (?, ?, ?)`)
		if err != nil {
			return err
		}
		defer link.Close()
		for f := 1; f <= spec.Features; f++ {
			t1 := (f*2-1)%spec.Tests + 1
			t2 := (f*2)%spec.Tests + 1
			for _, l := range []struct {
				test   int
				source string
			}{{t1, "coverage"}, {t2, "coverage"}, {t1, "static"}} {
				if _, err := link.ExecContext(tx.Context(), f, l.test, l.source); err != nil {
					return err
				}
			}
		}
		for _, part := range []struct {
			kind tracker.Kind
			n    int
		}{{tracker.KindFeature, spec.Features}, {tracker.KindTest, spec.Tests}} {
			for i := 20; i <= part.n; i += 20 {
				it, err := tx.GetItem(part.kind, int64(i))
				if err != nil {
					return err
				}
				c := db.StatusChange{To: tracker.StatusStub}
				if i%100 == 0 {
					c = db.StatusChange{To: tracker.StatusNA, Reason: "needs a running server"}
				}
				if err := tx.SetItemStatus(it, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return d.Vacuum(ctx)
}
