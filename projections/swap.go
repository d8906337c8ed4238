// Swapping a rebuilt generation in, in one transaction that catches up with the log.

package projections

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

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
