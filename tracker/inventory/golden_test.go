package inventory

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// committedDB opens a copy of the repository's porting.db: only the main
// file is copied, so a porting.db committed without its WAL checkpointed
// shows up here as missing data.
func committedDB(tb testing.TB) *db.DB {
	tb.Helper()
	src, err := os.Open(filepath.Join("..", "..", "porting.db"))
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(tb.TempDir(), "porting.db")
	dst, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		tb.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		tb.Fatal(err)
	}
	d, err := db.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

func TestCommittedDBMatchesPlan(t *testing.T) {
	p, err := LoadPlan(filepath.Join("..", "..", "plan", "storage.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := committedDB(t)
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		for k, want := range map[string]string{MetaModule: p.Upstream.Module, MetaVersion: p.Upstream.Version,
			MetaCommit: "d3bc0453384d00d37991b084263e59af828fa90d", MetaRoot: "server"} {
			if got, _, _ := tx.GetKV(db.TableMeta, k); got != want {
				t.Errorf("meta %s = %q, want %q", k, got, want)
			}
		}

		// Batches: same ids, names and dependencies, and the 15 -> 14 -> 13 chain.
		batches, err := tx.ListBatches()
		if err != nil {
			return err
		}
		got := map[int64]string{}
		for _, b := range batches {
			got[b.ID] = fmt.Sprintf("%s %v", b.Name, b.DependsOn)
		}
		planBatch := map[int64]PlanBatch{}
		for _, b := range p.Batches {
			planBatch[b.ID] = b
			if want := fmt.Sprintf("%s %v", b.Name, sortedIDs(b.DependsOn)); got[b.ID] != want {
				t.Errorf("batch %d in porting.db is %q, plan says %q", b.ID, got[b.ID], want)
			}
		}
		if len(batches) != len(p.Batches) {
			t.Errorf("porting.db has %d batches, the plan %d", len(batches), len(p.Batches))
		}
		if got[15] != "MsgBlock + ConsumerFileStore [14]" || got[14] != "FileStore Write/Lifecycle [13]" {
			t.Errorf("dependency chain: 15=%q 14=%q", got[15], got[14])
		}

		features, err := tx.ListItems(db.ItemFilter{Kind: tracker.KindFeature})
		if err != nil {
			return err
		}
		tests, err := tx.ListItems(db.ItemFilter{Kind: tracker.KindTest})
		if err != nil {
			return err
		}
		if len(features) < 3800 || len(tests) < 3400 {
			t.Errorf("inventory has %d features and %d tests, want the whole of server/ (~3,900 and ~3,500)", len(features), len(tests))
		}

		// Items moved by hand after the plan (an audited 'move' with another
		// reason) are the porters' decision, not a disagreement.
		movedByHand := map[string]bool{}
		moves, err := tx.Query(`SELECT kind, item_id, reason FROM audit WHERE action = 'move' ORDER BY id`)
		if err != nil {
			return err
		}
		for moves.Next() {
			var kind, reason string
			var id int64
			if err := moves.Scan(&kind, &id, &reason); err != nil {
				moves.Close()
				return err
			}
			movedByHand[fmt.Sprint(kind, id)] = reason != "plan storage.json"
		}
		moves.Close()

		// Every feature sits in the batch whose selectors take it, and in no
		// other: explicit selectors of two batches never both match.
		perBatch := map[int64]int{}
		for _, it := range features {
			var explicit []int64
			var rest int64
			for _, b := range p.Batches {
				for _, s := range b.Features {
					if !s.matches(it) {
						continue
					}
					if s.Rest {
						rest = b.ID
					} else if len(explicit) == 0 || explicit[len(explicit)-1] != b.ID {
						explicit = append(explicit, b.ID)
					}
				}
			}
			var want int64
			switch {
			case len(explicit) > 1:
				t.Errorf("feature %d %s is selected by batches %v", it.ID, it.Symbol(), explicit)
			case len(explicit) == 1:
				want = explicit[0]
			default:
				want = rest
			}
			if it.Removed {
				want = 0
			}
			if it.BatchID != want && !movedByHand[fmt.Sprint(it.Kind, it.ID)] {
				t.Errorf("feature %d %s %s is in batch %d, plan says %d", it.ID, it.Symbol(), it.Location(), it.BatchID, want)
			}
			perBatch[it.BatchID]++
		}
		for _, b := range p.Batches {
			if perBatch[b.ID] == 0 {
				t.Errorf("batch %d has no features", b.ID)
			}
		}

		// Tests: batched ones in plan batches; those the plan made n_a are
		// in no batch.
		reasons := map[string]bool{}
		for _, r := range p.Tests.NA {
			reasons[r.Reason] = true
		}
		batchedTests := map[int64]bool{}
		for _, it := range tests {
			if it.BatchID != 0 {
				if _, ok := planBatch[it.BatchID]; !ok {
					t.Errorf("test %d in batch %d, which the plan does not have", it.ID, it.BatchID)
				}
				batchedTests[it.ID] = true
			}
			if it.Status == tracker.StatusNA && reasons[it.Reason] && it.BatchID != 0 {
				t.Errorf("n_a test %d %s: reason %q batch %d", it.ID, it.Name, it.Reason, it.BatchID)
			}
		}

		// Static links: between existing items, from tests the plan batched.
		known := map[int64]bool{}
		for _, it := range features {
			known[it.ID] = true
		}
		for _, it := range tests {
			if movedByHand[fmt.Sprint(it.Kind, it.ID)] {
				batchedTests[it.ID] = true
			}
		}
		rows, err := tx.Query(`SELECT feature_id, test_id FROM links WHERE source = 'static'`)
		if err != nil {
			return err
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var f, tid int64
			if err := rows.Scan(&f, &tid); err != nil {
				return err
			}
			n++
			if !batchedTests[tid] || !known[f] {
				t.Errorf("static link feature %d -> test %d outside the plan's batches", f, tid)
			}
		}
		if n == 0 {
			t.Error("no static links")
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := d.Check(context.Background()); err != nil || len(problems) > 0 {
		t.Errorf("db check of the committed porting.db: %v %v", problems, err)
	}
}

func TestCommittedDBBatch15HoldsBlocksAndConsumers(t *testing.T) {
	d := committedDB(t)
	err := d.Read(context.Background(), func(tx *db.Tx) error {
		items, err := tx.ListItems(db.ItemFilter{Kind: tracker.KindFeature, BatchID: 15})
		if err != nil {
			return err
		}
		recv := map[string]int{}
		for _, it := range items {
			recv[it.Receiver]++
			if it.File != "server/filestore.go" || it.StartLine == 0 {
				t.Errorf("batch 15 feature %d %s at %s", it.ID, it.Symbol(), it.Location())
			}
		}
		if recv["*msgBlock"] < 90 || recv["*consumerFileStore"] < 30 {
			t.Errorf("batch 15 receivers %v, want the msgBlock and consumerFileStore methods", recv)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
