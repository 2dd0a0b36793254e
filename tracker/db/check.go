package db

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Check verifies the file and the tracker's invariants and returns every
// problem found (none: healthy). It reads one snapshot; it never writes.
//
// It covers SQLite's integrity_check and foreign_key_check, the schema
// identity, item and batch invariants, the audit hash chain, and the status
// replay: each item's status must equal the to_value of its last 'status'
// audit row ('deferred' when it has none), so a status edited outside the
// tool shows up even when the audit log itself is intact.
func (d *DB) Check(ctx context.Context) ([]string, error) {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	err := d.Read(ctx, func(tx *Tx) error {
		problems = nil
		rows, err := tx.Query("PRAGMA integrity_check")
		if err != nil {
			return err
		}
		for rows.Next() {
			var msg string
			if err := rows.Scan(&msg); err != nil {
				rows.Close()
				return err
			}
			if msg != "ok" {
				add("integrity_check: %s", msg)
			}
		}
		rows.Close()

		var appID, version int64
		if err := tx.QueryRow("PRAGMA application_id").Scan(&appID); err != nil {
			return err
		}
		if err := tx.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
			return err
		}
		if appID != ApplicationID {
			add("application_id is %#x, want %#x", appID, ApplicationID)
		}
		if version != int64(LatestVersion()) {
			add("schema version %d, want %d", version, LatestVersion())
		}

		fk, err := tx.Query("PRAGMA foreign_key_check")
		if err != nil {
			return err
		}
		for fk.Next() {
			var table, parent string
			var rowid, fkid any
			if err := fk.Scan(&table, &rowid, &parent, &fkid); err != nil {
				fk.Close()
				return err
			}
			add("foreign key: a row of %s references a missing %s row", table, parent)
		}
		fk.Close()

		for _, inv := range invariants {
			found, err := queryStrings(tx, inv.query)
			if err != nil {
				return fmt.Errorf("db check %q: %w", inv.name, err)
			}
			for _, f := range found {
				add("%s: %s", inv.name, f)
			}
		}

		if cyc, err := batchCycles(tx); err != nil {
			return err
		} else if cyc != "" {
			add("batch dependencies form a cycle: %s", cyc)
		}

		chain, err := tx.VerifyAuditChain()
		if err != nil {
			return err
		}
		problems = append(problems, chain...)
		return nil
	})
	return problems, err
}

// invariant is a query returning one line per violation.
type invariant struct {
	name  string
	query string
}

