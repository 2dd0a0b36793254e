package db

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/porttracker/porttracker/tracker"
)

// Item is one row of items: an upstream feature or test and its port state.
type Item struct {
	Kind         tracker.Kind   `json:"kind"`
	ID           int64          `json:"id"`
	Package      string         `json:"package"`
	File         string         `json:"file"`
	StartLine    int            `json:"start_line"`
	EndLine      int            `json:"end_line"`
	Receiver     string         `json:"receiver"`
	Name         string         `json:"name"`
	SymKey       string         `json:"symkey"`
	Signature    string         `json:"signature"`
	BodyHash     string         `json:"body_hash"`
	PortedHash   string         `json:"ported_hash"`
	Removed      bool           `json:"removed"`
	Drifted      bool           `json:"drifted"`
	TargetPkg    string         `json:"target_pkg"`
	Target       string         `json:"target"`
	TargetFile   string         `json:"target_file"`
	TargetLine   int            `json:"target_line"`
	TargetManual bool           `json:"target_manual"`
	Status       tracker.Status `json:"status"`
	Reason       string         `json:"reason"`
	Override     bool           `json:"override"`
	BatchID      int64          `json:"batch_id"` // 0: unbatched
}

// Symbol is the upstream symbol as written in Go: "(*msgBlock).compact" or "TestX".
func (it *Item) Symbol() string {
	if it.Receiver == "" {
		return it.Name
	}
	return "(" + it.Receiver + ")." + it.Name
}

// Location is the upstream file:line.
func (it *Item) Location() string { return fmt.Sprintf("%s:%d", it.File, it.StartLine) }

// TargetLocation is the target file:line, or "" when not resolved.
func (it *Item) TargetLocation() string {
	if it.TargetFile == "" {
		return ""
	}
	return fmt.Sprintf("%s:%d", it.TargetFile, it.TargetLine)
}

const itemColumns = `kind, id, package, file, start_line, end_line, receiver, name, symkey, signature,
	body_hash, ported_hash, removed, drifted, target_pkg, target, target_file, target_line, target_manual,
	status, reason, override, batch_id`

type scanner interface{ Scan(dest ...any) error }

func scanItem(s scanner) (Item, error) {
	var it Item
	var removed, drifted, manual, override int
	var batch sql.NullInt64
	err := s.Scan(&it.Kind, &it.ID, &it.Package, &it.File, &it.StartLine, &it.EndLine, &it.Receiver, &it.Name,
		&it.SymKey, &it.Signature, &it.BodyHash, &it.PortedHash, &removed, &drifted, &it.TargetPkg, &it.Target,
		&it.TargetFile, &it.TargetLine, &manual, &it.Status, &it.Reason, &override, &batch)
	it.Removed, it.Drifted, it.TargetManual, it.Override = removed != 0, drifted != 0, manual != 0, override != 0
	it.BatchID = batch.Int64
	return it, err
}

// ErrNoItem is wrapped when an item does not exist.
var ErrNoItem = errors.New("no such item")

// GetItem loads one item; a missing one wraps ErrNoItem and tracker.ErrRefused.
func (tx *Tx) GetItem(kind tracker.Kind, id int64) (Item, error) {
	it, err := scanItem(tx.QueryRow("SELECT "+itemColumns+" FROM items WHERE kind = ? AND id = ?", kind, id))
	if errors.Is(err, sql.ErrNoRows) {
		return it, fmt.Errorf("%w: %s %d does not exist: %w", tracker.ErrRefused, kind, id, ErrNoItem)
	}
	return it, err
}

