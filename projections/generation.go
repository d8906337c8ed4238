package projections

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"inkwell/eventstore"
)

// rebuild is the rebuild of one projection in progress.
type rebuild struct {
	db        *DB
	store     *eventstore.Store
	p         Projection
	types     []string // p.AggregateTypes()
	opts      RebuildOptions
	log       *slog.Logger
	res       *RebuildResult
	gen       int        // the generation being filled
	startedAt time.Time  // with gen, identifies this rebuild in projection_rebuilds
	indexes   []string   // DDL of the secondary indexes, until created
	conn      *sqlx.Conn // for the batches (see bulkConn)
	swapped   bool

	// seen holds the aggregates with events applied to gen (see
	// Tx.MayHave), in memory of a fixed size.
	seen *seenFilter
	// skips holds the log sequences of the events an operator chose to
	// skip (see LoadSkips).
	skips map[uint64]bool

	applied    uint64 // events applied to gen
	checkpoint uint64 // last log sequence gen has gone through
}

// rebuildRow is a row of projection_rebuilds.
type rebuildRow struct {
	Version    int       `db:"version"`
	Generation int       `db:"generation"`
	Checkpoint uint64    `db:"checkpoint"`
	StartedAt  time.Time `db:"started_at"`
}

// startRebuild drops what an interrupted rebuild of p left, creates the
// tables of the next generation and records it in projection_rebuilds. A
// projection never seen before first gets an empty generation 1 to serve
// reads meanwhile.
func startRebuild(ctx context.Context, db *DB, p Projection, now time.Time, log *slog.Logger) (*rebuild, error) {
	tx, err := db.beginLocked(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	defer tx.Rollback()
	st, err := readState(ctx, tx, p.Name(), db.forUpdate())
	if isNoRows(err) {
		if st, err = createLive(ctx, tx, db.Dialect, p, now); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	var stale rebuildRow
	err = tx.GetContext(ctx, &stale, tx.Rebind("SELECT version, generation, checkpoint, started_at FROM projection_rebuilds WHERE name = ?"), p.Name())
	switch {
	case err == nil:
		log.Warn("dropping the generation of an unfinished rebuild", "generation", stale.Generation, "started_at", stale.StartedAt)
		if stale.Generation != st.Generation {
			if err := dropGeneration(ctx, tx, p, stale.Generation); err != nil {
				return nil, err
			}
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM projection_rebuilds WHERE name = ?"), p.Name()); err != nil {
			return nil, fmt.Errorf("rebuild %s: %w", p.Name(), err)
		}
	case !isNoRows(err):
		return nil, fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	gen := st.Generation + 1
	if err := dropGeneration(ctx, tx, p, gen); err != nil {
		return nil, err
	}
	// Tables only: filling them is faster without the secondary indexes,
	// which createIndexes adds after the bulk of the rows.
	tables, indexes, err := generationDDL(db.Dialect, p, gen)
	if err != nil {
		return nil, err
	}
	if db.Dialect == Postgres {
		// Unlogged while they are filled: no WAL for every row version;
		// createIndexes makes them logged (one sequential copy) before the
		// indexes are built and long before the swap. A crash empties
		// unlogged tables, and a crashed rebuild starts over anyway.
		for i, stmt := range tables {
			if rest, ok := strings.CutPrefix(stmt, "CREATE TABLE "); ok {
				tables[i] = "CREATE UNLOGGED TABLE " + rest
			}
		}
	}
	if err := execDDL(ctx, tx, p, gen, tables); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO projection_rebuilds (name, version, generation, checkpoint, started_at, updated_at) VALUES (?, ?, ?, 0, ?, ?)"),
		p.Name(), p.Version(), gen, now, now); err != nil {
		return nil, fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("rebuild %s: commit: %w", p.Name(), err)
	}
	return &rebuild{db: db, p: p, types: p.AggregateTypes(), gen: gen, startedAt: now, indexes: indexes, seen: newSeenFilter()}, nil
}

// beginOwned begins a transaction on the rebuild's connection, checking
// that the rebuild still owns its generation.
func (rb *rebuild) beginOwned(ctx context.Context) (*sqlx.Tx, error) {
	tx, err := rb.conn.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("rebuild %s: %w", rb.p.Name(), err)
	}
	if err := rb.own(ctx, tx); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// own checks, inside tx, that projection_rebuilds still records this
// rebuild, and locks its row.
func (rb *rebuild) own(ctx context.Context, tx *sqlx.Tx) error {
	var row rebuildRow
	err := tx.GetContext(ctx, &row, tx.Rebind("SELECT version, generation, checkpoint, started_at FROM projection_rebuilds WHERE name = ?"+rb.db.forUpdate()), rb.p.Name())
	if isNoRows(err) || (err == nil && (row.Generation != rb.gen || !row.StartedAt.Equal(rb.startedAt))) {
		return fmt.Errorf("rebuild %s: %w", rb.p.Name(), ErrRebuildSuperseded)
	} else if err != nil {
		return fmt.Errorf("rebuild %s: %w", rb.p.Name(), err)
	}
	return nil
}

// abandon drops the rebuild's generation after a failure, if the rebuild
// still owns it. The live generation is untouched either way.
func (rb *rebuild) abandon(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err := func() error {
		tx, err := rb.db.beginLocked(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := rb.own(ctx, tx); err != nil {
			return nil // someone else's now
		}
		if err := dropGeneration(ctx, tx, rb.p, rb.gen); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM projection_rebuilds WHERE name = ?"), rb.p.Name()); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		rb.log.Warn("could not drop the unfinished generation; the next rebuild will", "generation", rb.gen, "err", err)
		return
	}
	rb.log.Info("rebuild abandoned; its generation is dropped, the live one is unchanged", "generation", rb.gen)
}
