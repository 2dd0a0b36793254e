// Package db is porttracker's porting.db layer: opening and creating the file,
// the embedded numbered migrations, read and write transactions, the audit
// hash chain, queries shared by the commands, and the consistency check.
//
// # File
//
// porting.db is a SQLite database with PRAGMA application_id 0x50545254
// ('PTRT') and PRAGMA user_version equal to the number of the last migration
// applied (migrations/NNNN_*.sql, embedded). Open refuses a missing file (only
// Create makes one), a file that is not SQLite, a SQLite file of another
// application and a schema newer than this binary; those errors wrap
// tracker.ErrDatabase (exit 3).
//
// # Concurrency
//
// The file is in WAL mode so readers never block the single writer and
// several porttracker processes can work on one file. Every connection sets a
// busy timeout so a writer waits for the lock instead of failing, and every
// write runs in BEGIN IMMEDIATE: the write lock is taken up front, so a
// transaction never has to upgrade a read snapshot into a write (which in WAL
// mode fails with SQLITE_BUSY_SNAPSHOT whatever the timeout). Write retries
// whatever SQLITE_BUSY still escapes, so callers never see "database is locked".
//
// # Audit chain
//
// Every audit row carries hash = hex(sha256(prev_hash + "\x00" + canonical)),
// where canonical is the JSON array
//
//	[id, at, actor, argv, kind, item_id, action, from_value, to_value, reason, override, evidence_ids]
//
// and the first row's prev_hash is 64 zeros. Check verifies the chain and
// replays it against the items' statuses.
//
// # Evidence storage
//
// One gate run proves many items, so what it shares is stored once: its log
// in evidence_logs and its argv in evidence_commands (keyed by CommandSHA,
// which this package also registers with SQLite as sha256_hex for migrations
// and Check). Evidence rows cite both by id; pruning drops what no row cites
// (PruneEvidenceOrphans), and Vacuum returns the pages.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/porttracker/porttracker/tracker"
)

// ApplicationID is PRAGMA application_id for porting.db: 'PTRT'.
const ApplicationID = 0x50545254

// Errors wrapped by every Open/Create failure, alongside tracker.ErrDatabase.
var (
	ErrNotFound    = errors.New("database file does not exist")
	ErrExists      = errors.New("database file already exists")
	ErrCorrupt     = errors.New("database file is corrupt or not a SQLite database")
	ErrForeign     = errors.New("SQLite file belongs to another application")
	ErrNewerSchema = errors.New("database schema is newer than this binary")
)

// OpenError explains why a database cannot be used.
type OpenError struct {
	Path  string
	Kind  error // one of ErrNotFound, ErrExists, ErrCorrupt, ErrForeign, ErrNewerSchema
	Hint  string
	Cause error
}

func (e *OpenError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Path, e.Kind)
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

func (e *OpenError) Unwrap() []error {
	errs := []error{tracker.ErrDatabase, e.Kind}
	if e.Cause != nil {
		errs = append(errs, e.Cause)
	}
	return errs
}

// DB is an open porting.db.
type DB struct {
	sql  *sql.DB
	path string
	opts options
}

type options struct {
	now         func() time.Time
	actor       string
	argv        []string
	busyTimeout time.Duration // per-statement wait inside SQLite
	retryFor    time.Duration // how long Write keeps retrying SQLITE_BUSY on top of that
}

// Option configures Open and Create.
type Option func(*options)

// WithClock swaps the clock; each transaction reads it once (Tx.Now).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithActor sets the audit actor used when an AuditEntry leaves Actor empty.
func WithActor(actor string) Option { return func(o *options) { o.actor = actor } }

// WithArgv sets the audit argv used when an AuditEntry leaves Argv nil.
func WithArgv(argv []string) Option { return func(o *options) { o.argv = argv } }

// WithBusyTimeout sets how long one statement waits for a lock.
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

