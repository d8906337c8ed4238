// The engine's locks: advisory lock keys, the schema lock, statement and idle bounds.

package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// The first keys of the two-key PostgreSQL advisory locks the engine takes
// ("inkw" and the next two numbers), the second key naming the schema (and
// the projection): changes to projection_state, a rebuild of a projection,
// and a projection's lease (the one applier) are apart from each other.
const (
	stateLockKey   = 1768844151
	rebuildLockKey = 1768844152
	leaseKey       = 1768844153
)

// lockProjections serializes schema changes to projection tables across
// processes: on PostgreSQL with a transaction-scoped advisory lock; SQLite
// write transactions already hold the database's write lock.
//
// Advisory locks are database-wide, so every one Inkwell takes is keyed by
// the schema too: deployments (or tests) in other schemas of one database
// do not wait for each other.
func lockProjections(ctx context.Context, tx *sqlx.Tx, d Dialect) error {
	if d != Postgres {
		return nil
	}
	// It may wait for another process's schema change: no statement
	// timeout for the rest of the transaction.
	if err := liftStatementTimeout(ctx, tx, d, "0"); err != nil {
		return err
	}
	// 0x696e6b77 is "inkw".
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", stateLockKey)
	return err
}

// beginLocked begins a transaction that holds the projections' schema lock
// (lockProjections), with no statement timeout on PostgreSQL: its work may
// wait for another process's schema change and run DDL, which is not a
// query of the API.
//
// Such a transaction (a rebuild's swap, which reads the log's last events
// while it holds the live checkpoint) may wait for the log, but a process
// paused or cut off while it holds one must not stall every instance's
// read models: PostgreSQL ends it once idle for lockedIdleBound.
func (db *DB) beginLocked(ctx context.Context) (*sqlx.Tx, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := boundIdleTransaction(ctx, tx, db.Dialect, lockedIdleBound); err != nil {
		tx.Rollback()
		return nil, err
	}
	if err := lockProjections(ctx, tx, db.Dialect); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// lockedIdleBound is how long a transaction holding the projections' lock
// may stay idle before PostgreSQL ends it (see beginLocked): long enough for
// a slow read of the log, short enough that a paused rebuild holds the read
// models up for at most that long.
const lockedIdleBound = 30 * time.Second

// liftStatementTimeout sets PostgreSQL's statement timeout for the rest of
// transaction tx ("0": none), for work that may take longer than a query
// of the API (see postgresURL). SQLite has none.
func liftStatementTimeout(ctx context.Context, tx *sqlx.Tx, d Dialect, timeout string) error {
	if d != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = '"+timeout+"'")
	return err
}

// boundIdleTransaction makes PostgreSQL end tx's session if tx stays idle
// (its process sends nothing while it is open) for longer than d: a paused
// or partitioned process must not keep the rows tx locked. A server that
// does not know the setting leaves it unbounded.
func boundIdleTransaction(ctx context.Context, tx *sqlx.Tx, d Dialect, bound time.Duration) error {
	if d != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL idle_in_transaction_session_timeout = %d", bound.Milliseconds()))
	return err
}
