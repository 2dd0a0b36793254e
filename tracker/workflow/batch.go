package workflow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// BatchPlan is the outcome of a batch lifecycle command.
type BatchPlan struct {
	Batch    db.Batch `json:"batch"`
	Action   string   `json:"action"` // start, complete, create
	Problems []string `json:"problems"`
	Executed bool     `json:"executed"`
}

func (p *BatchPlan) refusal() error {
	return &tracker.RefusedError{Msg: fmt.Sprintf("refused, nothing written: cannot %s batch %d", p.Action, p.Batch.ID), Problems: p.Problems}
}

// StartBatch moves a pending batch to started; every batch it depends on
// must be complete.
func StartBatch(ctx context.Context, d *db.DB, id int64, execute bool) (*BatchPlan, error) {
	plan := &BatchPlan{Action: "start", Problems: []string{}}
	check := func(tx *db.Tx) error {
		b, err := tx.GetBatch(id)
		if err != nil {
			return err
		}
		plan.Batch, plan.Problems = b, plan.Problems[:0]
		if b.State != db.BatchPending {
			plan.Problems = append(plan.Problems, fmt.Sprintf("batch %d is already %s", id, b.State))
		}
		for _, dep := range b.DependsOn {
			depBatch, err := tx.GetBatch(dep)
			if err != nil {
				return err
			}
			if depBatch.State != db.BatchComplete {
				plan.Problems = append(plan.Problems, fmt.Sprintf("depends on batch %d %q, which is %s", depBatch.ID, depBatch.Name, depBatch.State))
			}
		}
		return nil
	}
	return runBatchPlan(ctx, d, plan, execute, check, func(tx *db.Tx) error {
		return tx.SetBatchState(plan.Batch, db.BatchStarted)
	})
}

// CompleteBatch moves a started batch to complete; every feature and test
// in it must be verified or n_a (deferred items block; move them out first).
func CompleteBatch(ctx context.Context, d *db.DB, id int64, execute bool) (*BatchPlan, error) {
	plan := &BatchPlan{Action: "complete", Problems: []string{}}
	check := func(tx *db.Tx) error {
		b, err := tx.GetBatch(id)
		if err != nil {
			return err
		}
		plan.Batch, plan.Problems = b, plan.Problems[:0]
		switch b.State {
		case db.BatchComplete:
			plan.Problems = append(plan.Problems, fmt.Sprintf("batch %d is already complete", id))
		case db.BatchPending:
			plan.Problems = append(plan.Problems, fmt.Sprintf("batch %d is not started (porttracker batch start %d)", id, id))
		}
		blockers, err := openItems(tx, id)
		if err != nil {
			return err
		}
		plan.Problems = append(plan.Problems, blockers...)
		return nil
	}
	return runBatchPlan(ctx, d, plan, execute, check, func(tx *db.Tx) error {
		return tx.SetBatchState(plan.Batch, db.BatchComplete)
	})
}

// openItems lists, per kind and status, the items that keep a batch open.
func openItems(tx *db.Tx, batchID int64) ([]string, error) {
	rows, err := tx.Query(`SELECT kind, status, id FROM items INDEXED BY items_kind_batch
		WHERE kind IN ('feature','test') AND batch_id = ? AND status NOT IN ('verified', 'n_a')
		ORDER BY kind, status, id`, batchID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	type key struct{ kind, status string }
	var order []key
	ids := map[key][]int64{}
	for rows.Next() {
		var k key
		var id int64
		if err := rows.Scan(&k.kind, &k.status, &id); err != nil {
			return nil, err
		}
		if _, ok := ids[k]; !ok {
			order = append(order, k)
		}
		ids[k] = append(ids[k], id)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, k := range order {
		list := ids[k]
		hint := ""
		if k.status == string(tracker.StatusDeferred) {
			hint = " (port them, mark them n_a, or move them out with porttracker batch move)"
		}
		out = append(out, fmt.Sprintf("%d %s(s) still %s: %s%s", len(list), k.kind, k.status, tracker.FormatIDs(list), hint))
	}
	return out, nil
}

func runBatchPlan(ctx context.Context, d *db.DB, plan *BatchPlan, execute bool, check, apply func(tx *db.Tx) error) (*BatchPlan, error) {
	if err := d.Read(ctx, check); err != nil {
		return nil, err
	}
	if len(plan.Problems) > 0 {
		return plan, plan.refusal()
	}
	if !execute {
		return plan, nil
	}
	err := d.Write(ctx, func(tx *db.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		if len(plan.Problems) > 0 {
			return plan.refusal()
		}
		return apply(tx)
	})
	if err != nil {
		return plan, err
	}
	plan.Executed = true
	return plan, nil
}

// CreateBatchRequest describes a new batch.
type CreateBatchRequest struct {
	ID          int64 // 0: next free
	Name        string
	Description string
	DependsOn   []int64
	Execute     bool
}

// CreateBatch plans and, with Execute, creates a batch.
func CreateBatch(ctx context.Context, d *db.DB, req CreateBatchRequest) (*BatchPlan, error) {
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" {
		return nil, tracker.Usagef("a batch needs --name")
	}
	plan := &BatchPlan{Action: "create", Problems: []string{},
		Batch: db.Batch{ID: req.ID, Name: req.Name, Description: req.Description, State: db.BatchPending, DependsOn: req.DependsOn}}
	if plan.Batch.DependsOn == nil {
		plan.Batch.DependsOn = []int64{}
	}
	check := func(tx *db.Tx) error {
		plan.Problems = plan.Problems[:0]
		if req.ID > 0 {
			if _, err := tx.GetBatch(req.ID); err == nil {
				plan.Problems = append(plan.Problems, fmt.Sprintf("batch %d already exists", req.ID))
			} else if !errors.Is(err, db.ErrNoBatch) {
				return err
			}
			for _, dep := range req.DependsOn {
				if dep == req.ID {
					plan.Problems = append(plan.Problems, "a batch cannot depend on itself")
				}
			}
		}
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM batches WHERE name = ?`, req.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			plan.Problems = append(plan.Problems, fmt.Sprintf("a batch named %q already exists", req.Name))
		}
		for _, dep := range req.DependsOn {
			if _, err := tx.GetBatch(dep); errors.Is(err, db.ErrNoBatch) {
				plan.Problems = append(plan.Problems, fmt.Sprintf("dependency batch %d does not exist", dep))
			} else if err != nil {
				return err
			}
		}
		if req.ID == 0 {
			var next int64
			if err := tx.QueryRow(`SELECT coalesce(max(id), 0) + 1 FROM batches`).Scan(&next); err != nil {
				return err
			}
			plan.Batch.ID = next
		}
		return nil
	}
	return runBatchPlan(ctx, d, plan, req.Execute, check, func(tx *db.Tx) error {
		b := plan.Batch
		b.ID = req.ID
		id, err := tx.CreateBatch(b)
		plan.Batch.ID = id
		return err
	})
}
