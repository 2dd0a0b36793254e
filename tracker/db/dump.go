package db

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// dumpQueries replaces SELECT * for tables whose stored form is not what the
// dump shows: argvs are compressed since schema 5, but a dump shows their
// JSON text, exactly as it did before, so dumps stay readable and comparable
// across the migration.
var dumpQueries = map[string]string{
	"evidence_commands": `SELECT id, sha, zstd_text(argv_z) AS argv FROM evidence_commands`,
}

// Dump renders the schema version, application id and every row of every
// table as text, in a stable order. Tests compare dumps taken before and
// after a refused command to prove nothing was written.
func (d *DB) Dump(ctx context.Context) (string, error) { return d.dump(ctx, dumpQueries) }

// dump is Dump with the per-table queries given; tests pass none to dump a
// database of an older schema the way that schema's binary did.
func (d *DB) dump(ctx context.Context, queries map[string]string) (string, error) {
	var b strings.Builder
	err := d.Read(ctx, func(tx *Tx) error {
		b.Reset()
		var appID, version int64
		if err := tx.QueryRow("PRAGMA application_id").Scan(&appID); err != nil {
			return err
		}
		if err := tx.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
			return err
		}
		fmt.Fprintf(&b, "application_id=%d user_version=%d\n", appID, version)
		tables, err := queryStrings(tx, `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
		if err != nil {
			return err
		}
		for _, t := range tables {
			fmt.Fprintf(&b, "== %s\n", t)
			q, ok := queries[t]
			if !ok {
				q = fmt.Sprintf(`SELECT * FROM "%s"`, strings.ReplaceAll(t, `"`, `""`))
			}
			rows, err := tx.Query(q)
			if err != nil {
				return err
			}
			cols, err := rows.Columns()
			if err != nil {
				rows.Close()
				return err
			}
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			var lines []string
			for rows.Next() {
				if err := rows.Scan(ptrs...); err != nil {
					rows.Close()
					return err
				}
				var line strings.Builder
				for i, v := range vals {
					if i > 0 {
						line.WriteByte('|')
					}
					if bs, ok := v.([]byte); ok {
						fmt.Fprintf(&line, "%x", bs)
					} else {
						fmt.Fprintf(&line, "%v", v)
					}
				}
				lines = append(lines, line.String())
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			// Row order is not part of the content; sort for a stable dump.
			sort.Strings(lines)
			for _, l := range lines {
				b.WriteString(l)
				b.WriteByte('\n')
			}
		}
		return nil
	})
	return b.String(), err
}
