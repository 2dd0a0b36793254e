package db

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Audit actions written by the tracker. Other packages may add their own
// (e.g. "config", "inventory_scan") but must write them through AppendAudit.
const (
	ActionStatus        = "status"
	ActionMove          = "move"
	ActionMap           = "map"
	ActionDrift         = "drift"
	ActionRemoved       = "removed"
	ActionBatchCreate   = "batch_create"
	ActionBatchStart    = "batch_start"
	ActionBatchComplete = "batch_complete"
	ActionInventoryScan = "inventory_scan"
	ActionConfig        = "config"
)

// GenesisHash is the prev_hash of the first audit row.
var GenesisHash = strings.Repeat("0", 64)

// AuditEntry is one audit row before it is chained.
type AuditEntry struct {
	Actor       string   // defaults to the DB's WithActor value
	Argv        []string // defaults to the DB's WithArgv value
	Kind        string   // "feature", "test", "batch", "db"
	ItemID      int64
	Action      string
	From, To    string
	Reason      string
	Override    bool
	EvidenceIDs []int64
}

// AuditRow is a stored audit row.
type AuditRow struct {
	ID          int64  `json:"id"`
	At          string `json:"at"`
	Actor       string `json:"actor"`
	Argv        string `json:"argv"`
	Kind        string `json:"kind"`
	ItemID      int64  `json:"item_id"`
	Action      string `json:"action"`
	From        string `json:"from"`
	To          string `json:"to"`
	Reason      string `json:"reason"`
	Override    bool   `json:"override"`
	EvidenceIDs string `json:"evidence_ids"`
	PrevHash    string `json:"-"`
	Hash        string `json:"-"`
}

// AppendAudit chains one audit row onto the log. It is the only way audit
// rows are written, and needs a Write transaction (which serialises appends,
// so the chain cannot fork).
func (tx *Tx) AppendAudit(e AuditEntry) (int64, error) {
	if !tx.write {
		return 0, errors.New("db: AppendAudit needs a Write transaction")
	}
	if e.Kind == "" || e.Action == "" {
		return 0, errors.New("db: audit entry needs a kind and an action")
	}
	actor := e.Actor
	if actor == "" {
		actor = tx.db.opts.actor
	}
	argv := e.Argv
	if argv == nil {
		argv = tx.db.opts.argv
	}
	argvJSON, err := json.Marshal(argv)
	if err != nil {
		return 0, err
	}
	evIDs := e.EvidenceIDs
	if evIDs == nil {
		evIDs = []int64{}
	}
	evJSON, err := json.Marshal(evIDs)
	if err != nil {
		return 0, err
	}
	var lastID int64
	prev := GenesisHash
	err = tx.QueryRow("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").Scan(&lastID, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	row := AuditRow{
		ID: lastID + 1, At: tx.NowString(), Actor: actor, Argv: string(argvJSON),
		Kind: e.Kind, ItemID: e.ItemID, Action: e.Action, From: e.From, To: e.To,
		Reason: e.Reason, Override: e.Override, EvidenceIDs: string(evJSON), PrevHash: prev,
	}
	row.Hash = row.computeHash()
	_, err = tx.Exec(`INSERT INTO audit (id, at, actor, argv, kind, item_id, action, from_value, to_value,
		reason, override, evidence_ids, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		row.ID, row.At, row.Actor, row.Argv, row.Kind, row.ItemID, row.Action, row.From, row.To,
		row.Reason, boolInt(row.Override), row.EvidenceIDs, row.PrevHash, row.Hash)
	if err != nil {
		return 0, err
	}
	return row.ID, nil
}

// computeHash is the chain function documented in the package comment.
func (r *AuditRow) computeHash() string {
	canonical, _ := json.Marshal([]any{r.ID, r.At, r.Actor, r.Argv, r.Kind, r.ItemID, r.Action,
		r.From, r.To, r.Reason, boolInt(r.Override), r.EvidenceIDs})
	sum := sha256.Sum256([]byte(r.PrevHash + "\x00" + string(canonical)))
	return hex.EncodeToString(sum[:])
}

const auditColumns = `id, at, actor, argv, kind, item_id, action, from_value, to_value, reason, override,
	evidence_ids, prev_hash, hash`

func scanAudit(rows *sql.Rows) (AuditRow, error) {
	var r AuditRow
	var override int
	err := rows.Scan(&r.ID, &r.At, &r.Actor, &r.Argv, &r.Kind, &r.ItemID, &r.Action, &r.From, &r.To,
		&r.Reason, &override, &r.EvidenceIDs, &r.PrevHash, &r.Hash)
	r.Override = override != 0
	return r, err
}

// VerifyAuditChain walks the whole log in id order and returns one problem
// per broken link or altered row.
func (tx *Tx) VerifyAuditChain() ([]string, error) {
	rows, err := tx.Query("SELECT " + auditColumns + " FROM audit ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var problems []string
	prev := GenesisHash
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		if r.PrevHash != prev {
			problems = append(problems, fmt.Sprintf("audit row %d: prev_hash does not match row before it (row deleted or reordered)", r.ID))
		}
		if r.computeHash() != r.Hash {
			problems = append(problems, fmt.Sprintf("audit row %d: hash mismatch (row edited outside porttracker)", r.ID))
		}
		prev = r.Hash
		if len(problems) > 100 {
			problems = append(problems, "audit: too many problems, stopping")
			break
		}
	}
	return problems, rows.Err()
}

// ItemAudit returns an item's audit history, oldest first.
func (tx *Tx) ItemAudit(kind string, id int64) ([]AuditRow, error) {
	rows, err := tx.Query("SELECT "+auditColumns+" FROM audit WHERE kind = ? AND item_id = ? ORDER BY id", kind, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditRow
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AuditCount counts audit rows.
func (tx *Tx) AuditCount() (int64, error) {
	var n int64
	err := tx.QueryRow("SELECT count(*) FROM audit").Scan(&n)
	return n, err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