// GetItems loads the listed items in the given order. Unknown IDs are
// returned separately so the caller can refuse the whole command.
func (tx *Tx) GetItems(kind tracker.Kind, ids []int64) (found []Item, unknown []int64, err error) {
	stmt, err := tx.Prepare("SELECT " + itemColumns + " FROM items WHERE kind = ? AND id = ?")
	if err != nil {
		return nil, nil, err
	}
	defer stmt.Close()
	for _, id := range ids {
		it, err := scanItem(stmt.QueryRowContext(tx.ctx, kind, id))
		if errors.Is(err, sql.ErrNoRows) {
			unknown = append(unknown, id)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		found = append(found, it)
	}
	return found, unknown, nil
}

// ItemFilter selects items for ListItems. Zero fields do not filter.
type ItemFilter struct {
	Kind      tracker.Kind
	BatchID   int64 // > 0: that batch
	Unbatched bool  // only items with no batch
	Status    tracker.Status
	File      string // exact upstream file, or a suffix after '/' ("filestore.go")
	Name      string // case-insensitive substring of receiver or name
	Limit     int
	// Brief loads only id, receiver, name, status, override, file, start
	// line, target, target file and line (plus Kind and BatchID from the
	// filter); the rest stay zero. Listing a whole batch this way costs
	// about half as much: modernc's per-column cost dominates. Brief
	// lists need a BatchID.
	Brief bool
}

const briefColumns = `id, receiver, name, status, override, file, start_line, target, target_file, target_line`

func scanBrief(s scanner) (Item, error) {
	var it Item
	var override int
	err := s.Scan(&it.ID, &it.Receiver, &it.Name, &it.Status, &override, &it.File, &it.StartLine,
		&it.Target, &it.TargetFile, &it.TargetLine)
	it.Override = override != 0
	return it, err
}

// ListItems returns matching items ordered by ID.
func (tx *Tx) ListItems(f ItemFilter) ([]Item, error) {
	if f.Brief && f.BatchID == 0 {
		return nil, errors.New("db: a brief item list needs a BatchID")
	}
	where := []string{"kind = ?"}
	args := []any{f.Kind}
	if f.BatchID > 0 {
		where = append(where, "batch_id = ?")
		args = append(args, f.BatchID)
	}
	if f.Unbatched {
		where = append(where, "batch_id IS NULL")
	}
	if f.Status != "" {
		where = append(where, "status = ?")
		args = append(args, f.Status)
	}
	if f.File != "" {
		where = append(where, "(file = ? OR file LIKE ? ESCAPE '\\')")
		args = append(args, f.File, "%/"+escapeLike(f.File))
	}
	if f.Name != "" {
		where = append(where, "(instr(lower(name), lower(?)) > 0 OR instr(lower(receiver), lower(?)) > 0)")
		args = append(args, f.Name, f.Name)
	}
	// Name the index: without ANALYZE statistics SQLite prefers walking the
	// primary key for ORDER BY id, which reads every item of the kind. Each
	// of these indexes yields its rows in id order within the filter.
	index := ""
	sizeHint := 0
	switch {
	case f.BatchID > 0:
		// A batch's items usually have neighbouring IDs (the inventory
		// numbers symbols in file order). When they do, walking that ID
		// range of the table is about twice as fast as one index lookup
		// per item, the difference between batch show meeting its budget
		// or not.
		var lo, hi, n int64
		if err := tx.QueryRow(`SELECT coalesce(min(id), 0), coalesce(max(id), 0), count(*) FROM items INDEXED BY items_kind_batch
			WHERE kind = ? AND batch_id = ?`, f.Kind, f.BatchID).Scan(&lo, &hi, &n); err != nil {
			return nil, err
		}
		sizeHint = int(n)
		if n > 0 && hi-lo+1 <= 2*n {
			where = append(where, "id BETWEEN ? AND ?")
			args = append(args, lo, hi)
			index = " NOT INDEXED" // the primary key (kind, id) still serves the range
		} else {
			index = " INDEXED BY items_kind_batch"
		}
	case f.Unbatched:
		index = " INDEXED BY items_kind_batch"
	case f.Status != "":
		index = " INDEXED BY items_kind_status"
	}
	cols, scan := itemColumns, scanItem
	if f.Brief {
		cols, scan = briefColumns, scanBrief
	}
	q := "SELECT " + cols + " FROM items" + index + " WHERE " + strings.Join(where, " AND ") + " ORDER BY id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := tx.Query(q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]Item, 0, sizeHint)
	for rows.Next() {
		it, err := scan(rows)
		if err != nil {
			return nil, err
		}
		if f.Brief {
			it.Kind, it.BatchID = f.Kind, f.BatchID
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// InsertItem adds a new item exactly as given (inventory scans and test
// seeding). Status changes afterwards go through SetItemStatus.
func (tx *Tx) InsertItem(it Item) error {
	if it.Status == "" {
		it.Status = tracker.StatusDeferred
	}
	_, err := tx.Exec(`INSERT INTO items (`+itemColumns+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		itemArgs(it)...)
	return err
}

func itemArgs(it Item) []any {
	return []any{it.Kind, it.ID, it.Package, it.File, it.StartLine, it.EndLine, it.Receiver, it.Name,
		it.SymKey, it.Signature, it.BodyHash, it.PortedHash, boolInt(it.Removed), boolInt(it.Drifted),
		it.TargetPkg, it.Target, it.TargetFile, it.TargetLine, boolInt(it.TargetManual), it.Status,
		it.Reason, boolInt(it.Override), nullID(it.BatchID)}
}

// ItemInserter inserts many items with one prepared statement (bulk loads).
type ItemInserter struct {
	stmt *sql.Stmt
	tx   *Tx
}

// NewItemInserter prepares a bulk insert; Close it when done.
func (tx *Tx) NewItemInserter() (*ItemInserter, error) {
	stmt, err := tx.Prepare(`INSERT INTO items (` + itemColumns + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	return &ItemInserter{stmt: stmt, tx: tx}, nil
}

// Insert adds one item.
func (in *ItemInserter) Insert(it Item) error {
	if it.Status == "" {
		it.Status = tracker.StatusDeferred
	}
	_, err := in.stmt.ExecContext(in.tx.ctx, itemArgs(it)...)
	return err
}

// Close releases the statement.
func (in *ItemInserter) Close() error { return in.stmt.Close() }

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// StatusChange is what SetItemStatus writes for one item.
type StatusChange struct {
	To          tracker.Status
	Reason      string
	Override    bool
	EvidenceIDs []int64
}

// SetItemStatus moves one item to a new status and appends its 'status'
// audit row in the same transaction. Entering a ported status (stub or
// better) from an unported one takes the current upstream body as the drift
// baseline. Rules and gates are the caller's job; this only records.
func (tx *Tx) SetItemStatus(it Item, c StatusChange) error {
	resetBaseline := c.To.Ported() && !it.Status.Ported()
	q := `UPDATE items SET status = ?, reason = ?, override = ?`
	if resetBaseline {
		q += `, ported_hash = body_hash, drifted = 0`
	}
	q += ` WHERE kind = ? AND id = ?`
	res, err := tx.Exec(q, c.To, c.Reason, boolInt(c.Override), it.Kind, it.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("%w: %s %d does not exist: %w", tracker.ErrRefused, it.Kind, it.ID, ErrNoItem)
	}
	_, err = tx.AppendAudit(AuditEntry{
		Kind: string(it.Kind), ItemID: it.ID, Action: ActionStatus,
		From: string(it.Status), To: string(c.To), Reason: c.Reason, Override: c.Override,
		EvidenceIDs: c.EvidenceIDs,
	})
	return err
}

// SetItemBatch moves an item to batchID (0: unbatched) and audits it.
func (tx *Tx) SetItemBatch(it Item, batchID int64, reason string) error {
	if _, err := tx.Exec(`UPDATE items SET batch_id = ? WHERE kind = ? AND id = ?`, nullID(batchID), it.Kind, it.ID); err != nil {
		return err
	}
	_, err := tx.AppendAudit(AuditEntry{
		Kind: string(it.Kind), ItemID: it.ID, Action: ActionMove,
		From: batchLabel(it.BatchID), To: batchLabel(batchID), Reason: reason,
	})
	return err
}

func batchLabel(id int64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprint(id)
}

// SetItemTarget records a manual target mapping (target_manual = 1, so a
// later inventory resolve keeps it) and audits it. The resolved file:line is
// cleared because it described the old target.
func (tx *Tx) SetItemTarget(it Item, targetPkg, target string) error {
	_, err := tx.Exec(`UPDATE items SET target_pkg = ?, target = ?, target_manual = 1, target_file = '', target_line = 0
		WHERE kind = ? AND id = ?`, targetPkg, target, it.Kind, it.ID)
	if err != nil {
		return err
	}
	_, err = tx.AppendAudit(AuditEntry{
		Kind: string(it.Kind), ItemID: it.ID, Action: ActionMap, From: it.Target, To: target,
	})
	return err
}

// Link is one feature<->test link.
type Link struct {
	FeatureID int64  `json:"feature_id"`
	TestID    int64  `json:"test_id"`
	Source    string `json:"source"` // coverage, static, manual
}

// ItemLinks returns the links of one item (by feature or by test).
func (tx *Tx) ItemLinks(kind tracker.Kind, id int64) ([]Link, error) {
	col := "feature_id"
	order := "test_id, source"
	if kind == tracker.KindTest {
		col, order = "test_id", "feature_id, source"
	}
	rows, err := tx.Query("SELECT feature_id, test_id, source FROM links WHERE "+col+" = ? ORDER BY "+order, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		var l Link
		if err := rows.Scan(&l.FeatureID, &l.TestID, &l.Source); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// AddLink records a link; an existing identical link is left alone.
func (tx *Tx) AddLink(l Link) error {
	_, err := tx.Exec(`INSERT OR IGNORE INTO links (feature_id, test_id, source) VALUES (?, ?, ?)`, l.FeatureID, l.TestID, l.Source)
	return err
}

// Evidence is one evidence row without its log.
type Evidence struct {
	ID          int64  `json:"id"`
	Gate        string `json:"gate"`
	Kind        string `json:"kind"`
	ItemID      int64  `json:"item_id"`
	Verdict     string `json:"verdict"`
	Detail      string `json:"detail"`
	Argv        string `json:"argv"` // JSON array, decompressed from evidence_commands
	StartedAt   string `json:"started_at"`
	DurationMS  int64  `json:"duration_ms"`
	GitCommit   string `json:"git_commit"`
	GitDirty    bool   `json:"git_dirty"`
	Fingerprint string `json:"fingerprint"`
}

// LatestEvidence returns the newest evidence row per gate for one item,
// ordered by gate name.
func (tx *Tx) LatestEvidence(kind tracker.Kind, id int64) ([]Evidence, error) {
	rows, err := tx.Query(`SELECT e.id, e.gate, e.kind, e.item_id, e.verdict, e.detail, c.argv_z, e.started_at,
		e.duration_ms, e.git_commit, e.git_dirty, e.fingerprint
		FROM evidence e JOIN evidence_commands c ON c.id = e.command_id
		WHERE e.kind = ? AND e.item_id = ? AND e.id = (
			SELECT max(id) FROM evidence x WHERE x.kind = e.kind AND x.item_id = e.item_id AND x.gate = e.gate)
		ORDER BY e.gate`, kind, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Evidence
	for rows.Next() {
		var e Evidence
		var dirty int
		var argvZ []byte
		if err := rows.Scan(&e.ID, &e.Gate, &e.Kind, &e.ItemID, &e.Verdict, &e.Detail, &argvZ, &e.StartedAt,
			&e.DurationMS, &e.GitCommit, &dirty, &e.Fingerprint); err != nil {
			return nil, err
		}
		if e.Argv, err = DecompressArgv(argvZ); err != nil {
			return nil, fmt.Errorf("evidence %d: %w", e.ID, err)
		}
		e.GitDirty = dirty != 0
		out = append(out, e)
	}
	return out, rows.Err()
}
