// Filling a rebuild's new generation: batches, picked events, indexes, COPY.

package projections

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"inkwell/domain"
)

// createIndexes creates the new generation's secondary indexes. A unique
// index the rows break fails here, as the event breaking it would have
// failed in the live runner.
func (rb *rebuild) createIndexes(ctx context.Context) error {
	tx, err := rb.beginOwned(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// The counts (and whatever else Apply left to be derived from the
	// rows) the bulk of the rows went in without, first: written before
	// the secondary indexes, like the rows themselves. The batches after
	// this keep them.
	if c, ok := rb.p.(Counter); ok {
		if err := c.CountAll(ctx, &Tx{Tx: tx, Dialect: rb.db.Dialect, generation: rb.gen}); err != nil {
			return fmt.Errorf("rebuild %s: count: %w", rb.p.Name(), err)
		}
	}
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
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("rebuild %s: commit: %w", rb.p.Name(), err)
	}
	rb.indexes = nil
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
	for _, r := range fresh {
		rb.seen.add(r.Stream)
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

// advance records committed progress.
func (rb *rebuild) advance(cp, n uint64) {
	rb.checkpoint = max(rb.checkpoint, cp)
	rb.applied += n
}
