package projections

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"inkwell/domain"
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
	// Tx.MayHave); nil once it outgrew maxSeen.
	seen map[domain.StreamID]struct{}
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

// lockRebuild makes rebuilds of one projection take turns across processes
// on PostgreSQL, with a session advisory lock on a connection of its own
// (released if the process dies). SQLite has no such lock; ownership checks
// in every transaction of a rebuild keep two of them from mixing.
func lockRebuild(ctx context.Context, db *DB, name string, log *slog.Logger) (release func(), err error) {
	if db.Dialect != Postgres {
		return func() {}, nil
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild %s: %w", name, err)
	}
	const key = rebuildLockKey
	discard := func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // closes it
		conn.Close()
	}
	// Waiting for another rebuild may take long: no statement timeout on
	// this connection, which is discarded afterwards.
	if _, err := conn.ExecContext(ctx, "SET statement_timeout = 0"); err != nil {
		discard()
		return nil, fmt.Errorf("rebuild %s: %w", name, err)
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, hashtext(current_schema() || '/' || $2))", key, name).Scan(&ok); err != nil {
		discard()
		return nil, fmt.Errorf("rebuild %s: lock: %w", name, err)
	}
	if !ok {
		log.Info("another process is rebuilding this projection; waiting for it")
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1, hashtext(current_schema() || '/' || $2))", key, name); err != nil {
			discard()
			return nil, fmt.Errorf("rebuild %s: wait for the other rebuild: %w", name, err)
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1, hashtext(current_schema() || '/' || $2))", key, name)
		discard()
	}, nil
}

// bulkConn returns a connection of the rebuild's own for its batches,
// tuned for bulk writes that need not be durable one by one (a rebuild cut
// short starts over), and a function that discards it, so that its settings
// never return to the pool. The swap runs on an ordinary connection.
func bulkConn(ctx context.Context, db *DB) (*sqlx.Conn, func(), error) {
	conn, err := db.Connx(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("rebuild: %w", err)
	}
	discard := func() {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // closes it
		conn.Close()
	}
	var settings []string
	switch db.Dialect {
	case SQLite:
		// In WAL mode with synchronous=NORMAL a commit does not sync; a
		// checkpoint (copying the log's pages into the database, by default
		// once it holds 1,000) syncs twice. Every batch of a rebuild writes
		// far more than that: checkpointing every 64 MiB instead copies a
		// page that several batches rewrote once, and syncs far less often.
		// A page cache of 128 MiB (rather than 2) keeps the pages a rebuild
		// revisits in memory.
		settings = []string{"PRAGMA wal_autocheckpoint = 16384", "PRAGMA cache_size = -131072"}
	case Postgres:
		// Do not wait for the WAL flush of each batch: a crash can only
		// lose batches of a rebuild that will start over. Build the new
		// generation's indexes in memory (the default, 64 MB, spills a
		// large read model's sorts to disk).
		// No statement timeout: a rebuild's COPY and index builds run as
		// long as the read model is large.
		settings = []string{"SET synchronous_commit = off", "SET maintenance_work_mem = '256MB'", "SET statement_timeout = 0"}
	}
	for _, s := range settings {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			discard()
			return nil, nil, fmt.Errorf("rebuild: %s: %w", s, err)
		}
	}
	return conn, discard, nil
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
	return &rebuild{db: db, p: p, types: p.AggregateTypes(), gen: gen, startedAt: now, indexes: indexes, seen: map[domain.StreamID]struct{}{}}, nil
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

