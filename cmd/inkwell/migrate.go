package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"inkwell/projections"
)

// runMigrate applies the read-model database's migrations and exits.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("inkwell migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, &cfg, args, getenv); err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return err
		}
	}
	db, err := projections.Open(ctx, cfg.databaseURL())
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx, newLogger(cfg, stderr)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "The %s read-model database is up to date.\n", db.Dialect)
	return nil
}
