// The runner's batch loop: following the log from the checkpoint, a batch at a time.

package projections

import (
	"context"
	"errors"
	"time"

	"inkwell/domain"
)

// idleCheck is every how many seconds without an event a runner asks the
// server whether its cursor still delivers.
const idleCheck = 5

// follow applies the log from the stored checkpoint until ctx is done or a
// batch fails; ok is called once the database and the log answer again.
func (r *Runner) follow(ctx context.Context, ok func()) error {
	st, err := r.db.State(ctx, r.p.Name())
	if err != nil {
		return err
	}
	skips, err := LoadSkips(ctx, r.store, r.p)
	if err != nil {
		return err
	}
	r.setApplied(st.Checkpoint)
	cur, err := r.store.Tail(ctx, st.Checkpoint+1, r.store.SubjectsOf(r.p.AggregateTypes()...)...)
	if err != nil {
		return err
	}
	r.cur.Store(cur)
	r.started.Store(true)
	defer func() {
		r.lag.Store(cur.Pending())
		r.cur.Store(nil)
		cur.Close()
	}()
	batch := make([]domain.Record, 0, r.BatchSize)
	committed := st.Checkpoint // as this loop last stored it
	idle := 0                  // seconds without an event
	for {
		// Waiting for an event, look every second whether the cursor has
		// gone through the log: a projection caught up after a failure
		// works again even if no event of its own comes.
		nctx, cancel := context.WithTimeout(ctx, time.Second)
		rec, err := cur.Next(nctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			if cur.Pending() == 0 {
				r.setErr(nil)
				ok()
			}
			// A cursor whose consumer was lost with its server (a node of a
			// cluster) may wait for ever: ask the server about it now and
			// then, and follow again if it has events it does not deliver.
			if idle++; idle%idleCheck == 0 {
				if err := cur.Check(ctx); err != nil {
					return err
				}
			}
			continue
		}
		idle = 0
		if err != nil {
			return err
		}
		batch = append(batch[:0], rec)
		// The rest of the batch is taken once its transaction has begun
		// (see applyBatch): what came while it waited for its turn.
		var drainErr error
		drain := func(batch []domain.Record) []domain.Record {
			for drainErr == nil && len(batch) < r.BatchSize {
				rec, ok, err := cur.TryNext()
				if err != nil {
					drainErr = err
				} else if !ok {
					break
				} else {
					batch = append(batch, rec)
				}
			}
			return batch
		}
		var cp uint64
		if cp, batch, err = r.applyBatch(ctx, batch, batchOptions{skips: skips, more: drain, committed: committed}); err != nil {
			var behind *ErrCheckpointBehind
			if ctx.Err() == nil && !Unavailable(err) && !errors.As(err, &behind) {
				r.isolate(ctx, batch, skips)
			}
			return err
		}
		committed = cp
		if drainErr != nil {
			return drainErr // after the events before it
		}
		r.setErr(nil)
		ok()
	}
}

// applyBatch applies the events of batch that are past the checkpoint
// (see batchOptions), and returns the checkpoint after it and the batch it
// applied.
func (r *Runner) applyBatch(ctx context.Context, batch []domain.Record, o batchOptions) (uint64, []domain.Record, error) {
	start := time.Now()
	cp, batch, err := applyBatch(ctx, r.db, r.p, batch, r.now(), o)
	if err != nil {
		return 0, batch, err
	}
	r.Observer.ObserveBatch(r.p.Name(), len(batch), time.Since(start))
	// Cleared first, so that a caller woken by the new checkpoint finds
	// the stuck event gone, here and in projection_state.
	r.unstick(ctx, cp)
	r.setApplied(cp)
	return cp, batch, nil
}
