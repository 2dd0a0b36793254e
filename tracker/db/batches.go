package db

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/porttracker/porttracker/tracker"
)

// Batch states.
const (
	BatchPending  = "pending"
	BatchStarted  = "started"
	BatchComplete = "complete"
)

// Batch is a named group of features and tests.
type Batch struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description string  `json:"description"`
	State       string  `json:"state"`
	StartedAt   string  `json:"started_at"`
	CompletedAt string  `json:"completed_at"`
	DependsOn   []int64 `json:"depends_on"`
}

// ErrNoBatch is wrapped when a batch does not exist.
var ErrNoBatch = errors.New("no such batch")

// GetBatch loads one batch with its dependencies.
func (tx *Tx) GetBatch(id int64) (Batch, error) {
	var b Batch
	var started, completed sql.NullString
	err := tx.QueryRow(`SELECT id, name, description, state, started_at, completed_at FROM batches WHERE id = ?`, id).
		Scan(&b.ID, &b.Name, &b.Description, &b.State, &started, &completed)
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("%w: batch %d does not exist: %w", tracker.ErrRefused, id, ErrNoBatch)
	}
	if err != nil {
		return b, err
	}
	b.StartedAt, b.CompletedAt = started.String, completed.String
	b.DependsOn, err = tx.batchDeps(id)
	return b, err
}

func (tx *Tx) batchDeps(id int64) ([]int64, error) {
	rows, err := tx.Query(`SELECT depends_on FROM batch_deps WHERE batch_id = ? ORDER BY depends_on`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	deps := []int64{}
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		deps = append(deps, d)
	}
	return deps, rows.Err()
}

// ListBatches returns every batch ordered by ID, with dependencies.
func (tx *Tx) ListBatches() ([]Batch, error) {
	rows, err := tx.Query(`SELECT id, name, description, state, started_at, completed_at FROM batches ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var out []Batch
	byID := map[int64]int{}
	for rows.Next() {
		var b Batch
		var started, completed sql.NullString
		if err := rows.Scan(&b.ID, &b.Name, &b.Description, &b.State, &started, &completed); err != nil {
			rows.Close()
			return nil, err
		}
		b.StartedAt, b.CompletedAt = started.String, completed.String
		b.DependsOn = []int64{}
		byID[b.ID] = len(out)
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	deps, err := tx.Query(`SELECT batch_id, depends_on FROM batch_deps ORDER BY batch_id, depends_on`)
	if err != nil {
		return nil, err
	}
	defer deps.Close()
	for deps.Next() {
		var b, d int64
		if err := deps.Scan(&b, &d); err != nil {
			return nil, err
		}
		if i, ok := byID[b]; ok {
			out[i].DependsOn = append(out[i].DependsOn, d)
		}
	}
	return out, deps.Err()
}

// CreateBatch inserts a batch (ID 0: next free) with its dependencies and
// audits it. It returns the batch ID.
func (tx *Tx) CreateBatch(b Batch) (int64, error) {
	var res sql.Result
	var err error
	if b.ID > 0 {
		res, err = tx.Exec(`INSERT INTO batches (id, name, description) VALUES (?, ?, ?)`, b.ID, b.Name, b.Description)
	} else {
		res, err = tx.Exec(`INSERT INTO batches (name, description) VALUES (?, ?)`, b.Name, b.Description)
	}
	if err != nil {
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	for _, d := range b.DependsOn {
		if _, err := tx.Exec(`INSERT INTO batch_deps (batch_id, depends_on) VALUES (?, ?)`, id, d); err != nil {
			return 0, err
		}
	}
	_, err = tx.AppendAudit(AuditEntry{Kind: "batch", ItemID: id, Action: ActionBatchCreate, To: b.Name,
		Reason: "depends on " + formatDeps(b.DependsOn)})
	return id, err
}

func formatDeps(deps []int64) string {
	if len(deps) == 0 {
		return "nothing"
	}
	s := ""
	for i, d := range deps {
		if i > 0 {
			s += ","
		}
		s += strconv.FormatInt(d, 10)
	}
	return s
}

// SetBatchState moves a batch to state (started or complete), stamps the
// time and audits it.
func (tx *Tx) SetBatchState(b Batch, state string) error {
	var q, action string
	switch state {
	case BatchStarted:
		q, action = `UPDATE batches SET state = ?, started_at = ? WHERE id = ?`, ActionBatchStart
	case BatchComplete:
		q, action = `UPDATE batches SET state = ?, completed_at = ? WHERE id = ?`, ActionBatchComplete
	default:
		return fmt.Errorf("db: cannot set batch state %q", state)
	}
	if _, err := tx.Exec(q, state, tx.NowString(), b.ID); err != nil {
		return err
	}
	_, err := tx.AppendAudit(AuditEntry{Kind: "batch", ItemID: b.ID, Action: action, From: b.State, To: state})
	return err
}
