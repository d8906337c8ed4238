// Package projections builds Inkwell's read models from the event log.
//
// Each projection has a name and a version, owns its tables and applies
// batches of events with Apply inside a transaction that also stores its
// checkpoint (the last log sequence applied), so a redelivered or replayed
// event changes nothing. The same Apply serves the live runner and full
// rebuilds.
//
// Tables are versioned by generation: a projection writes to physical tables
// named <table>_g<N> and readers query views named <table> over the current
// generation. A rebuild fills generation N+1 while N keeps serving, then
// swaps the views in one transaction.
//
// The query functions that read a projection's tables live beside it.
package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect names a SQL dialect.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the read-model database.
//
// Every query it answers for the API runs under QueryTimeout (see
// GetContext and SelectContext), and an error that says the database could
// not serve (down, unreachable, too slow, out of disk) is an
// *domain.UnavailableError naming the database: the API answers 503, and
// the projection runners retry instead of calling the event they were
// applying broken.
type DB struct {
	*sqlx.DB
	Dialect Dialect
	// QueryTimeout bounds each query of the read models' query functions
	// (default 3s; PostgreSQL's statement_timeout is set to the same unless
	// the URL sets it).
	QueryTimeout time.Duration

	// stmts holds SQLite's prepared statements of the queries (preparing
	// one costs more than running a one-row query); pgx keeps its own.
	stmts *stmtCache

	// migrateURL is the PostgreSQL URL migrations connect with: no
	// statement timeout (DDL may wait for locks or a busy server far longer
	// than a query of the API may take).
	migrateURL string

	// unboundedLeases says once that the server cannot end idle sessions
	// (see boundIdleSession).
	unboundedLeases sync.Once

	// checkpoints runs SQLite's checkpoints (nil on PostgreSQL).
	checkpoints *checkpointer

	// batches is the pool of the runners' batches on PostgreSQL (nil on
	// SQLite), whose sessions carry their bounds (see batchesURL).
	batches *sqlx.DB
}

// LogTo tells log of what db does on its own, beside the statements it is
// given: on SQLite, its checkpoints that fail.
func (db *DB) LogTo(log *slog.Logger) {
	if db.checkpoints != nil {
		db.checkpoints.log.Store(log)
	}
}

// Close stops the checkpoints of a SQLite database and closes it.
func (db *DB) Close() error {
	if db.checkpoints != nil {
		db.checkpoints.close()
	}
	if db.batches != nil {
		db.batches.Close()
	}
	return db.DB.Close()
}

// defaultQueryTimeout is DB.QueryTimeout's default.
const defaultQueryTimeout = 3 * time.Second

