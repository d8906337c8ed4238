package main

import (
	"context"
	"fmt"

	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/projections"
)

// migrateCommand applies the read-model database's migrations and exits.
func (a *app) migrateCommand() *ffcli.Command {
	return a.command(leaf{
		path:   "inkwell migrate",
		usage:  "inkwell migrate [flags]",
		help:   "apply the read-model database migrations",
		groups: []group{groupData, groupDatabase, groupLog},
		run: func(ctx context.Context, cfg Config) error {
			// The data directory holds the SQLite file; a PostgreSQL
			// database needs none made.
			if _, sqlite := projections.SQLiteFile(cfg.databaseURL()); sqlite {
				if err := ensureDataDir(cfg); err != nil {
					return err
				}
			}
			db, err := projections.Open(ctx, cfg.databaseURL())
			if err != nil {
				return databaseError(cfg.databaseURL(), err)
			}
			defer db.Close()
			log := newLogger(cfg, a.stderr)
			db.LogTo(log)
			if err := db.Migrate(ctx, log); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "The %s read-model database is up to date.\n", db.Dialect)
			return nil
		},
	})
}
