// Inkwell's own numbered migrations of the read-model database.

package projections

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/jmoiron/sqlx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"inkwell/migrations"
)

// Migrate applies Inkwell's own numbered migrations (see package migrations).
func (db *DB) Migrate(ctx context.Context, logger *slog.Logger) error {
	fsys, err := migrations.Core(string(db.Dialect))
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithTableName("inkwell_migrations"), goose.WithDisableGlobalRegistry(true)}
	conn := db.DB.DB
	if db.Dialect == Postgres {
		mdb, err := sqlx.Open("pgx", db.migrateURL)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer mdb.Close()
		conn = mdb.DB
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, conn, fsys, opts...)
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
