package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"inkwell/eventstore"
	"inkwell/projections"
)

// operations are what an operator's command works on: the event log, the
// read-model database (for the commands that read it), and the command's
// logger.
type operations struct {
	el    *eventLog
	store *eventstore.Store
	db    *projections.DB
	log   *slog.Logger
}

// The configuration groups of the operator's commands: those that work on
// the event log, and those that work on the read-model database too.
var (
	eventLogGroups   = []group{groupData, groupEventLog, groupLog}
	operationsGroups = []group{groupData, groupEventLog, groupDatabase, groupLog}
)

// withStore opens the event log for an operator's command, logging to
// stderr, runs it, and closes the log.
func withStore(ctx context.Context, cfg Config, stderr io.Writer, run func(operations) error) error {
	ops := operations{log: newLogger(cfg, stderr)}
	var err error
	if ops.el, ops.store, err = openStore(ctx, cfg, ops.log, false, false); err != nil {
		return err
	}
	defer ops.el.Close()
	return run(ops)
}

// withOperations opens the event log and the read-model database for an
// operator's command, runs it, and closes them.
func withOperations(ctx context.Context, cfg Config, stderr io.Writer, run func(operations) error) error {
	return withDatabase(ctx, cfg, stderr, func(ops operations) (*projections.DB, error) {
		return openDatabase(ctx, cfg.databaseURL(), ops.log)
	}, run)
}

// withRebuildOperations is withOperations for the commands that rebuild
// the read models (inkwell replay): a damaged SQLite file is set aside
// first, unless a server running on the data directory has it open.
func withRebuildOperations(ctx context.Context, cfg Config, stderr io.Writer, run func(operations) error) error {
	return withDatabase(ctx, cfg, stderr, func(ops operations) (*projections.DB, error) {
		// With the embedded log, a server on the data directory holds its
		// lock and has the SQLite file open: it is not moved from under it
		// (the server sets it aside when it starts). An external log takes
		// no lock; a SQLite file is one instance's, which has already set
		// aside a file damaged before it started.
		mayMove := ops.el.lock != nil || cfg.NATSURL != ""
		return openReadModelDB(ctx, cfg.databaseURL(), ops.log, mayMove, time.Now)
	}, run)
}

// withDatabase opens the event log, then the read-model database with
// open, runs run, and closes them.
func withDatabase(ctx context.Context, cfg Config, stderr io.Writer, open func(operations) (*projections.DB, error), run func(operations) error) error {
	return withStore(ctx, cfg, stderr, func(ops operations) error {
		var err error
		if ops.db, err = open(ops); err != nil {
			return err
		}
		defer ops.db.Close()
		return run(ops)
	})
}

// openDatabase opens the read-model database at url, migrated.
func openDatabase(ctx context.Context, url string, log *slog.Logger) (*projections.DB, error) {
	db, err := projections.Open(ctx, url)
	if err != nil {
		return nil, databaseError(url, err)
	}
	db.LogTo(log)
	if err := db.Migrate(ctx, log); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}
