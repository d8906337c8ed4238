// One batch applied to a projection's live generation, with its checkpoint.

package projections

import (
	"context"
	"fmt"
	"time"

	"inkwell/domain"
)

// ApplyBatch applies the events of batch past p's checkpoint to its current
// generation, in one transaction that also stores the new checkpoint, and
// returns the checkpoint after the batch.
func ApplyBatch(ctx context.Context, db *DB, p Projection, batch []domain.Record, now time.Time) (uint64, error) {
	return applyBatch(ctx, db, p, batch, now, nil)
}

// applyBatch is ApplyBatch leaving out the events whose sequences skips
// holds (the checkpoint goes past them all the same).
func applyBatch(ctx context.Context, db *DB, p Projection, batch []domain.Record, now time.Time, skips map[uint64]bool) (uint64, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("apply %s: %w", p.Name(), dbError(err))
	}
	defer tx.Rollback()
	// A batch may take longer than a query of the API; but a transaction
	// its process left open (paused, partitioned) must not hold the rows
	// and the checkpoint it locked for longer than a lease (see lease.go).
	if err := liftStatementTimeout(ctx, tx, db.Dialect, "60s"); err != nil {
		return 0, fmt.Errorf("apply %s: %w", p.Name(), dbError(err))
	}
	if err := boundIdleTransaction(ctx, tx, db.Dialect, leaseDeadline); err != nil {
		return 0, fmt.Errorf("apply %s: %w", p.Name(), dbError(err))
	}
	st, err := readState(ctx, tx, p.Name(), db.forUpdate())
	if err != nil {
		return 0, fmt.Errorf("apply %s: read checkpoint: %w", p.Name(), dbError(err))
	}
	if st.Version != p.Version() {
		return 0, &ErrNeedsRebuild{Name: p.Name(), Stored: st.Version, Expected: p.Version()}
	}
	var last uint64
	fresh := batch[:0:0]
	for _, rec := range batch {
		if rec.Seq > st.Checkpoint {
			last = rec.Seq
			if !skips[rec.Seq] {
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
