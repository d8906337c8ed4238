package main

import (
	"context"
	"fmt"

	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/projections"
)

// migrateCommand applies the read-model database's migrations and exits.
func (a *app) migrateCommand() *ffcli.Command {
	cfg := DefaultConfig()
	fs := a.newFlagSet("inkwell migrate")
	env := bindConfig(fs, &cfg, groupData, groupDatabase, groupLog)
	return &ffcli.Command{
		Name:       "migrate",
		ShortUsage: "inkwell migrate [flags]",
		ShortHelp:  "apply the read-model database migrations",
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			if err := a.settle(fs, env, &cfg, args); err != nil {
				return err
			}
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
	}
}
