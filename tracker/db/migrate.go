package db

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one numbered script; version N leaves PRAGMA user_version = N.
type migration struct {
	version int
	name    string
	script  string
	// after, when set, runs right after script in the same transaction: the
	// part of a migration SQL cannot express (compression, for one).
	after func(tx *Tx) error
}

// migrationSteps holds the Go steps, keyed by the version whose script they
// complete.
var migrationSteps = map[int]func(tx *Tx) error{
	5: compressCommandArgvs,
}

var migrations = mustLoadMigrations()

func mustLoadMigrations() []migration {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		panic(err) // embedded at build time; cannot fail at run time
	}
	var ms []migration
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("db: migration file name must start with NNNN_: " + e.Name())
		}
		body, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(err)
		}
		ms = append(ms, migration{version: v, name: e.Name(), script: string(body), after: migrationSteps[v]})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for v := range migrationSteps {
		if v < 1 || v > len(ms) {
			panic(fmt.Sprintf("db: a Go migration step for version %d has no script", v))
		}
	}
	for i, m := range ms {
		if m.version != i+1 {
			panic(fmt.Sprintf("db: migrations must be numbered 1..N without gaps, found %s at position %d", m.name, i+1))
		}
	}
	return ms
}

// LatestVersion is the schema version this binary creates and understands.
func LatestVersion() int { return len(migrations) }

// SchemaVersion reads PRAGMA user_version.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := d.Read(ctx, func(tx *Tx) error {
		return tx.QueryRow("PRAGMA user_version").Scan(&v)
	})
	return v, err
}

// Migrate applies pending migrations, each in its own BEGIN IMMEDIATE
// transaction that re-reads user_version first, because another process may
// have migrated since we looked. It returns the versions before and after.
func (d *DB) Migrate(ctx context.Context) (applied []int, err error) {
	current, err := d.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if current >= LatestVersion() {
		return nil, nil // the common case: no write lock taken
	}
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		ran := false
		err := d.Write(ctx, func(tx *Tx) error {
			ran = false
			var v int
			if err := tx.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
				return err
			}
			if v >= m.version {
				return nil
			}
			if v != m.version-1 {
				return fmt.Errorf("db: cannot apply migration %s to schema version %d", m.name, v)
			}
			if err := m.apply(tx); err != nil {
				return err
			}
			if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
				return err
			}
			ran = true
			return nil
		})
		if err != nil {
			return applied, err
		}
		if ran {
			applied = append(applied, m.version)
		}
	}
	return applied, nil
}

// apply runs the script and then its Go step, if any; the caller owns the
// transaction and bumps user_version.
func (m migration) apply(tx *Tx) error {
	if _, err := tx.Exec(m.script); err != nil {
		return fmt.Errorf("db: migration %s: %w", m.name, err)
	}
	if m.after != nil {
		if err := m.after(tx); err != nil {
			return fmt.Errorf("db: migration %s: %w", m.name, err)
		}
	}
	return nil
}
