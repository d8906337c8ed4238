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
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"inkwell/migrations"
)

// Dialect names a SQL dialect.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the read-model database.
type DB struct {
	*sqlx.DB
	Dialect Dialect
}

// Open opens the database at url: a postgres:// or postgresql:// URL, or a
// SQLite file path (optionally prefixed with "sqlite:" or "file:").
func Open(ctx context.Context, url string) (*DB, error) {
	var db *DB
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		x, err := sqlx.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		x.SetMaxOpenConns(20)
		x.SetMaxIdleConns(10)
		x.SetConnMaxIdleTime(5 * time.Minute)
		db = &DB{DB: x, Dialect: Postgres}
	} else {
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return nil, errors.New("open sqlite: empty path")
		}
		// WAL lets readers run beside the one writer; write transactions
		// take the lock when they begin (BEGIN IMMEDIATE), so two writers
		// queue on busy_timeout instead of failing on a lock upgrade.
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
			"&_pragma=busy_timeout(30000)&_pragma=foreign_keys(ON)&_time_format=sqlite&_txlock=immediate"
		x, err := sqlx.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		x.SetMaxOpenConns(8)
		x.SetMaxIdleConns(8)
		// sqlx knows the "sqlite3" name for ? placeholders, not "sqlite".
		db = &DB{DB: sqlx.NewDb(x.DB, "sqlite3"), Dialect: SQLite}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", db.Dialect, err)
	}
	return db, nil
}

// Migrate applies Inkwell's own numbered migrations (see package migrations).
func (db *DB) Migrate(ctx context.Context, logger *slog.Logger) error {
	fsys, err := migrations.Core(string(db.Dialect))
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithTableName("inkwell_migrations"), goose.WithDisableGlobalRegistry(true)}
	if db.Dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.DB.DB, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range res {
		if logger != nil {
			logger.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "took", r.Duration)
		}
	}
	return nil
}

// forUpdate returns the row-locking clause of a SELECT in a write transaction
// ("" on SQLite, whose write transactions hold the database lock).
func (db *DB) forUpdate() string {
	if db.Dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// IsUniqueViolation reports whether err is a unique-constraint violation.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}
