package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"inkwell/projections"
)

// A damaged read-model database (a SQLite file cut short or overwritten:
// "database disk image is malformed", "file is not a database") holds
// nothing the log does not: the read models are derived from it. Rather
// than stop there, serve and replay set the file aside, keeping it for
// whoever wants to look at it, and start a new one that the projections
// fill from the log. A PostgreSQL database is the operator's to repair; the
// error says how.

// openReadModelDB opens and migrates the read-model database at dbURL; a
// damaged SQLite file is set aside (see setAside) and a new one made, when
// mayMove says no other process has the file open.
func openReadModelDB(ctx context.Context, dbURL string, log *slog.Logger, mayMove bool, now func() time.Time) (*projections.DB, error) {
	db, err := openDatabase(ctx, dbURL, log)
	if err == nil || !projections.DatabaseDamaged(err) {
		return db, err
	}
	path, ok := projections.SQLiteFile(dbURL)
	if !ok {
		return nil, fmt.Errorf("%w: the read-model database is damaged. It holds only what the event log does: "+
			"rebuild the read models from the log (inkwell replay); if that fails too, point INKWELL_DATABASE_URL at a new, empty database and start Inkwell, which fills it from the log", err)
	}
	if !mayMove {
		return nil, fmt.Errorf("%w: the read-model database %s is damaged, and the Inkwell server running on its data directory has it open: "+
			"restart that server (or stop it and run this again): the file is set aside and a new one filled from the event log", err, path)
	}
	moved, merr := setAside(path, now().UTC())
	if merr != nil {
		return nil, fmt.Errorf("%w: the read-model database %s is damaged, and it could not be set aside (%v): "+
			"move it away by hand (with its -wal and -shm files) and start again: a new one is filled from the event log", err, path, merr)
	}
	log.Error("the read-model database is damaged: it is set aside, and a new one is rebuilt from the event log (the read models answer once it is); "+
		"the damaged file is kept: delete it once you no longer need it",
		"file", path, "set_aside_as", moved, "err", err)
	db, err = openDatabase(ctx, dbURL, log)
	if err != nil {
		return nil, fmt.Errorf("a new read-model database in place of the damaged one (set aside as %s): %w", moved, err)
	}
	// Filled by a rebuild, as a new version of a read model is at start-up
	// (in one pass over the log, some ten times faster than the runners
	// applying it as they follow it): its tables are made, and marked as
	// of no version.
	for _, p := range readModels() {
		if _, err := db.Ensure(ctx, p, now()); err != nil {
			db.Close()
			return nil, fmt.Errorf("a new read-model database in place of the damaged one (set aside as %s): %w", moved, err)
		}
	}
	if _, err := db.ForgetLog(ctx, now()); err != nil {
		db.Close()
		return nil, fmt.Errorf("a new read-model database in place of the damaged one (set aside as %s): %w", moved, err)
	}
	return db, nil
}

// reachDatabase opens the PostgreSQL database at dbURL (the setting: ""
// is the SQLite file, nil here) and checks that it answers, without
// migrating it: serve reaches it before it writes anything, then migrates
// it (migrateDatabase).
func reachDatabase(ctx context.Context, dbURL string) (*projections.DB, error) {
	if _, sqlite := projections.SQLiteFile(dbURL); sqlite || dbURL == "" {
		return nil, nil
	}
	db, err := projections.Open(ctx, dbURL)
	if err != nil {
		return nil, databaseError(dbURL, err)
	}
	return db, nil
}

// migrateDatabase migrates the PostgreSQL database reachDatabase opened.
func migrateDatabase(ctx context.Context, db *projections.DB, log *slog.Logger) error {
	err := db.Migrate(ctx, log)
	if projections.DatabaseDamaged(err) {
		return fmt.Errorf("%w: the read-model database is damaged. It holds only what the event log does: "+
			"rebuild the read models from the log (inkwell replay); if that fails too, point INKWELL_DATABASE_URL at a new, empty database and start Inkwell, which fills it from the log", err)
	}
	return err
}

// databaseError names the read-model database and its setting in err, an
// error opening it, with the password of its URL redacted: a driver may
// quote the URL.
func databaseError(dbURL string, err error) error {
	return redactErr(fmt.Errorf("the read-model database %s (%s): %w", redactURL(dbURL), settingDatabaseURL, err), dbURL)
}

// setAside renames the SQLite file at path, and its -wal and -shm files,
// to <path>.damaged-<UTC time> (and -wal, -shm), keeping SQLite's naming so
// that the set-aside copy opens with its log. It returns the new name.
func setAside(path string, at time.Time) (string, error) {
	to := path + ".damaged-" + at.Format("20060102T150405.000000000Z")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Rename(path+suffix, to+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return to, err
		}
	}
	return to, nil
}