// The CHECK constraints and foreign keys already guard most of these, but
// porting.db is a file in git: anyone can edit it with sqlite3 and turn
// checks off, so db check asks again.
var invariants = []invariant{
	{"item in a missing batch", `SELECT kind || ' ' || id || ' is in batch ' || batch_id FROM items
		WHERE batch_id IS NOT NULL AND batch_id NOT IN (SELECT id FROM batches) ORDER BY kind, id LIMIT 100`},
	{"invalid status", `SELECT kind || ' ' || id || ' has status ' || quote(status) FROM items
		WHERE status NOT IN ('deferred','stub','complete','verified','n_a') ORDER BY kind, id LIMIT 100`},
	{"invalid kind", `SELECT 'item ' || id || ' has kind ' || quote(kind) FROM items
		WHERE kind NOT IN ('feature','test') ORDER BY id LIMIT 100`},
	{"missing reason", `SELECT kind || ' ' || id || ' is ' || status || CASE WHEN override THEN ' by override' ELSE '' END || ' without a reason'
		FROM items WHERE reason = '' AND (status = 'n_a' OR override != 0) ORDER BY kind, id LIMIT 100`},
	{"invalid batch state", `SELECT 'batch ' || id || ' has state ' || quote(state) FROM batches
		WHERE state NOT IN ('pending','started','complete') ORDER BY id`},
	{"batch timestamps", `SELECT 'batch ' || id || ' is ' || state || ' without its timestamp' FROM batches
		WHERE (state IN ('started','complete') AND started_at IS NULL) OR (state = 'complete' AND completed_at IS NULL) ORDER BY id`},
	{"missing dependency", `SELECT 'batch ' || batch_id || ' depends on missing batch ' || depends_on FROM batch_deps
		WHERE depends_on NOT IN (SELECT id FROM batches) OR batch_id NOT IN (SELECT id FROM batches) ORDER BY 1`},
	{"started before dependency complete", `SELECT 'batch ' || b.id || ' is ' || b.state || ' but depends on ' || d.id || ' which is ' || d.state
		FROM batches b JOIN batch_deps bd ON bd.batch_id = b.id JOIN batches d ON d.id = bd.depends_on
		WHERE b.state != 'pending' AND d.state != 'complete' ORDER BY b.id, d.id`},
	{"dangling link", `SELECT 'link feature ' || feature_id || ' -> test ' || test_id || ' (' || source || ')' FROM links l
		WHERE NOT EXISTS (SELECT 1 FROM items WHERE kind = 'feature' AND id = l.feature_id)
		   OR NOT EXISTS (SELECT 1 FROM items WHERE kind = 'test' AND id = l.test_id) ORDER BY 1 LIMIT 100`},
	{"invalid link source", `SELECT 'link feature ' || feature_id || ' -> test ' || test_id || ' has source ' || quote(source) FROM links
		WHERE source NOT IN ('coverage','static','manual') ORDER BY 1 LIMIT 100`},
	{"policy", `SELECT 'max_batch_ids = ' || quote(value) || ' is not a positive integer' FROM policy
		WHERE key = 'max_batch_ids' AND (CAST(value AS INTEGER) < 1 OR CAST(value AS INTEGER) || '' != value)`},
	// The replay: the audit log is the history, items.status its result.
	{"status differs from audit", `SELECT i.kind || ' ' || i.id || ' is ' || i.status || ' but its audit history ends at ' || e.expect
		FROM items i JOIN (
			SELECT i2.kind, i2.id, coalesce((SELECT a.to_value FROM audit a
				WHERE a.kind = i2.kind AND a.item_id = i2.id AND a.action = 'status'
				ORDER BY a.id DESC LIMIT 1), 'deferred') AS expect
			FROM items i2) e ON e.kind = i.kind AND e.id = i.id
		WHERE i.status != e.expect ORDER BY i.kind, i.id LIMIT 100`},
	{"item_counts differ from items", `SELECT kind || ' batch ' || batch_id || ' ' || status || ' override=' || override ||
		' drifted=' || drifted || ' removed=' || removed || ': counted ' || counted || ', items ' || actual FROM (
			SELECT kind, batch_id, status, override, drifted, removed, sum(c) AS counted, sum(a) AS actual FROM (
				SELECT kind, batch_id, status, override, drifted, removed, n AS c, 0 AS a FROM item_counts
				UNION ALL
				SELECT kind, coalesce(batch_id, 0), status, override != 0, drifted != 0, removed != 0, 0, count(*)
				FROM items GROUP BY 1, 2, 3, 4, 5, 6)
			GROUP BY 1, 2, 3, 4, 5, 6)
		WHERE counted != actual ORDER BY 1 LIMIT 100`},
	// Evidence commands and logs are shared by many rows: each is stored once
	// under its key and lives exactly as long as some row cites it.
	// argv_z is compressed (schema 5); zstd_text is NULL when it does not
	// decompress, which the second check reports.
	{"evidence command key", `SELECT 'evidence command ' || id || ' has sha ' || sha || ', its argv hashes to ' || sha256_hex(argv)
		FROM (SELECT id, sha, zstd_text(argv_z) AS argv FROM evidence_commands)
		WHERE argv IS NOT NULL AND sha != sha256_hex(argv) ORDER BY id LIMIT 100`},
	{"evidence command argv", `SELECT 'evidence command ' || id || CASE WHEN argv IS NULL THEN ' argv does not decompress'
		ELSE ' argv is not a JSON array' END
		FROM (SELECT id, zstd_text(argv_z) AS argv FROM evidence_commands)
		WHERE argv IS NULL OR NOT json_valid(argv) OR json_type(argv) != 'array' ORDER BY id LIMIT 100`},
	{"unreferenced evidence command", `SELECT 'evidence command ' || id || ' is cited by no evidence row' FROM evidence_commands
		WHERE id NOT IN (SELECT command_id FROM evidence) ORDER BY id LIMIT 100`},
	{"unreferenced evidence log", `SELECT 'evidence log ' || id || ' is cited by no evidence row' FROM evidence_logs
		WHERE id NOT IN (SELECT log_id FROM evidence WHERE log_id IS NOT NULL) ORDER BY id LIMIT 100`},
	{"audit kind", `SELECT 'audit row ' || id || ' has kind ' || quote(kind) FROM audit
		WHERE kind NOT IN ('feature','test','batch','db') ORDER BY id LIMIT 100`},
}

func queryStrings(tx *Tx, q string) ([]string, error) {
	rows, err := tx.Query(q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// batchCycles returns a description of one dependency cycle, or "".
func batchCycles(tx *Tx) (string, error) {
	rows, err := tx.Query(`SELECT batch_id, depends_on FROM batch_deps`)
	if err != nil {
		return "", err
	}
	graph := map[int64][]int64{}
	for rows.Next() {
		var b, d int64
		if err := rows.Scan(&b, &d); err != nil {
			rows.Close()
			return "", err
		}
		graph[b] = append(graph[b], d)
	}
	rows.Close()
	return findCycle(graph), rows.Err()
}

// findCycle runs a depth-first search and reports the first cycle found, in
// a deterministic order.
func findCycle(graph map[int64][]int64) string {
	const (
		unvisited = iota
		onStack
		finished
	)
	state := map[int64]int{}
	var nodes []int64
	for n := range graph {
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i] < nodes[j] })
	var path []int64
	var visit func(n int64) string
	visit = func(n int64) string {
		state[n] = onStack
		path = append(path, n)
		next := append([]int64(nil), graph[n]...)
		sort.Slice(next, func(i, j int) bool { return next[i] < next[j] })
		for _, m := range next {
			switch state[m] {
			case onStack:
				var parts []string
				start := 0
				for i, p := range path {
					if p == m {
						start = i
					}
				}
				for _, p := range path[start:] {
					parts = append(parts, fmt.Sprint(p))
				}
				parts = append(parts, fmt.Sprint(m))
				return strings.Join(parts, " -> ")
			case unvisited:
				if c := visit(m); c != "" {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = finished
		return ""
	}
	for _, n := range nodes {
		if state[n] == unvisited {
			if c := visit(n); c != "" {
				return c
			}
		}
	}
	return ""
}

// Vacuum checkpoints the WAL into the main file and rebuilds it compactly, so
// the file can be committed without -wal/-shm companions (they disappear when
// the last connection closes).
func (d *DB) Vacuum(ctx context.Context) error {
	return d.classify(d.retryBusy(ctx, func() error {
		if _, err := d.sql.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			return err
		}
		if _, err := d.sql.ExecContext(ctx, "VACUUM"); err != nil {
			return err
		}
		_, err := d.sql.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
		return err
	}))
}
