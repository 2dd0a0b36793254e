package gates

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// DefaultKeep is the evidence_keep policy's default: rows kept per item and
// gate (the verdicts of pruned rows stay in the audit log).
const DefaultKeep = 3

// logBlob is one run's log, stored once in evidence_logs however many
// evidence rows cite it (one go build log serves every feature of the
// package).
type logBlob struct {
	data []byte
	id   int64 // set once inserted
}

// pendingRow is an evidence row waiting for its write transaction.
type pendingRow struct {
	rec evidence.Record // Log is ignored: log carries it
	log *logBlob
	// onStored, if set, learns the row's ID.
	onStored func(id int64)
	// pkgs are the packages the fingerprint covers; outcome and item are
	// the in-memory view to update when those change during the run.
	pkgs    []string
	outcome *Outcome
	item    *ItemReport
}

// commandsJSON encodes the argvs a gate ran: one argv as a JSON array of
// strings, several as an array of argvs, none as [].
func commandsJSON(cmds [][]string) string {
	var v any = []string{}
	switch len(cmds) {
	case 0:
	case 1:
		v = cmds[0]
	default:
		v = cmds
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "[]"
	}
	return string(data)
}

// writeRows inserts rows with their logs and commands, then prunes every
// touched (item, gate) to keep rows and drops the logs and commands no row
// cites any more.
func writeRows(tx *db.Tx, rows []*pendingRow) error {
	keep, err := evidenceKeep(tx)
	if err != nil {
		return err
	}
	type subject struct {
		kind evidence.Kind
		id   int64
		gate evidence.Gate
	}
	touched := map[subject]bool{}
	// One go test command proves many items: look each argv up once.
	commandIDs := map[string]int64{}
	for _, r := range rows {
		var logID any
		if r.log != nil && len(r.log.data) > 0 {
			if r.log.id == 0 {
				res, err := tx.Exec(`INSERT INTO evidence_logs (data) VALUES (?)`, evidence.Compress(r.log.data))
				if err != nil {
					return err
				}
				if r.log.id, err = res.LastInsertId(); err != nil {
					return err
				}
			}
			logID = r.log.id
		}
		rec := r.rec
		argv := commandsJSON(rec.Commands)
		commandID, ok := commandIDs[argv]
		if !ok {
			if commandID, err = tx.CommandID(argv); err != nil {
				return err
			}
			commandIDs[argv] = commandID
		}
		res, err := tx.Exec(`INSERT INTO evidence (gate, kind, item_id, verdict, detail, command_id, started_at, duration_ms,
			git_commit, git_dirty, fingerprint, log_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`,
			rec.Gate, rec.Kind, rec.ItemID, rec.Verdict, rec.Detail, commandID, db.FormatTime(rec.Start),
			rec.Duration.Milliseconds(), rec.GitCommit, boolInt(rec.GitDirty), rec.Fingerprint, logID)
		if err != nil {
			return fmt.Errorf("record %s evidence for %s %d: %w", rec.Gate, rec.Kind, rec.ItemID, err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return err
		}
		if r.onStored != nil {
			r.onStored(id)
		}
		touched[subject{rec.Kind, rec.ItemID, rec.Gate}] = true
	}
	for s := range touched {
		if _, err := tx.Exec(`DELETE FROM evidence WHERE kind = ?1 AND item_id = ?2 AND gate = ?3 AND id NOT IN (
			SELECT id FROM evidence WHERE kind = ?1 AND item_id = ?2 AND gate = ?3 ORDER BY id DESC LIMIT ?4)`,
			s.kind, s.id, s.gate, keep); err != nil {
			return err
		}
	}
	if len(touched) > 0 {
		return tx.PruneEvidenceOrphans()
	}
	return nil
}

func evidenceKeep(tx *db.Tx) (int, error) {
	v, ok, err := tx.GetKV(db.TablePolicy, db.PolicyEvidenceKeep)
	if err != nil || !ok {
		return DefaultKeep, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("policy %s = %q is not a positive integer", db.PolicyEvidenceKeep, v)
	}
	return n, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// replaceCoverageLinks sets a test's coverage links to exactly features.
func replaceCoverageLinks(tx *db.Tx, testID int64, features []int64) error {
	if _, err := tx.Exec(`DELETE FROM links WHERE test_id = ? AND source = 'coverage'`, testID); err != nil {
		return err
	}
	for _, f := range features {
		if err := tx.AddLink(db.Link{FeatureID: f, TestID: testID, Source: "coverage"}); err != nil {
			return err
		}
	}
	return nil
}

// coverageTests lists the tests linked to a feature by coverage.
func coverageTests(tx *db.Tx, featureID int64) ([]int64, error) {
	links, err := tx.ItemLinks(tracker.KindFeature, featureID)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, l := range links {
		if l.Source == "coverage" {
			out = append(out, l.TestID)
		}
	}
	return out, nil
}

// Row is a stored evidence row with its log, for `evidence show`.
type Row struct {
	db.Evidence
	Log []byte `json:"log,omitempty"`
}

// History returns an item's evidence rows, newest first, optionally of one
// gate, with their logs decompressed when withLogs is set.
func History(tx *db.Tx, kind tracker.Kind, id int64, gate string, withLogs bool) ([]Row, error) {
	q := `SELECT e.id, e.gate, e.kind, e.item_id, e.verdict, e.detail, c.argv_z, e.started_at, e.duration_ms,
		e.git_commit, e.git_dirty, e.fingerprint, l.data
		FROM evidence e JOIN evidence_commands c ON c.id = e.command_id
		LEFT JOIN evidence_logs l ON l.id = e.log_id
		WHERE e.kind = ? AND e.item_id = ?`
	args := []any{kind, id}
	if gate != "" {
		q += ` AND e.gate = ?`
		args = append(args, gate)
	}
	rows, err := tx.Query(q+` ORDER BY e.id DESC`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var r Row
		var dirty int
		var argvZ, data []byte
		if err := rows.Scan(&r.ID, &r.Gate, &r.Kind, &r.ItemID, &r.Verdict, &r.Detail, &argvZ, &r.StartedAt,
			&r.DurationMS, &r.GitCommit, &dirty, &r.Fingerprint, &data); err != nil {
			return nil, err
		}
		if r.Argv, err = db.DecompressArgv(argvZ); err != nil {
			return nil, fmt.Errorf("evidence %d: %w", r.ID, err)
		}
		r.GitDirty = dirty != 0
		if withLogs && data != nil {
			if r.Log, err = evidence.Decompress(data); err != nil {
				return nil, fmt.Errorf("evidence %d: %w", r.ID, err)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// latestByGate reads an item's newest evidence per gate.
func latestByGate(tx *db.Tx, kind tracker.Kind, id int64) (map[evidence.Gate]*Outcome, error) {
	rows, err := tx.LatestEvidence(kind, id)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	out := map[evidence.Gate]*Outcome{}
	for _, r := range rows {
		start, _ := time.Parse(time.RFC3339Nano, r.StartedAt)
		out[evidence.Gate(r.Gate)] = &Outcome{
			Verdict: evidence.Verdict(r.Verdict), Detail: r.Detail, EvidenceID: r.ID,
			Fingerprint: r.Fingerprint, Start: start, Reused: true,
		}
	}
	return out, nil
}

// portLinks lists the port's own tests linked to a feature by coverage.
func portLinks(tx *db.Tx, featureID int64) ([]evidence.TestRef, error) {
	rows, err := tx.Query(`SELECT test_pkg, test_name FROM port_test_links WHERE feature_id = ? ORDER BY test_pkg, test_name`, featureID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []evidence.TestRef
	for rows.Next() {
		var r evidence.TestRef
		if err := rows.Scan(&r.Pkg, &r.Name); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// replacePortLinks sets one of the port's own tests' coverage links to
// exactly features.
func replacePortLinks(tx *db.Tx, test evidence.TestRef, features []int64) error {
	if _, err := tx.Exec(`DELETE FROM port_test_links WHERE test_pkg = ? AND test_name = ?`, test.Pkg, test.Name); err != nil {
		return err
	}
	for _, f := range features {
		if _, err := tx.Exec(`INSERT OR IGNORE INTO port_test_links (feature_id, test_pkg, test_name) VALUES (?, ?, ?)`,
			f, test.Pkg, test.Name); err != nil {
			return err
		}
	}
	return nil
}

// prunePortLinks drops the coverage links of pkg's own tests that no longer
// exist in it: a deleted or renamed test must not stay linked to a feature.
func prunePortLinks(tx *db.Tx, pkg string, present []string) error {
	rows, err := tx.Query(`SELECT DISTINCT test_name FROM port_test_links WHERE test_pkg = ?`, pkg)
	if err != nil {
		return err
	}
	var gone []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		if !slices.Contains(present, name) {
			gone = append(gone, name)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, name := range gone {
		if _, err := tx.Exec(`DELETE FROM port_test_links WHERE test_pkg = ? AND test_name = ?`, pkg, name); err != nil {
			return err
		}
	}
	return nil
}