// postgresURL adds Inkwell's defaults to a PostgreSQL URL that does not set
// them: a connection attempt gives up after 5 seconds (a database that does
// not answer must not hold requests until the operating system's TCP
// timeout), and a statement is cancelled by the server after the query
// timeout. Projection runners and rebuilds, whose transactions may run
// longer, lift the statement timeout for their own transactions.
func postgresURL(raw string, queryTimeout time.Duration) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	q := u.Query()
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", "5")
	}
	if q.Get("statement_timeout") == "" {
		q.Set("statement_timeout", strconv.FormatInt(queryTimeout.Milliseconds(), 10))
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// batchesURL returns the PostgreSQL URL of the runners' batches: pgURL
// (see postgresURL) with the bounds of a batch set for the whole session,
// so that a batch sends none of them: a statement timeout a batch does
// not reach (60 s, past a query's), the bound on the session idle in a
// transaction (leaseDeadline: a paused or partitioned process must not
// keep the rows and the checkpoint it locked, see boundIdleTransaction),
// and commits that do not wait for the flush of PostgreSQL's write-ahead
// log: a batch stores the projection's checkpoint with its rows, so a
// batch that a crash of the database server loses is lost whole, and
// applied again from the log (ErrCheckpointBehind).
func batchesURL(pgURL string) (string, error) {
	u, err := url.Parse(pgURL)
	if err != nil {
		return "", fmt.Errorf("database URL: %w", err)
	}
	q := u.Query()
	q.Set("statement_timeout", "60000")
	q.Set("idle_in_transaction_session_timeout", strconv.FormatInt(leaseDeadline.Milliseconds(), 10))
	q.Set("synchronous_commit", "off")
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Open opens the database at url: a postgres:// or postgresql:// URL, or a
// SQLite file path (optionally prefixed with "sqlite:" or "file:").
func Open(ctx context.Context, dbURL string) (*DB, error) {
	var db *DB
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		pgURL, err := postgresURL(dbURL, defaultQueryTimeout)
		if err != nil {
			return nil, err
		}
		x, err := sqlx.Open("pgx", pgURL)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		// As many idle connections as open ones: under load, a pool that
		// keeps fewer closes connections only to open them again.
		x.SetMaxOpenConns(20)
		x.SetMaxIdleConns(20)
		x.SetConnMaxIdleTime(5 * time.Minute)
		migrateURL, err := postgresURL(withoutStatementTimeout(dbURL), 0)
		if err != nil {
			return nil, err
		}
		batchURL, err := batchesURL(pgURL)
		if err != nil {
			return nil, err
		}
		b, err := sqlx.Open("pgx", batchURL)
		if err != nil {
			x.Close()
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		// One connection a runner (a process runs five), and a few more.
		b.SetMaxOpenConns(8)
		b.SetMaxIdleConns(8)
		b.SetConnMaxIdleTime(5 * time.Minute)
		db = &DB{DB: x, Dialect: Postgres, QueryTimeout: defaultQueryTimeout, migrateURL: migrateURL, batches: b}
	} else {
		path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return nil, errors.New("open sqlite: empty path")
		}
		if err := privateSQLiteFiles(path); err != nil {
			return nil, err
		}
		// WAL lets readers run beside the one writer; write transactions
		// take the lock when they begin (BEGIN IMMEDIATE), so two writers
		// queue (in this process on its writer lock, see writer.go; beside
		// another process on busy_timeout) instead of failing on a lock
		// upgrade. The checkpoints run beside the writers (checkpoint.go),
		// not in their commits; the log's file is cut back to 64 MiB when
		// it starts over.
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
			"&_pragma=busy_timeout(30000)&_pragma=foreign_keys(ON)&_pragma=secure_delete(ON)" +
			"&_pragma=wal_autocheckpoint(0)&_pragma=journal_size_limit(67108864)" +
			"&_time_format=sqlite&_txlock=immediate"
		connector, err := newWriterConnector(dsn, 30*time.Second)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		x := sql.OpenDB(connector)
		x.SetMaxOpenConns(8)
		x.SetMaxIdleConns(8)
		// sqlx knows the "sqlite3" name for ? placeholders, not "sqlite".
		db = &DB{DB: sqlx.NewDb(x, "sqlite3"), Dialect: SQLite, QueryTimeout: defaultQueryTimeout, stmts: &stmtCache{},
			checkpoints: startCheckpointer(x, connector.lock)}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", db.Dialect, err)
	}
	return db, nil
}

// Scrub makes the rows deleted so far unrecoverable from the database's
// files, as far as the dialect lets it (see docs/personal-data.md).
// SQLite overwrites deleted content with zeros (secure_delete is on), but
// its write-ahead log keeps the earlier images of the pages until a
// checkpoint copies the new ones into the database and truncates the log:
// Scrub runs that checkpoint, waiting a while for readers that hold the
// log. PostgreSQL keeps deleted rows in its files until VACUUM reuses their
// space, which no statement of Inkwell's can force to happen at once.
func (db *DB) Scrub(ctx context.Context) error {
	if db.Dialect != SQLite {
		return nil
	}
	wait := 10 * time.Millisecond
	for {
		var busy, frames, done int
		if err := db.QueryRowxContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &done); err != nil {
			return fmt.Errorf("scrub sqlite: %w", err)
		}
		if busy == 0 {
			return nil
		}
		if wait > 5*time.Second {
			return errors.New("scrub sqlite: readers kept the write-ahead log busy; the next erasure scrubs it")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// privateSQLiteFiles makes the SQLite database at path readable by its
// owner alone (it holds emails, names and drafts): it creates the file with
// mode 0600 if it does not exist, so that SQLite gives its -wal and -shm
// files the same mode, and tightens an existing file and those to 0600.
// An in-memory database (":memory:") has no files.
func privateSQLiteFiles(path string) error {
	if path == ":memory:" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open sqlite %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("open sqlite %s: %w", p, err)
		}
		if st.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, st.Mode().Perm()&0o700|0o600); err != nil {
			return fmt.Errorf("the SQLite file %s is readable by other local users (mode %04o) and cannot be made private (%w): run chmod 600 %s as its owner",
				p, st.Mode().Perm(), err, p)
		}
	}
	return nil
}

func (db *DB) queryTimeout() time.Duration {
	if db.QueryTimeout <= 0 {
		return defaultQueryTimeout
	}
	return db.QueryTimeout
}

// withoutStatementTimeout removes a statement_timeout a PostgreSQL URL sets.
func withoutStatementTimeout(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw // postgresURL reports it
	}
	q := u.Query()
	q.Del("statement_timeout")
	u.RawQuery = q.Encode()
	return u.String()
}

// forUpdate returns the row-locking clause of a SELECT in a write transaction
// ("" on SQLite, whose write transactions hold the database lock).
func (db *DB) forUpdate() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}
