// A rebuild's connections: the lock that makes rebuilds take turns, the bulk one.

package projections

import (
	"context"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
)

// lockRebuild makes rebuilds of one projection take turns across processes
// on PostgreSQL, with a session advisory lock on a connection of its own
// (released if the process dies). SQLite has no such lock; ownership checks
// in every transaction of a rebuild keep two of them from mixing.
func lockRebuild(ctx context.Context, db *DB, name string, log *slog.Logger) (release func(), err error) {
	if db.Dialect != Postgres {
		return func() {}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild %s: %w", name, err)
	}
	const key = rebuildLockKey
	discard := func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // closes it
		conn.Close()
	}
	// Waiting for another rebuild may take long: no statement timeout on
	// this connection, which is discarded afterwards.
	if _, err := conn.ExecContext(ctx, "SET statement_timeout = 0"); err != nil {
		discard()
		return nil, fmt.Errorf("rebuild %s: %w", name, err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, hashtext(current_schema() || '/' || $2))", key, name).Scan(&ok); err != nil {
		discard()
		return nil, fmt.Errorf("rebuild %s: lock: %w", name, err)
	}
	if !ok {
		log.Info("another process is rebuilding this projection; waiting for it")
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1, hashtext(current_schema() || '/' || $2))", key, name); err != nil {
			discard()
			return nil, fmt.Errorf("rebuild %s: wait for the other rebuild: %w", name, err)
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1, hashtext(current_schema() || '/' || $2))", key, name)
		discard()
	}, nil
}

// bulkConn returns a connection of the rebuild's own for its batches,
// tuned for bulk writes that need not be durable one by one (a rebuild cut
// short starts over), and a function that discards it, so that its settings
// never return to the pool. The swap runs on an ordinary connection.
func bulkConn(ctx context.Context, db *DB) (*sqlx.Conn, func(), error) {
	conn, err := db.Connx(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("rebuild: %w", err)
	}
	discard := func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // closes it
		conn.Close()
	}
	var settings []string
	switch db.Dialect {
	case SQLite:
		// In WAL mode with synchronous=NORMAL a commit does not sync; a
		// checkpoint (copying the log's pages into the database, by default
		// once it holds 1,000) syncs twice. Every batch of a rebuild writes
		// far more than that: checkpointing every 64 MiB instead copies a
		// page that several batches rewrote once, and syncs far less often.
		// A page cache of 8 MiB (rather than 2) keeps the pages a rebuild
		// revisits in memory; it also bounds the memory of each sort of an
		// index build. Each MiB of it cost a replay 3 to 4 MB at its peak
		// (the cache and the sorts, as SQLite allocates them): 32 MiB
		// cost 95 MB more than 8, and 128 MiB 250 MB more than 32, for no
		// speed on logs of 100,000 to 1,000,000 events (docs/performance.md).
		settings = []string{"PRAGMA wal_autocheckpoint = 16384", "PRAGMA cache_size = -8192"}
	case Postgres:
		// Do not wait for the WAL flush of each batch: a crash can only
		// lose batches of a rebuild that will start over. Build the new
		// generation's indexes in memory (the default, 64 MB, spills a
		// large read model's sorts to disk).
		// No statement timeout: a rebuild's COPY and index builds run as
		// long as the read model is large.
		settings = []string{"SET synchronous_commit = off", "SET maintenance_work_mem = '256MB'", "SET statement_timeout = 0"}
	}
	for _, s := range settings {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			discard()
			return nil, nil, fmt.Errorf("rebuild: %s: %w", s, err)
		}
	}
	return conn, discard, nil
}
