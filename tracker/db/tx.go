package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"time"
)

// Tx is one read or write transaction. All statements run on one connection
// and see one fixed "now" (Now), so every row a command writes carries the
// same timestamp.
type Tx struct {
	ctx   context.Context
	conn  *sql.Conn
	now   time.Time
	db    *DB
	write bool
}

// Now is the transaction's fixed time.
func (tx *Tx) Now() time.Time { return tx.now }

// NowString is Now in the format stored in porting.db (RFC 3339, UTC).
func (tx *Tx) NowString() string { return FormatTime(tx.now) }

// Context is the context the transaction runs under.
func (tx *Tx) Context() context.Context { return tx.ctx }

// Writable reports whether this is a Write transaction.
func (tx *Tx) Writable() bool { return tx.write }

// Exec runs a statement.
func (tx *Tx) Exec(query string, args ...any) (sql.Result, error) {
	return tx.conn.ExecContext(tx.ctx, query, args...)
}

// Query runs a query.
func (tx *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	return tx.conn.QueryContext(tx.ctx, query, args...)
}

// QueryRow runs a query expected to return at most one row.
func (tx *Tx) QueryRow(query string, args ...any) *sql.Row {
	return tx.conn.QueryRowContext(tx.ctx, query, args...)
}

// Prepare prepares a statement for repeated use inside this transaction
// (bulk inserts). The caller closes it.
func (tx *Tx) Prepare(query string) (*sql.Stmt, error) {
	return tx.conn.PrepareContext(tx.ctx, query)
}

// FormatTime is the stored time format: RFC 3339 with nanoseconds, UTC, so
// string order is time order.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z") }

// Write runs fn in a BEGIN IMMEDIATE transaction and commits when fn returns
// nil; any error rolls everything back. SQLITE_BUSY anywhere (begin, a
// statement, commit) rolls back and reruns fn, so fn must only touch the
// database (no side effects it cannot repeat).
func (d *DB) Write(ctx context.Context, fn func(tx *Tx) error) error {
	return d.classify(d.retryBusy(ctx, func() error { return d.runTx(ctx, true, fn) }))
}

// Read runs fn in a read transaction: one consistent snapshot, never blocking
// the writer (WAL).
func (d *DB) Read(ctx context.Context, fn func(tx *Tx) error) error {
	return d.classify(d.retryBusy(ctx, func() error { return d.runTx(ctx, false, fn) }))
}

func (d *DB) runTx(ctx context.Context, write bool, fn func(tx *Tx) error) (err error) {
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	begin := "BEGIN"
	if write {
		begin = "BEGIN IMMEDIATE"
	}
	if _, err := conn.ExecContext(ctx, begin); err != nil {
		return err
	}
	tx := &Tx{ctx: ctx, conn: conn, now: d.opts.now(), db: d, write: write}
	done := false
	defer func() {
		if !done {
			// Also runs when fn panics. Roll back with a fresh context: the
			// caller's may be cancelled, and a connection must not go back
			// to the pool mid-transaction.
			if _, rbErr := conn.ExecContext(context.Background(), "ROLLBACK"); rbErr != nil {
				// The connection is in an unknown state; drop it from the pool.
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if !write {
		// A read transaction has nothing to commit; ROLLBACK ends it.
		return nil
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	done = true
	return nil
}