// createIndexes creates the new generation's secondary indexes. A unique
// index the rows break fails here, as the event breaking it would have
// failed in the live runner.
func (rb *rebuild) createIndexes(ctx context.Context) error {
	tx, err := rb.beginOwned(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if rb.db.Dialect == Postgres {
		for _, t := range rb.p.Tables() {
			if _, err := tx.ExecContext(ctx, "ALTER TABLE "+physicalTable(t, rb.gen)+" SET LOGGED"); err != nil {
				return fmt.Errorf("rebuild %s: %w", rb.p.Name(), err)
			}
		}
	}
	if err := execDDL(ctx, tx, rb.p, rb.gen, rb.indexes); err != nil {
		return fmt.Errorf("rebuild %s: %w", rb.p.Name(), err)
	}
	// The counts the bulk of the rows went in without, counted once; the
	// batches after this keep them.
	if c, ok := rb.p.(Counter); ok {
		if err := c.CountAll(ctx, &Tx{Tx: tx, Dialect: rb.db.Dialect, generation: rb.gen}); err != nil {
			return fmt.Errorf("rebuild %s: count: %w", rb.p.Name(), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rebuild %s: commit: %w", rb.p.Name(), err)
	}
	rb.indexes = nil
	return nil
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

// applyBatch applies the events of one batch of the log that rb's
// projection reads, in a transaction that also stores the rebuild's
// checkpoint.
func (rb *rebuild) applyBatch(ctx context.Context, recs []domain.Record) error {
	cp, fresh := rb.pick(recs)
	if len(fresh) == 0 {
		// Nothing to write: the checkpoint stored in projection_rebuilds
		// only tells an operator how far the rebuild got.
		rb.advance(cp, 0)
		return nil
	}
	tx, err := rb.beginOwned(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := rb.apply(ctx, tx, fresh, true); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE projection_rebuilds SET checkpoint = ?, updated_at = ? WHERE name = ?"),
		cp, rb.opts.Now().UTC(), rb.p.Name()); err != nil {
		return fmt.Errorf("rebuild %s: store checkpoint: %w", rb.p.Name(), err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rebuild %s: commit: %w", rb.p.Name(), err)
	}
	rb.advance(cp, uint64(len(fresh)))
	return nil
}

// pick returns the events of recs (a stretch of the log, in order) past
// the rebuild's checkpoint that its projection reads, and the checkpoint
// after recs.
func (rb *rebuild) pick(recs []domain.Record) (uint64, []domain.Record) {
	i := 0
	for i < len(recs) && recs[i].Seq <= rb.checkpoint {
		i++
	}
	recs = recs[i:]
	if len(recs) == 0 {
		return rb.checkpoint, nil
	}
	cp := recs[len(recs)-1].Seq
	for j, r := range recs {
		if !rb.reads(r) {
			// Copy out the events it reads (a rebuild of several
			// projections reads the aggregates of them all).
			fresh := slices.Clip(recs[:j])
			for _, r := range recs[j+1:] {
				if rb.reads(r) {
					fresh = append(fresh, r)
				}
			}
			return cp, fresh
		}
	}
	return cp, recs
}

// reads reports whether the rebuild applies r: an event of an aggregate its
// projection reads, and not one it skips.
func (rb *rebuild) reads(r domain.Record) bool {
	return slices.Contains(rb.types, r.Stream.Type) && !rb.skips[r.Seq]
}

// apply applies fresh, events past the rebuild's checkpoint, inside tx,
// which is open on the rebuild's own connection if bulk.
func (rb *rebuild) apply(ctx context.Context, tx *sqlx.Tx, fresh []domain.Record, bulk bool) error {
	first, last := fresh[0].Seq, fresh[len(fresh)-1].Seq
	t := &Tx{Tx: tx, Dialect: rb.db.Dialect, generation: rb.gen, applied: rb.seen, countsLater: rb.indexes != nil}
	if bulk && rb.db.Dialect == Postgres {
		t.copyRows = rb.copyRows
	}
	if err := rb.p.Apply(ctx, t, fresh); err != nil {
		return fmt.Errorf("rebuild %s at %d..%d: %w", rb.p.Name(), first, last, err)
	}
	// Remembered before the commit: should the transaction fail, the
	// aggregates are only looked for in vain.
	if rb.seen != nil {
		for _, r := range fresh {
			rb.seen[r.Stream] = struct{}{}
		}
		if len(rb.seen) > maxSeen {
			rb.seen = nil // every row may exist: Apply looks for all
		}
	}
	return nil
}

// copyRows loads rows into table with COPY, inside the transaction open
// on the rebuild's connection: PostgreSQL parses and plans nothing per row.
func (rb *rebuild) copyRows(ctx context.Context, table string, cols []string, rows [][]any) error {
	err := rb.conn.Raw(func(dc any) error {
		_, err := dc.(*stdlib.Conn).Conn().CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return fmt.Errorf("copy into %s: %w", table, err)
	}
	return nil
}

// maxSeen bounds the aggregates a rebuild remembers (some 100 bytes each).
const maxSeen = 5000000

// advance records committed progress.
func (rb *rebuild) advance(cp, n uint64) {
	rb.checkpoint = max(rb.checkpoint, cp)
	rb.applied += n
}

// errReadersBusy is returned by swap when readers held the views for longer
// than swapLockTimeout.
var errReadersBusy = errors.New("readers hold the views")

// swap makes the new generation the live one, in one transaction, and
// returns the log sequences of the events it applied on the way.
func (rb *rebuild) swap(ctx context.Context) ([]uint64, error) {
	db, p := rb.db, rb.p
	tx, err := db.beginLocked(ctx)
	if err != nil {
		return nil, fmt.Errorf("swap %s: %w", p.Name(), err)
	}
	defer tx.Rollback()
	// The live runner writes nothing while this row is locked.
	live, err := readState(ctx, tx, p.Name(), db.forUpdate())
	if err != nil {
		return nil, fmt.Errorf("swap %s: read state: %w", p.Name(), err)
	}
	if err := rb.own(ctx, tx); err != nil {
		return nil, err
	}
	if live.Generation == rb.gen {
		return nil, fmt.Errorf("swap %s: generation %d is already live", p.Name(), rb.gen)
	}

	// Apply what was appended since the last batch: every event in the log
	// now, which includes every event the live generation has applied.
	cur, err := rb.store.Read(ctx, rb.checkpoint+1, rb.store.SubjectsOf(rb.types...)...)
	if err != nil {
		return nil, fmt.Errorf("swap %s: %w", p.Name(), err)
	}
	defer cur.Close()
	cp := rb.checkpoint
	var applied []uint64
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for b := range readBatches(rctx, cur, rb.opts.BatchSize) {
		if b.err != nil {
			return nil, fmt.Errorf("swap %s: read the log: %w", p.Name(), b.err)
		}
		last, fresh := rb.pick(b.recs)
		if len(fresh) > 0 {
			if err := rb.apply(ctx, tx, fresh, false); err != nil {
				return nil, err
			}
		}
		cp = max(cp, last)
		for _, r := range fresh {
			applied = append(applied, r.Seq)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Every event up to the live checkpoint is applied now; the live runner
	// goes on from whichever is further. A live checkpoint past the log's
	// end is one whose events the log lost (the rebuild runs once their
	// loss is accepted): the new generation goes on from the log's end.
	// A live runner's cursor stands past it: the server makes its runners
	// follow the log again (Set.Reopen) once no checkpoint is past the
	// log's end.
	cp = max(cp, min(live.Checkpoint, cur.End()))

	if db.Dialect == Postgres {
		// Readers hold ACCESS SHARE locks on the views while a query runs;
		// give way to them rather than wait (or deadlock) behind them.
		if _, err := tx.ExecContext(ctx, "SET LOCAL lock_timeout = '"+swapLockTimeout+"'"); err != nil {
			return nil, fmt.Errorf("swap %s: %w", p.Name(), err)
		}
	}
	if err := pointViews(ctx, tx, p, rb.gen); err != nil {
		return nil, busy(err)
	}
	if err := dropGeneration(ctx, tx, p, live.Generation); err != nil {
		return nil, busy(err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE projection_state SET version = ?, generation = ?, checkpoint = ?, updated_at = ? WHERE name = ?"),
		p.Version(), rb.gen, cp, rb.opts.Now().UTC(), p.Name()); err != nil {
		return nil, fmt.Errorf("swap %s: %w", p.Name(), err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("DELETE FROM projection_rebuilds WHERE name = ?"), p.Name()); err != nil {
		return nil, fmt.Errorf("swap %s: %w", p.Name(), err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("swap %s: commit: %w", p.Name(), busy(err))
	}
	rb.advance(cp, uint64(len(applied)))
	return applied, nil
}

// busy marks a PostgreSQL lock timeout as errReadersBusy.
func busy(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
		return fmt.Errorf("%w: %w", errReadersBusy, err)
	}
	return err
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
