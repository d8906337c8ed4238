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
			if err := ensureDataDir(cfg); err != nil {
				return err
			}
			db, err := projections.Open(ctx, cfg.databaseURL())
			if err != nil {
				return err
			}
			defer db.Close()
			if err := db.Migrate(ctx, newLogger(cfg, a.stderr)); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "The %s read-model database is up to date.\n", db.Dialect)
			return nil
		},
	})
}
