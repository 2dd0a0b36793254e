// Package report computes porttracker's progress reports from porting.db:
// the summary (per-status totals with overrides counted apart from honest
// progress, per-batch progress, the unplanned remainder, drift) and the
// markdown report committed as reports/current.md.
package report

import (
	"context"
	"sort"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// StatusCounts counts items per status, in report order.
type StatusCounts struct {
	Deferred int64 `json:"deferred"`
	Stub     int64 `json:"stub"`
	Complete int64 `json:"complete"`
	Verified int64 `json:"verified"`
	NA       int64 `json:"n_a"`
}

func (c *StatusCounts) add(s tracker.Status, n int64) {
	switch s {
	case tracker.StatusDeferred:
		c.Deferred += n
	case tracker.StatusStub:
		c.Stub += n
	case tracker.StatusComplete:
		c.Complete += n
	case tracker.StatusVerified:
		c.Verified += n
	case tracker.StatusNA:
		c.NA += n
	}
}

// Get returns the count for one status.
func (c StatusCounts) Get(s tracker.Status) int64 {
	switch s {
	case tracker.StatusDeferred:
		return c.Deferred
	case tracker.StatusStub:
		return c.Stub
	case tracker.StatusComplete:
		return c.Complete
	case tracker.StatusVerified:
		return c.Verified
	case tracker.StatusNA:
		return c.NA
	}
	return 0
}

// Total sums every status.
func (c StatusCounts) Total() int64 { return c.Deferred + c.Stub + c.Complete + c.Verified + c.NA }

// KindTotals are one kind's totals. Honest counts items that reached their
// status through the gates; Override counts those pushed there by --override.
type KindTotals struct {
	Kind       tracker.Kind `json:"kind"`
	Total      int64        `json:"total"`
	Honest     StatusCounts `json:"honest"`
	Override   StatusCounts `json:"override"`
	NotPlanned int64        `json:"not_planned"` // deferred and in no batch
	Drifted    int64        `json:"drifted"`
	Removed    int64        `json:"removed"`
	// Stale counts complete/verified items whose evidence predates the
	// current sources; meaningful only when Summary.StaleChecked.
	Stale int64 `json:"stale"`
}

// BatchKindProgress is one kind's progress inside a batch.
type BatchKindProgress struct {
	Total     int64        `json:"total"`
	Done      int64        `json:"done"` // verified or n_a
	Overrides int64        `json:"overrides"`
	Status    StatusCounts `json:"status"`
}

// BatchProgress is one batch's line in the summary.
type BatchProgress struct {
	ID        int64             `json:"id"`
	Name      string            `json:"name"`
	State     string            `json:"state"`
	DependsOn []int64           `json:"depends_on"`
	Features  BatchKindProgress `json:"features"`
	Tests     BatchKindProgress `json:"tests"`
}

// Summary is `porttracker report summary`.
type Summary struct {
	Meta    map[string]string `json:"meta"`
	Kinds   []KindTotals      `json:"kinds"`
	Batches []BatchProgress   `json:"batches"`
	// AuditHead identifies the state reported: the newest audit row.
	AuditHead AuditHead `json:"audit_head"`
	// StaleChecked: a StaleCounter filled KindTotals.Stale.
	StaleChecked bool `json:"stale_checked"`
}

// StaleCounter counts, per kind, the complete and verified items whose
// newest passing evidence was taken on other sources. Freshness is the
// evidence gates' business, so the report only asks; the command layer
// wires one in (nil: stale counts are not shown).
type StaleCounter func(ctx context.Context, d *db.DB) (map[tracker.Kind]int64, error)

// AddStale fills the stale counts using count (nil, or a counter returning a
// nil map: leaves them unchecked).
func (s *Summary) AddStale(ctx context.Context, d *db.DB, count StaleCounter) error {
	if count == nil {
		return nil
	}
	byKind, err := count(ctx, d)
	if err != nil {
		return err
	}
	if byKind == nil {
		// The counter could not look (no sources to fingerprint).
		return nil
	}
	for i := range s.Kinds {
		s.Kinds[i].Stale = byKind[s.Kinds[i].Kind]
	}
	s.StaleChecked = true
	return nil
}

// AuditHead names the newest audit row (0 when the log is empty).
type AuditHead struct {
	ID int64  `json:"id"`
	At string `json:"at"`
}

// Kind returns one kind's totals.
func (s *Summary) Kind(k tracker.Kind) KindTotals {
	for _, kt := range s.Kinds {
		if kt.Kind == k {
			return kt
		}
	}
	return KindTotals{Kind: k}
}

// Summarize reads the summary in one snapshot.
func Summarize(ctx context.Context, d *db.DB) (*Summary, error) {
	var s *Summary
	err := d.Read(ctx, func(tx *db.Tx) error {
		var err error
		s, err = summarize(tx)
		return err
	})
	return s, err
}

func summarize(tx *db.Tx) (*Summary, error) {
	s := &Summary{}
	meta, err := tx.AllKV(db.TableMeta)
	if err != nil {
		return nil, err
	}
	s.Meta = meta
	if err := tx.QueryRow(`SELECT coalesce(max(id), 0), coalesce((SELECT at FROM audit ORDER BY id DESC LIMIT 1), '') FROM audit`).
		Scan(&s.AuditHead.ID, &s.AuditHead.At); err != nil {
		return nil, err
	}
	batches, err := tx.ListBatches()
	if err != nil {
		return nil, err
	}
	byBatch := map[int64]*BatchProgress{}
	for _, b := range batches {
		s.Batches = append(s.Batches, BatchProgress{ID: b.ID, Name: b.Name, State: b.State, DependsOn: b.DependsOn})
	}
	for i := range s.Batches {
		byBatch[s.Batches[i].ID] = &s.Batches[i]
	}
	kinds := map[tracker.Kind]*KindTotals{}
	for _, k := range tracker.Kinds {
		s.Kinds = append(s.Kinds, KindTotals{Kind: k})
	}
	for i := range s.Kinds {
		kinds[s.Kinds[i].Kind] = &s.Kinds[i]
	}
	// item_counts (kept exact by triggers, checked by db check) holds every
	// count the summary needs in a few hundred rows.
	rows, err := tx.Query(`SELECT kind, batch_id, status, override, drifted, removed, n FROM item_counts WHERE n > 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var kind tracker.Kind
		var status tracker.Status
		var batch, n int64
		var override, drifted, removed int
		if err := rows.Scan(&kind, &batch, &status, &override, &drifted, &removed, &n); err != nil {
			return nil, err
		}
		kt := kinds[kind]
		if kt == nil {
			continue // db check reports invalid kinds
		}
		kt.Total += n
		if override != 0 {
			kt.Override.add(status, n)
		} else {
			kt.Honest.add(status, n)
		}
		if drifted != 0 {
			kt.Drifted += n
		}
		if removed != 0 {
			kt.Removed += n
		}
		if batch == 0 {
			if status == tracker.StatusDeferred {
				kt.NotPlanned += n
			}
			continue
		}
		bp := byBatch[batch]
		if bp == nil {
			continue // db check reports items in missing batches
		}
		p := &bp.Features
		if kind == tracker.KindTest {
			p = &bp.Tests
		}
		p.Total += n
		p.Status.add(status, n)
		if status.Done() {
			p.Done += n
		}
		if override != 0 {
			p.Overrides += n
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(s.Batches, func(i, j int) bool { return s.Batches[i].ID < s.Batches[j].ID })
	return s, nil
}
