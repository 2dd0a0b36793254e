package gates

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// A port test that was deleted or renamed must not stay linked: its stale
// link would demand a run of a test that no longer exists (seen when the
// gates ran on a checkout without a helper's uncommitted test file).
func TestPrunePortLinksDropsVanishedTests(t *testing.T) {
	d, err := db.Create(filepath.Join(t.TempDir(), "porting.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	err = d.Write(ctx, func(tx *db.Tx) error {
		for _, ref := range []evidence.TestRef{{Pkg: "./store", Name: "TestKept"}, {Pkg: "./store", Name: "TestGone"}, {Pkg: "./store/avl", Name: "TestGone"}} {
			if err := replacePortLinks(tx, ref, []int64{7, 8}); err != nil {
				return err
			}
		}
		return prunePortLinks(tx, "./store", []string{"TestKept", "TestOther"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []evidence.TestRef
	err = d.Read(ctx, func(tx *db.Tx) error {
		got, err = portLinks(tx, 7)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []evidence.TestRef{{Pkg: "./store", Name: "TestKept"}, {Pkg: "./store/avl", Name: "TestGone"}}
	if !slices.Equal(got, want) {
		t.Fatalf("links of feature 7 = %v, want %v (only ./store's vanished test dropped)", got, want)
	}
}

// One go test command proves many items, so its argv is stored once and
// cited by every item's row; when pruning drops the last row citing an argv
// or a log, that row goes too, and db vacuum gives the space back.
func TestWriteRowsSharesCommandsAndPrunesOrphans(t *testing.T) {
	path := filepath.Join(t.TempDir(), "porting.db")
	d, err := db.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.Write(ctx, func(tx *db.Tx) error { return tx.SetKV(db.TablePolicy, db.PolicyEvidenceKeep, "1") }); err != nil {
		t.Fatal(err)
	}
	// runArgv is one run's go test argv: a long -run list, as the test gate builds.
	runArgv := func(run int) []string {
		return []string{"go", "test", "-run", fmt.Sprintf("^(%sTestRun%d)$", strings.Repeat("TestSomeLongPortedName|", 4000), run), "./store"}
	}
	const items = 20
	for run := range 3 {
		log := &logBlob{data: []byte(fmt.Sprintf("log of run %d", run))}
		var rows []*pendingRow
		for item := range int64(items) {
			rows = append(rows, &pendingRow{log: log, rec: evidence.Record{
				Gate: evidence.GateTest, Kind: evidence.Feature, ItemID: item + 1, Verdict: evidence.Pass,
				Commands: [][]string{runArgv(run)}, Start: time.Unix(int64(run), 0),
			}})
		}
		if err := d.Write(ctx, func(tx *db.Tx) error { return writeRows(tx, rows) }); err != nil {
			t.Fatal(err)
		}
	}
	err = d.Read(ctx, func(tx *db.Tx) error {
		var evidenceRows, commands, logs int
		for q, n := range map[string]*int{`SELECT count(*) FROM evidence`: &evidenceRows,
			`SELECT count(*) FROM evidence_commands`: &commands, `SELECT count(*) FROM evidence_logs`: &logs} {
			if err := tx.QueryRow(q).Scan(n); err != nil {
				return err
			}
		}
		if evidenceRows != items || commands != 1 || logs != 1 {
			t.Errorf("%d evidence rows, %d commands, %d logs; want %d, 1, 1 (older runs pruned with what they alone cited)",
				evidenceRows, commands, logs, items)
		}
		rows, err := History(tx, tracker.KindFeature, items, "test", true)
		if err != nil {
			return err
		}
		want := commandsJSON([][]string{runArgv(2)})
		if len(rows) != 1 || rows[0].Argv != want || string(rows[0].Log) != "log of run 2" {
			t.Errorf("history of feature %d = %d rows, first argv %.60q log %q; want run 2's", items, len(rows), rows[0].Argv, rows[0].Log)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := d.Check(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("db check: %v %q", err, problems)
	}
	if err := d.Vacuum(ctx); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	// Each argv is ~90 KB: 3 runs x 20 items inline would be ~5 MB; one
	// stored argv plus the schema stays well under 1 MB.
	if fi.Size() > 1<<20 {
		t.Errorf("porting.db is %d bytes after vacuum, want under 1 MiB", fi.Size())
	}
}
