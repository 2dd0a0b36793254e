package db

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
)

// The three key/value tables: meta (facts about the upstream scanned),
// policy (rules such as max_batch_ids) and config (evidence settings).
const (
	TableMeta   = "meta"
	TablePolicy = "policy"
	TableConfig = "config"
)

// Policy keys and their defaults (seeded by migration 0001).
const (
	PolicyMaxBatchIDs  = "max_batch_ids"
	PolicyEvidenceKeep = "evidence_keep"

	DefaultMaxBatchIDs = 15
)

func checkKVTable(table string) error {
	switch table {
	case TableMeta, TablePolicy, TableConfig:
		return nil
	}
	return fmt.Errorf("db: %q is not a key/value table", table)
}

// GetKV reads one value; ok is false when the key is absent.
func (tx *Tx) GetKV(table, key string) (value string, ok bool, err error) {
	if err := checkKVTable(table); err != nil {
		return "", false, err
	}
	err = tx.QueryRow("SELECT value FROM "+table+" WHERE key = ?", key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return value, err == nil, err
}

// SetKV writes one value. Callers that change policy or config should also
// AppendAudit an ActionConfig row.
func (tx *Tx) SetKV(table, key, value string) error {
	if err := checkKVTable(table); err != nil {
		return err
	}
	_, err := tx.Exec("INSERT INTO "+table+" (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value)
	return err
}

// AllKV returns a whole key/value table.
func (tx *Tx) AllKV(table string) (map[string]string, error) {
	if err := checkKVTable(table); err != nil {
		return nil, err
	}
	rows, err := tx.Query("SELECT key, value FROM " + table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// MaxBatchIDs is the policy's limit on IDs per batch update.
func (tx *Tx) MaxBatchIDs() (int, error) {
	v, ok, err := tx.GetKV(TablePolicy, PolicyMaxBatchIDs)
	if err != nil || !ok {
		return DefaultMaxBatchIDs, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("db: policy %s = %q is not a positive integer", PolicyMaxBatchIDs, v)
	}
	return n, nil
}
