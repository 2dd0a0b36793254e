package db

import (
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"fmt"

	"modernc.org/sqlite"
)

// CommandSHA is the key of an argv in evidence_commands: the hex SHA-256 of
// its JSON text. Migration 0004 and db check compute the same value in SQL
// through sha256_hex, which is this function.
func CommandSHA(argv string) string {
	sum := sha256.Sum256([]byte(argv))
	return hex.EncodeToString(sum[:])
}

// The driver has no SHA-256 of its own; registering ours (once, for every
// connection this process opens) lets migration 0004 move the existing argvs
// in plain SQL and lets db check verify the keys.
func init() {
	err := sqlite.RegisterDeterministicScalarFunction("sha256_hex", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			switch v := args[0].(type) {
			case string:
				return CommandSHA(v), nil
			case []byte:
				return CommandSHA(string(v)), nil
			case nil:
				return nil, nil
			default:
				return nil, fmt.Errorf("sha256_hex: want text, got %T", v)
			}
		})
	if err != nil {
		panic(err) // only a duplicate name can fail, a build-time mistake
	}
}

// CommandID returns the evidence_commands id of argv (a JSON array),
// inserting it when it is new: one row per distinct argv, however many
// evidence rows ran it.
func (tx *Tx) CommandID(argv string) (int64, error) {
	sha := CommandSHA(argv)
	if _, err := tx.Exec(`INSERT OR IGNORE INTO evidence_commands (sha, argv) VALUES (?, ?)`, sha, argv); err != nil {
		return 0, err
	}
	var id int64
	if err := tx.QueryRow(`SELECT id FROM evidence_commands WHERE sha = ?`, sha).Scan(&id); err != nil {
		return 0, fmt.Errorf("evidence command %s: %w", sha, err)
	}
	return id, nil
}

// PruneEvidenceOrphans drops the logs and commands no evidence row cites any
// more, after evidence rows were pruned; db vacuum then returns their pages.
func (tx *Tx) PruneEvidenceOrphans() error {
	if _, err := tx.Exec(`DELETE FROM evidence_logs WHERE id NOT IN (SELECT log_id FROM evidence WHERE log_id IS NOT NULL)`); err != nil {
		return err
	}
	_, err := tx.Exec(`DELETE FROM evidence_commands WHERE id NOT IN (SELECT command_id FROM evidence)`)
	return err
}
