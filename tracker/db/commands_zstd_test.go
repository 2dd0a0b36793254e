package db

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/tracker"
)

// zstdMagic opens every zstd frame (RFC 8878).
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

func TestCompressArgvRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		argv string
	}{
		{"no command", `[]`},
		{"short", `["go","build","./store"]`},
		{"long run list", `["go","test","-run","^(` + strings.Repeat("TestFileStoreSomething|", 2000) + `TestLast)$","./store"]`},
		{"several argvs", `[["go","test","-run","^TestA$","./store"],["go","test","-run","^TestB$","./store"]]`},
		{"escapes and unicode", `["echo","tab\there","quote\"","naïve ✓"]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			z := CompressArgv(c.argv)
			if !bytes.HasPrefix(z, zstdMagic) {
				t.Fatalf("CompressArgv = %x..., want a zstd frame", z[:min(len(z), 8)])
			}
			got, err := DecompressArgv(z)
			if err != nil || got != c.argv {
				t.Fatalf("DecompressArgv = %.60q, %v; want %.60q", got, err, c.argv)
			}
			if len(c.argv) > 1000 && len(z)*10 > len(c.argv) {
				t.Errorf("a %d-byte run list compressed to %d bytes, want under a tenth", len(c.argv), len(z))
			}
		})
	}
}

func TestDecompressArgvRejectsDamage(t *testing.T) {
	good := CompressArgv(`["go","test"]`)
	for name, z := range map[string][]byte{
		"empty":     nil,
		"plain":     []byte(`["go","test"]`),
		"truncated": good[:len(good)-3],
	} {
		if got, err := DecompressArgv(z); err == nil {
			t.Errorf("%s: DecompressArgv = %q, want an error", name, got)
		}
	}
}

// v4Command is a command row as schema 4 stored it, argv as text.
type v4Command struct {
	id   int64
	argv string
}

// Schema 5 compresses the argvs in place: ids and keys stay, every reader
// (Dump, LatestEvidence, db check) sees what it saw at schema 4, and the
// gates' dedup still finds the old rows.
func TestMigrateCompressesCommandArgvsFromVersion4(t *testing.T) {
	path := createAtVersion(t, 4)
	long := `["go","test","-run","^(` + strings.Repeat("TestStoreLongName|", 500) + `TestLast)$","./store"]`
	commands := []v4Command{
		{3, long},
		{5, `[]`},
		{7, `[["go","test","-run","^TestA$","./store"],["go","test","-run","^TestB$","./store"]]`},
		{8, `["echo","naïve \"quoted\" ✓"]`},
	}
	raw, err := openSQL(path, "rw", buildOptions(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.sql.Exec(`INSERT INTO evidence_logs (id, data) VALUES (1, x'0102')`); err != nil {
		t.Fatal(err)
	}
	for i, c := range commands {
		if _, err := raw.sql.Exec(`INSERT INTO evidence_commands (id, sha, argv) VALUES (?, ?, ?)`,
			c.id, CommandSHA(c.argv), c.argv); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.sql.Exec(`INSERT INTO evidence (gate, kind, item_id, verdict, detail, command_id, started_at, log_id)
			VALUES (?, 'feature', 10, 'pass', ?, ?, '2025-01-02T03:04:05.000000000Z', 1)`,
			[]string{"test", "stub", "gut", "build"}[i], fmt.Sprintf("row %d", i), c.id); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	before, err := raw.dump(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()

	d, err := Open(path)
	if err != nil {
		t.Fatalf("Open migrates 4 -> %d: %v", LatestVersion(), err)
	}
	defer d.Close()
	if problems, err := d.Check(ctx); err != nil || len(problems) > 0 {
		t.Fatalf("db check after migration: %v %q", err, problems)
	}
	after, err := d.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Only the schema version may differ.
	before = strings.Replace(before, "user_version=4\n", fmt.Sprintf("user_version=%d\n", LatestVersion()), 1)
	if after != before {
		t.Errorf("dump changed across the migration:\nbefore %.600q\nafter  %.600q", before, after)
	}

	err = d.Write(ctx, func(tx *Tx) error {
		var textColumns int
		if err := tx.QueryRow(`SELECT count(*) FROM pragma_table_info('evidence_commands') WHERE name = 'argv'`).Scan(&textColumns); err != nil {
			return err
		}
		if textColumns != 0 {
			t.Errorf("evidence_commands still has its argv text column")
		}
		for _, c := range commands {
			var sha string
			var argvZ []byte
			if err := tx.QueryRow(`SELECT sha, argv_z FROM evidence_commands WHERE id = ?`, c.id).Scan(&sha, &argvZ); err != nil {
				return fmt.Errorf("command %d: %w", c.id, err)
			}
			argv, err := DecompressArgv(argvZ)
			if err != nil || argv != c.argv || sha != CommandSHA(c.argv) {
				t.Errorf("command %d = %.40q %s %v, want %.40q %s", c.id, argv, sha, err, c.argv, CommandSHA(c.argv))
			}
			if len(c.argv) > 1000 && len(argvZ)*10 > len(c.argv) {
				t.Errorf("command %d: %d-byte argv stored in %d bytes, want under a tenth", c.id, len(c.argv), len(argvZ))
			}
			// The gates' dedup finds the migrated row by its unchanged key.
			id, err := tx.CommandID(c.argv)
			if err != nil || id != c.id {
				t.Errorf("CommandID(command %d's argv) = %d, %v; want the existing row", c.id, id, err)
			}
		}
		latest, err := tx.LatestEvidence(tracker.KindFeature, 10)
		if err != nil {
			return err
		}
		var got []string
		for _, e := range latest {
			got = append(got, e.Gate+" "+e.Argv)
		}
		want := []string{"build " + commands[3].argv, "gut " + commands[2].argv, "stub []", "test " + long}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("LatestEvidence(feature 10) =\n%.200q\nwant\n%.200q", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A command first seen after the migration is stored compressed, and only
// once.
func TestCommandIDWritesCompressedArgv(t *testing.T) {
	d, _ := newTestDB(t)
	argv := `["go","test","-run","^(` + strings.Repeat("TestSomePortedName|", 300) + `TestLast)$","./store"]`
	err := d.Write(context.Background(), func(tx *Tx) error {
		first, err := tx.CommandID(argv)
		if err != nil {
			return err
		}
		again, err := tx.CommandID(argv)
		if err != nil || again != first {
			t.Errorf("CommandID again = %d, %v; want %d", again, err, first)
		}
		var rows int
		var argvZ []byte
		if err := tx.QueryRow(`SELECT count(*), max(argv_z) FROM evidence_commands`).Scan(&rows, &argvZ); err != nil {
			return err
		}
		if rows != 1 || !bytes.HasPrefix(argvZ, zstdMagic) || len(argvZ)*10 > len(argv) {
			t.Errorf("%d rows, argv_z %d bytes starting %x; want 1 zstd frame under a tenth of %d bytes",
				rows, len(argvZ), argvZ[:min(len(argvZ), 4)], len(argv))
		}
		if got, err := DecompressArgv(argvZ); err != nil || got != argv {
			t.Errorf("stored argv decompresses to %.40q, %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A migration's Go step runs in the script's transaction: when it fails,
// the script's changes roll back with it.
func TestMigrationStepFailureRollsBackScript(t *testing.T) {
	d, _ := newTestDB(t)
	ctx := context.Background()
	stepErr := errors.New("step failed")
	m := migration{version: 99, name: "0099_test.sql", script: `CREATE TABLE step_probe (x)`,
		after: func(tx *Tx) error { return stepErr }}
	err := d.Write(ctx, func(tx *Tx) error { return m.apply(tx) })
	if !errors.Is(err, stepErr) || !strings.Contains(err.Error(), "0099_test.sql") {
		t.Fatalf("apply = %v, want the step's error naming the migration", err)
	}
	err = d.Read(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'step_probe'`).Scan(&n); err != nil {
			return err
		}
		if n != 0 {
			t.Errorf("the script's table survived its step's failure")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
