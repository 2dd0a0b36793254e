package db

import (
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"modernc.org/sqlite"
)

// CommandSHA is the key of an argv in evidence_commands: the hex SHA-256 of
// its JSON text (uncompressed). Migration 0004 and db check compute the same
// value in SQL through sha256_hex, which is this function.
func CommandSHA(argv string) string {
	sum := sha256.Sum256([]byte(argv))
	return hex.EncodeToString(sum[:])
}

// Since schema 5 evidence_commands.argv_z holds each argv as one zstd frame,
// the same format evidence logs use. The package keeps its own coder rather
// than importing evidence: tracker/db stays below the gates.
var (
	argvEncoder = sync.OnceValue(func() *zstd.Encoder {
		// Argvs are written once and read often; spend the time compressing.
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression), zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(fmt.Sprintf("db: zstd encoder: %v", err)) // only bad options fail
		}
		return enc
	})
	argvDecoder = sync.OnceValue(func() *zstd.Decoder {
		// An argv is at most a few hundred KB, so a frame claiming more is damage.
		dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(64<<20), zstd.WithDecoderConcurrency(0))
		if err != nil {
			panic(fmt.Sprintf("db: zstd decoder: %v", err))
		}
		return dec
	})
)

// CompressArgv returns the stored form of an argv's JSON text.
func CompressArgv(argv string) []byte {
	return argvEncoder().EncodeAll([]byte(argv), make([]byte, 0, len(argv)/4+64))
}

// DecompressArgv reverses CompressArgv.
func DecompressArgv(argvZ []byte) (string, error) {
	if len(argvZ) == 0 {
		return "", fmt.Errorf("db: empty compressed argv")
	}
	out, err := argvDecoder().DecodeAll(argvZ, nil)
	if err != nil {
		return "", fmt.Errorf("db: decompress argv: %w", err)
	}
	return string(out), nil
}

// The driver has no SHA-256 or zstd of its own; registering ours (once, for
// every connection this process opens) lets migration 0004 move the existing
// argvs in plain SQL, and lets db check and Dump read the compressed argvs.
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
	// zstd_text is NULL for anything that is not a zstd frame, so db check
	// can report a damaged row instead of failing the whole query.
	err = sqlite.RegisterDeterministicScalarFunction("zstd_text", 1,
		func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
			v, ok := args[0].([]byte)
			if !ok {
				return nil, nil
			}
			text, err := DecompressArgv(v)
			if err != nil {
				return nil, nil
			}
			return text, nil
		})
	if err != nil {
		panic(err)
	}
}

// CommandID returns the evidence_commands id of argv (a JSON array),
// inserting it when it is new: one row per distinct argv, however many
// evidence rows ran it. It compresses only argvs it has to insert.
func (tx *Tx) CommandID(argv string) (int64, error) {
	sha := CommandSHA(argv)
	var id int64
	err := tx.QueryRow(`SELECT id FROM evidence_commands WHERE sha = ?`, sha).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("evidence command %s: %w", sha, err)
	}
	res, err := tx.Exec(`INSERT INTO evidence_commands (sha, argv_z) VALUES (?, ?)`, sha, CompressArgv(argv))
	if err != nil {
		return 0, fmt.Errorf("evidence command %s: %w", sha, err)
	}
	return res.LastInsertId()
}

// compressCommandArgvs is migration 5's Go step: it fills argv_z from the
// argv text of every command row, then drops the text column. Runs inside
// the migration's transaction, after 0005's script added argv_z.
func compressCommandArgvs(tx *Tx) error {
	rows, err := tx.Query(`SELECT id, argv FROM evidence_commands ORDER BY id`)
	if err != nil {
		return err
	}
	type command struct {
		id   int64
		argv string
	}
	var commands []command
	for rows.Next() {
		var c command
		if err := rows.Scan(&c.id, &c.argv); err != nil {
			rows.Close()
			return err
		}
		commands = append(commands, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	update, err := tx.Prepare(`UPDATE evidence_commands SET argv_z = ? WHERE id = ?`)
	if err != nil {
		return err
	}
	defer update.Close()
	for _, c := range commands {
		if _, err := update.Exec(CompressArgv(c.argv), c.id); err != nil {
			return fmt.Errorf("evidence command %d: %w", c.id, err)
		}
	}
	_, err = tx.Exec(`ALTER TABLE evidence_commands DROP COLUMN argv`)
	return err
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
