// One batch applied to a projection's live generation, with its checkpoint.

package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"inkwell/domain"
)

// ApplyBatch applies the events of batch past p's checkpoint to its current
// generation, in one transaction that also stores the new checkpoint, and
// returns the checkpoint after the batch.
func ApplyBatch(ctx context.Context, db *DB, p Projection, batch []domain.Record, now time.Time) (uint64, error) {
	cp, _, err := applyBatch(ctx, db, p, batch, now, batchOptions{})
	return cp, err
}

// batchOptions are a runner's for applyBatch.
type batchOptions struct {
	// skips holds the sequences of events to leave out (the checkpoint
	// goes past them all the same).
	skips map[uint64]bool
	// more, if set, is given the batch once the transaction has begun,
	// and returns it with the events that came since: on SQLite the
	// runners take turns at writing, and a batch filled when its turn has
	// come holds every event that waited for it, in one commit rather
	// than in the next turn's.
	more func([]domain.Record) []domain.Record
	// committed is the checkpoint the runner last committed: a stored one
	// behind it is an *ErrCheckpointBehind.
	committed uint64
}

// ErrCheckpointBehind says that a projection's stored checkpoint is behind
// the one its runner committed: the database lost commits (a batch's commit
// does not wait for PostgreSQL's flush to disk, and a crash of the database
// server loses the last ones, their checkpoint with them), or was restored
// from a copy. The runner follows the log again from the stored checkpoint.
type ErrCheckpointBehind struct {
	Name              string
	Stored, Committed uint64
}

func (e *ErrCheckpointBehind) Error() string {
	return fmt.Sprintf("projection %s: the stored checkpoint %d is behind %d, which was committed: the database lost its last commits; applying the log again from %d",
		e.Name, e.Stored, e.Committed, e.Stored)
}

// applyBatch is ApplyBatch with a runner's options; it returns the batch
// it applied (see batchOptions.more).
func applyBatch(ctx context.Context, db *DB, p Projection, batch []domain.Record, now time.Time, o batchOptions) (uint64, []domain.Record, error) {
	tx, err := db.beginBatch(ctx)
	if err != nil {
		return 0, batch, fmt.Errorf("apply %s: %w", p.Name(), dbError(err))
	}
	defer tx.Rollback()
	if o.more != nil {
		batch = o.more(batch)
	}
	cp, err := applyInTx(ctx, db, tx, p, batch, now, o)
	return cp, batch, err
}

// beginBatch begins a runner's batch: on PostgreSQL in a session of the
// batches' pool, which bounds it (see batchesURL). A batch may take longer
// than a query of the API; but a transaction its process left open
// (paused, partitioned) must not hold the rows and the checkpoint it
// locked for longer than a lease (see lease.go).
func (db *DB) beginBatch(ctx context.Context) (*sqlx.Tx, error) {
	if db.batches != nil {
		return db.batches.BeginTxx(ctx, nil)
	}
	return db.BeginTxx(ctx, nil)
}

// applyInTx applies batch in tx, stores the checkpoint and commits.
func applyInTx(ctx context.Context, db *DB, tx *sqlx.Tx, p Projection, batch []domain.Record, now time.Time, o batchOptions) (uint64, error) {
	st, err := readState(ctx, tx, p.Name(), db.forUpdate())
	if err != nil {
		return 0, fmt.Errorf("apply %s: read checkpoint: %w", p.Name(), dbError(err))
	}
	if st.Version != p.Version() {
		return 0, &ErrNeedsRebuild{Name: p.Name(), Stored: st.Version, Expected: p.Version()}
	}
	if st.Checkpoint < o.committed {
		return 0, &ErrCheckpointBehind{Name: p.Name(), Stored: st.Checkpoint, Committed: o.committed}
	}
	var last uint64
	fresh := batch[:0:0]
	for _, rec := range batch {
		if rec.Seq > st.Checkpoint {
			last = rec.Seq
			if !o.skips[rec.Seq] {
				fresh = append(fresh, rec)
			}
		}
	}
	if last == 0 {
		return st.Checkpoint, nil
	}
	ptx := &Tx{Tx: tx, Dialect: db.Dialect, generation: st.Generation}
	if len(fresh) > 0 {
		if err := p.Apply(ctx, ptx, fresh); err != nil {
			return 0, fmt.Errorf("apply %s at %d..%d: %w", p.Name(), fresh[0].Seq, fresh[len(fresh)-1].Seq, dbError(err))
		}
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE projection_state SET checkpoint = ?, updated_at = ? WHERE name = ?"),
		last, now.UTC(), p.Name()); err != nil {
		return 0, fmt.Errorf("apply %s: store checkpoint: %w", p.Name(), dbError(err))
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("apply %s: commit: %w", p.Name(), dbError(err))
	}
	if ptx.scrub {
		if err := db.Scrub(ctx); err != nil {
			return 0, fmt.Errorf("apply %s: %w", p.Name(), err)
		}
	}
	return last, nil
}
