package db

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/tracker"
)

// createAtVersion makes a porting.db holding only migrations 1..version, as
// a binary of that schema version would have left it.
func createAtVersion(t *testing.T, version int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "porting.db")
	raw, err := openSQL(path, "rwc", buildOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.sql.Exec(fmt.Sprintf("PRAGMA application_id = %d", ApplicationID)); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations[:version] {
		if m.after != nil {
			t.Fatalf("%s has a Go step; createAtVersion only runs scripts", m.name)
		}
		if _, err := raw.sql.Exec(m.script); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	if _, err := raw.sql.Exec(fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		t.Fatal(err)
	}
	return path
}

// v3Evidence is an evidence row as schema 3 stored it, argv inline.
type v3Evidence struct {
	id     int64
	gate   string
	item   int64
	argv   string
	logID  any
	detail string
}

// Schema 3 repeated one go test argv on every item's row; 4 stores it once
// and every reader still sees the same argv on the same evidence id.
func TestMigrateEvidenceCommandsFromVersion3(t *testing.T) {
	path := createAtVersion(t, 3)
	shared := `["go","test","-run","^(` + strings.Repeat("TestLongName|", 400) + `TestLast)$","./store"]`
	gut := `[["go","test","-run","^TestA$","./store"],["go","test","-run","^TestB$","./store"]]`
	rows := []v3Evidence{
		{1, "test", 10, shared, 1, "caught by TestA"},
		{2, "test", 11, shared, 1, "passed"},
		{3, "test", 12, shared, 1, "passed"},
		{4, "gut", 10, gut, 2, "caught by TestA"},
		{5, "stub", 10, `[]`, nil, ""},
		{7, "stub", 11, `[]`, nil, ""},
		{8, "build", 10, `["go","build","./store"]`, 3, ""},
	}
	raw, err := openSQL(path, "rw", buildOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := raw.sql.Exec(`INSERT INTO evidence_logs (id, data) VALUES (?, ?)`, i, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rows {
		if _, err := raw.sql.Exec(`INSERT INTO evidence (id, gate, kind, item_id, verdict, detail, argv, started_at, log_id)
			VALUES (?, ?, 'feature', ?, 'pass', ?, ?, '2025-01-02T03:04:05.000000000Z', ?)`,
			r.id, r.gate, r.item, r.detail, r.argv, r.logID); err != nil {
			t.Fatal(err)
		}
	}
	// Evidence 9 was pruned: its id must never be handed out again.
	if _, err := raw.sql.Exec(`INSERT INTO evidence (id, gate, kind, item_id, verdict, started_at)
		VALUES (9, 'stub', 'feature', 99, 'pass', 'x')`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.sql.Exec(`DELETE FROM evidence WHERE id = 9`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	d, err := Open(path)
	if err != nil {
		t.Fatalf("Open migrates 3 -> 4: %v", err)
	}
	defer d.Close()
	ctx := context.Background()
	if v, err := d.SchemaVersion(ctx); err != nil || v != LatestVersion() {
		t.Fatalf("version %d, %v; want %d", v, err, LatestVersion())
	}
	if problems, err := d.Check(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("db check after migration: %v %q", err, problems)
	}

	err = d.Write(ctx, func(tx *Tx) error {
		var commands int
		if err := tx.QueryRow(`SELECT count(*) FROM evidence_commands`).Scan(&commands); err != nil {
			return err
		}
		if commands != 4 {
			t.Errorf("%d command rows, want 4 (one per distinct argv)", commands)
		}
		var argvColumns int
		if err := tx.QueryRow(`SELECT count(*) FROM pragma_table_info('evidence') WHERE name = 'argv'`).Scan(&argvColumns); err != nil {
			return err
		}
		if argvColumns != 0 {
			t.Errorf("evidence still has its argv column")
		}
		for _, r := range rows {
			var argv, detail string
			var logID any
			if err := tx.QueryRow(`SELECT zstd_text(c.argv_z), e.detail, e.log_id FROM evidence e
				JOIN evidence_commands c ON c.id = e.command_id WHERE e.id = ?`, r.id).Scan(&argv, &detail, &logID); err != nil {
				return fmt.Errorf("evidence %d: %w", r.id, err)
			}
			if argv != r.argv || detail != r.detail || fmt.Sprint(logID) != fmt.Sprint(r.logID) {
				t.Errorf("evidence %d = %.40q %q %v, want %.40q %q %v", r.id, argv, detail, logID, r.argv, r.detail, r.logID)
			}
		}
		// The readers see the argv they saw before.
		latest, err := tx.LatestEvidence(tracker.KindFeature, 10)
		if err != nil {
			return err
		}
		var got []string
		for _, e := range latest {
			got = append(got, fmt.Sprintf("%d %s %s", e.ID, e.Gate, e.Argv))
		}
		want := []string{"8 build " + rows[6].argv, "4 gut " + gut, "5 stub []", "1 test " + shared}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("LatestEvidence(feature 10) =\n%.200q\nwant\n%.200q", got, want)
		}
		// A new row gets an id past the pruned high-water mark.
		id, err := tx.CommandID(shared)
		if err != nil {
			return err
		}
		res, err := tx.Exec(`INSERT INTO evidence (gate, kind, item_id, verdict, command_id, started_at)
			VALUES ('test', 'feature', 13, 'pass', ?, 'x')`, id)
		if err != nil {
			return err
		}
		newID, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if newID != 10 {
			t.Errorf("next evidence id %d, want 10 (9 was used before the migration)", newID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCommandIDStoresEachArgvOnce(t *testing.T) {
	d, _ := newTestDB(t)
	err := d.Write(context.Background(), func(tx *Tx) error {
		a1, err := tx.CommandID(`["go","test"]`)
		if err != nil {
			return err
		}
		b, err := tx.CommandID(`["go","build"]`)
		if err != nil {
			return err
		}
		a2, err := tx.CommandID(`["go","test"]`)
		if err != nil {
			return err
		}
		if a1 != a2 || a1 == b || a1 == 0 || b == 0 {
			t.Errorf("ids %d, %d, %d: want the same id for the same argv and another for another", a1, b, a2)
		}
		var sha string
		var argvZ []byte
		if err := tx.QueryRow(`SELECT sha, argv_z FROM evidence_commands WHERE id = ?`, b).Scan(&sha, &argvZ); err != nil {
			return err
		}
		argv, err := DecompressArgv(argvZ)
		if err != nil {
			return err
		}
		if sha != CommandSHA(`["go","build"]`) || argv != `["go","build"]` {
			t.Errorf("command %d = %s %s", b, sha, argv)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCommandSHA(t *testing.T) {
	// sha256("[]"), the key of a gate that ran no command.
	if got, want := CommandSHA("[]"), "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"; got != want {
		t.Errorf("CommandSHA([]) = %s, want %s", got, want)
	}
}

// Pruning leaves commands and logs no row cites; PruneEvidenceOrphans drops
// exactly those, and db check reports any that remain.
func TestPruneEvidenceOrphans(t *testing.T) {
	d, _ := newTestDB(t)
	ctx := context.Background()
	insert := func(tx *Tx, argv string, logID any) error {
		id, err := tx.CommandID(argv)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO evidence (gate, kind, item_id, verdict, command_id, started_at, log_id)
			VALUES ('test', 'feature', 1, 'pass', ?, 'x', ?)`, id, logID)
		return err
	}
	err := d.Write(ctx, func(tx *Tx) error {
		for i := 1; i <= 2; i++ {
			if _, err := tx.Exec(`INSERT INTO evidence_logs (id, data) VALUES (?, x'00')`, i); err != nil {
				return err
			}
		}
		if err := insert(tx, `["old"]`, 1); err != nil {
			return err
		}
		if err := insert(tx, `["kept"]`, 2); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM evidence WHERE id = 1`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	problems, err := d.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(problems, "\n")
	for _, want := range []string{"unreferenced evidence command", "unreferenced evidence log"} {
		if !strings.Contains(joined, want) {
			t.Errorf("db check before pruning = %q, want a %q problem", problems, want)
		}
	}
	if err := d.Write(ctx, func(tx *Tx) error { return tx.PruneEvidenceOrphans() }); err != nil {
		t.Fatal(err)
	}
	err = d.Read(ctx, func(tx *Tx) error {
		argvs, err := queryStrings(tx, `SELECT zstd_text(argv_z) FROM evidence_commands`)
		if err != nil {
			return err
		}
		logs, err := queryStrings(tx, `SELECT id FROM evidence_logs`)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(argvs, []string{`["kept"]`}) || !reflect.DeepEqual(logs, []string{"2"}) {
			t.Errorf("after pruning: commands %q, logs %q; want only the cited ones", argvs, logs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if problems, err := d.Check(ctx); err != nil || len(problems) > 0 {
		t.Errorf("db check after pruning: %v %q", err, problems)
	}
}

// db check decompresses each command and recomputes its key, so an argv
// edited by hand or a damaged frame shows.
func TestCheckEvidenceCommandKey(t *testing.T) {
	cases := []struct {
		name  string
		argvZ []byte
		want  []string
	}{
		{"edited argv", CompressArgv(`["go","vet"`), []string{"evidence command key", "argv is not a JSON array"}},
		{"not zstd", []byte(`["go","test"]`), []string{"argv does not decompress"}},
		{"left empty", []byte{}, []string{"argv does not decompress"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, _ := newTestDB(t)
			ctx := context.Background()
			err := d.Write(ctx, func(tx *Tx) error {
				id, err := tx.CommandID(`["go","test"]`)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(`INSERT INTO evidence (gate, kind, item_id, verdict, command_id, started_at)
					VALUES ('test', 'feature', 1, 'pass', ?, 'x')`, id); err != nil {
					return err
				}
				_, err = tx.Exec(`UPDATE evidence_commands SET argv_z = ? WHERE id = ?`, c.argvZ, id)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			problems, err := d.Check(ctx)
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(problems, "\n")
			for _, want := range c.want {
				if !strings.Contains(joined, want) {
					t.Errorf("db check = %q, want a %q problem", problems, want)
				}
			}
			// A reader reports the damage instead of returning a wrong argv.
			err = d.Read(ctx, func(tx *Tx) error {
				_, err := tx.LatestEvidence(tracker.KindFeature, 1)
				return err
			})
			if c.name != "edited argv" && err == nil {
				t.Errorf("LatestEvidence read a damaged argv without an error")
			}
		})
	}
}
