// A rebuild pass's reading of the log, in batches applied to each of its rebuilds.

package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"inkwell/domain"
	"inkwell/eventstore"
)

// subjects returns the log subjects of the aggregates the rebuilds read.
func (r *rebuildAll) subjects(rbs []*rebuild) []string {
	var types []string
	for _, rb := range rbs {
		for _, t := range rb.p.AggregateTypes() {
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	return r.store.SubjectsOf(types...)
}

// applyLog applies the events the log holds past the checkpoints of rbs
// (every rebuild of the pass, or one catching up before its swap), one
// transaction per rebuild and batch, and returns how many events of the log
// it applied.
func (r *rebuildAll) applyLog(ctx context.Context, rbs []*rebuild) (uint64, error) {
	from := rbs[0].checkpoint
	for _, rb := range rbs {
		from = min(from, rb.checkpoint)
	}
	cur, err := r.store.Read(ctx, from+1, r.subjects(rbs)...)
	if err != nil {
		return 0, fmt.Errorf("rebuild %s: %w", r.name, err)
	}
	defer cur.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var n uint64
	for b := range readBatches(rctx, cur, r.opts.BatchSize) {
		if b.err != nil {
			return n, fmt.Errorf("rebuild %s: read the log: %w", r.name, b.err)
		}
		if err := r.applyBatch(ctx, rbs, b.recs); err != nil {
			return n, err
		}
		n += uint64(len(b.recs))
		if len(rbs) == len(r.rbs) {
			r.events += uint64(len(b.recs))
			r.checkpoint = b.recs[len(b.recs)-1].Seq
		} else {
			r.count(b.recs)
		}
		r.report(r.events + cur.Remaining())
	}
	if err := ctx.Err(); err != nil {
		return n, err
	}
	return n, nil
}

// applyBatch applies one batch of the log to every rebuild of rbs, all at
// once when the pass is concurrent, and returns the first error.
func (r *rebuildAll) applyBatch(ctx context.Context, rbs []*rebuild, recs []domain.Record) error {
	return r.each(rbs, func(rb *rebuild) error { return rb.applyBatch(ctx, recs) })
}

// each runs f for every rebuild of rbs: all at once when the pass is
// concurrent (on PostgreSQL, where each has a connection of its own and
// the database works on both cores), one after the other on SQLite's one
// writer. It returns the errors joined.
func (r *rebuildAll) each(rbs []*rebuild, f func(*rebuild) error) error {
	if !r.concurrent || len(rbs) == 1 {
		for _, rb := range rbs {
			if err := f(rb); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(rbs))
	var wg sync.WaitGroup
	for i, rb := range rbs {
		wg.Go(func() { errs[i] = f(rb) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// batchOrErr is one batch read from the log, or the error that ended it.
type batchOrErr struct {
	recs []domain.Record
	err  error
}

// readBatches reads cur to its end in batches of up to size events, on a
// goroutine of its own so that decoding the next batch overlaps applying
// this one. The channel closes after the last batch or an error.
func readBatches(ctx context.Context, cur *eventstore.Cursor, size int) <-chan batchOrErr {
	out := make(chan batchOrErr, 1)
	go func() {
		defer close(out)
		for {
			batch := make([]domain.Record, 0, min(uint64(size), cur.Remaining()))
			var err error
			for len(batch) < size {
				var rec domain.Record
				if rec, err = cur.Next(ctx); err != nil {
					break
				}
				batch = append(batch, rec)
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if len(batch) > 0 || err != nil {
				select {
				case out <- batchOrErr{recs: batch, err: err}:
				case <-ctx.Done():
					return
				}
			}
			if err != nil || len(batch) < size {
				return
			}
		}
	}()
	return out
}