func buildOptions(opts []Option) options {
	o := options{
		now:         time.Now,
		actor:       "unknown",
		argv:        []string{},
		busyTimeout: 5 * time.Second,
		retryFor:    2 * time.Minute,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// Open opens an existing porting.db and applies pending migrations. It never
// creates a file.
func Open(path string, opts ...Option) (*DB, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, &OpenError{Path: path, Kind: ErrNotFound,
			Hint: "create one with `porttracker db init --db " + path + "`, or pass --db / set PORTTRACKER_DB"}
	}
	if err != nil {
		return nil, &OpenError{Path: path, Kind: ErrCorrupt, Cause: err}
	}
	if fi.IsDir() {
		return nil, &OpenError{Path: path, Kind: ErrCorrupt, Hint: "it is a directory"}
	}
	// Check the header ourselves before SQLite sees the file, so a foreign or
	// garbage file gets a clear message and is never written to.
	if err := checkHeader(path); err != nil {
		return nil, err
	}
	d, err := openSQL(path, "rw", buildOptions(opts))
	if err != nil {
		return nil, err
	}
	if err := d.validate(); err != nil {
		d.sql.Close()
		return nil, err
	}
	if err := d.setWAL(); err != nil {
		d.sql.Close()
		return nil, err
	}
	if _, err := d.Migrate(context.Background()); err != nil {
		d.sql.Close()
		return nil, err
	}
	return d, nil
}

// Create makes a new porting.db at path with the current schema. It refuses
// an existing file.
func Create(path string, opts ...Option) (*DB, error) {
	if _, err := os.Stat(path); err == nil {
		return nil, &OpenError{Path: path, Kind: ErrExists, Hint: "refusing to overwrite it"}
	}
	if dir := filepath.Dir(path); dir != "" {
		if _, err := os.Stat(dir); err != nil {
			return nil, &OpenError{Path: path, Kind: ErrNotFound, Hint: "its directory does not exist"}
		}
	}
	d, err := openSQL(path, "rwc", buildOptions(opts))
	if err != nil {
		return nil, err
	}
	if err := d.setWAL(); err != nil {
		d.sql.Close()
		return nil, err
	}
	if _, err := d.Migrate(context.Background()); err != nil {
		d.sql.Close()
		return nil, err
	}
	return d, nil
}

func checkHeader(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &OpenError{Path: path, Kind: ErrCorrupt, Cause: err}
	}
	defer f.Close()
	header := make([]byte, 100)
	if _, err := io.ReadFull(f, header); err != nil || string(header[:16]) != sqliteMagic {
		return &OpenError{Path: path, Kind: ErrCorrupt, Hint: "no SQLite header"}
	}
	return nil
}

func openSQL(path, mode string, o options) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, &OpenError{Path: path, Kind: ErrNotFound, Cause: err}
	}
	q := url.Values{}
	q.Set("mode", mode) // "rw" makes SQLite itself refuse to create the file
	// Per-connection settings, applied to every pooled connection:
	//   busy_timeout: wait for another process's lock instead of failing;
	//   foreign_keys: SQLite leaves them off by default, and batch_id must stay valid;
	//   synchronous=NORMAL: in WAL mode a commit survives a process crash
	//   (SIGKILL) without an fsync per commit; only power loss can drop the
	//   newest commits, never corrupt the file.
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", o.busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, &OpenError{Path: path, Kind: ErrCorrupt, Cause: err}
	}
	// A handful of connections is plenty for a CLI; each costs a page cache.
	sqldb.SetMaxOpenConns(4)
	sqldb.SetMaxIdleConns(4)
	return &DB{sql: sqldb, path: path, opts: o}, nil
}

// validate refuses a file that is not ours or is newer than this binary.
func (d *DB) validate() error {
	ctx := context.Background()
	var appID, version int64
	err := d.retryBusy(ctx, func() error {
		if err := d.sql.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
			return err
		}
		return d.sql.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version)
	})
	if err != nil {
		return d.classify(err)
	}
	if appID != ApplicationID {
		return &OpenError{Path: d.path, Kind: ErrForeign,
			Hint: fmt.Sprintf("application_id is %#x, porting.db uses %#x", appID, ApplicationID)}
	}
	if version > int64(LatestVersion()) {
		return &OpenError{Path: d.path, Kind: ErrNewerSchema,
			Hint: fmt.Sprintf("schema version %d, this binary knows up to %d: upgrade porttracker", version, LatestVersion())}
	}
	return nil
}

func (d *DB) setWAL() error {
	ctx := context.Background()
	var mode string
	if err := d.sql.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return d.classify(err)
	}
	if strings.EqualFold(mode, "wal") {
		return nil
	}
	return d.retryBusy(ctx, func() error {
		return d.sql.QueryRowContext(ctx, "PRAGMA journal_mode=WAL").Scan(&mode)
	})
}

// Close closes the database. When it is the last connection to the file,
// SQLite checkpoints the WAL and removes the -wal and -shm files.
func (d *DB) Close() error { return d.sql.Close() }

// Path is the file name the database was opened with.
func (d *DB) Path() string { return d.path }

// Now reads the database's clock.
func (d *DB) Now() time.Time { return d.opts.now() }

// classify turns SQLite's corruption codes into OpenErrors (exit 3).
func (d *DB) classify(err error) error {
	if err == nil {
		return nil
	}
	var oe *OpenError
	if errors.As(err, &oe) {
		return err
	}
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return &OpenError{Path: d.path, Kind: ErrCorrupt, Cause: err}
	}
	return err
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// IsBusy reports whether err is SQLite's lock contention (SQLITE_BUSY or
// SQLITE_LOCKED), which a retry resolves.
func IsBusy(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}

// retryBusy runs fn until it stops failing with SQLITE_BUSY or the retry
// budget runs out.
func (d *DB) retryBusy(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(d.opts.retryFor)
	backoff := 2 * time.Millisecond
	for {
		err := fn()
		if err == nil || !IsBusy(err) || time.Now().After(deadline) {
			return err
		}
		// Jitter so competing processes do not retry in lockstep.
		sleep := backoff/2 + rand.N(backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(sleep):
		}
		if backoff < 100*time.Millisecond {
			backoff *= 2
		}
	}
}
