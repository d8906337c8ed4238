// A pass over the log rebuilding several projections: begin, fill, swap, report.

package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
)

// catchUpRounds is how many rounds of catching up with the log a rebuild
// makes before it swaps even when the log keeps growing as fast.
const catchUpRounds = 5

// swapAttempts bounds how often Rebuild tries to swap before giving up:
// each attempt waits at most swapLockTimeout for readers.
const (
	swapAttempts    = 20
	swapLockTimeout = "500ms" // below PostgreSQL's deadlock_timeout (1s): the swap gives way, never a reader
)

// begin starts a new generation of each projection of ps (but those that
// opts.OnlyIfStale skips), recording each in results.
func (r *rebuildAll) begin(ctx context.Context, db *DB, ps []Projection, results []RebuildResult) error {
	for i, p := range ps {
		res := &results[i]
		log := r.opts.Logger.With("projection", p.Name())
		if r.opts.OnlyIfStale {
			st, err := db.State(ctx, p.Name())
			if err == nil && st.Version == p.Version() {
				res.Generation, res.Checkpoint, res.Skipped = st.Generation, st.Checkpoint, true
				continue
			} else if err != nil && !isNoRows(err) {
				return fmt.Errorf("rebuild %s: %w", p.Name(), err)
			}
		}
		skips, err := LoadSkips(ctx, r.store, p)
		if err != nil {
			return err
		}
		rb, err := startRebuild(ctx, db, p, r.opts.Now().UTC().Truncate(time.Microsecond), log)
		if err != nil {
			return err
		}
		rb.store, rb.opts, rb.log, rb.res, rb.skips = r.store, r.opts, log, res, skips
		res.Generation = rb.gen
		r.rbs = append(r.rbs, rb)
		log.Info("rebuilding projection", "generation", rb.gen, "version", p.Version())
	}
	if len(r.rbs) == 1 {
		r.gen = r.rbs[0].gen
	}
	return nil
}

// losses returns the losses of the log accepted so far, and says that the
// rebuild goes past them.
func (r *rebuildAll) losses(ctx context.Context) ([]domain.LossAccepted, error) {
	l, _, err := r.store.Losses(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild %s: %w", r.name, err)
	}
	all := l.All()
	for _, a := range all {
		r.opts.Logger.Warn("the log lost events whose loss was accepted: the rebuilt read models go without them",
			"projections", r.name, "seq", a.Range(), "reason", a.Reason, "by", a.By, "accepted_at", a.AcceptedAt)
	}
	return all, nil
}

// openConns gives each rebuild its connection: on PostgreSQL one of its
// own, so that their batches apply beside each other (see applyLog);
// SQLite has one writer, which they share. discard gives them back.
func (r *rebuildAll) openConns(ctx context.Context, db *DB) (discard func(), err error) {
	var discards []func()
	discard = func() {
		for _, d := range discards {
			d()
		}
	}
	r.concurrent = db.Dialect == Postgres && len(r.rbs) > 1
	for i, rb := range r.rbs {
		if i > 0 && !r.concurrent {
			rb.conn = r.rbs[0].conn
			continue
		}
		conn, d, err := bulkConn(ctx, db)
		if err != nil {
			return discard, err
		}
		discards = append(discards, d)
		rb.conn = conn
	}
	return discard, nil
}

// fill fills the new generations, then catches up with the log until what
// is left fits in one batch, or until the rounds stop shrinking (the log
// grows as fast as the rebuild applies it): the swaps apply the rest.
func (r *rebuildAll) fill(ctx context.Context) error {
	for round, prev := 1, uint64(0); ; round++ {
		n, err := r.applyLog(ctx, r.rbs)
		if err != nil {
			return err
		}
		if round == 1 {
			// Derived and indexed side by side where the rebuilds
			// write side by side.
			if err := r.each(r.rbs, func(rb *rebuild) error { return rb.createIndexes(ctx) }); err != nil {
				return err
			}
		}
		if n < uint64(r.opts.BatchSize) || (round > catchUpRounds && n >= prev) {
			return nil
		}
		prev = n
	}
}

// rebuildAll is a pass over the log rebuilding several projections.
type rebuildAll struct {
	store *eventstore.Store
	opts  RebuildOptions
	start time.Time
	name  string // for progress: the projections' names joined with "+"
	gen   int    // for progress: the generation, when there is one rebuild
	rbs   []*rebuild
	// concurrent is true when the rebuilds apply a batch at the same time,
	// each on a connection of its own.
	concurrent bool

	// checkpoint is the last log sequence the batches of every rebuild
	// went through; events counts the events of the log applied, each
	// once: those up to checkpoint, and those past it that one rebuild
	// applied alone (tail), catching up before its swap or in it.
	checkpoint uint64
	events     uint64
	tail       map[uint64]struct{}
}

// count counts the events of recs past the pass's checkpoint not counted
// yet: those applied by one rebuild only, before or in its swap.
func (r *rebuildAll) count(recs []domain.Record) {
	for _, rec := range recs {
		if rec.Seq > r.checkpoint {
			if _, ok := r.tail[rec.Seq]; !ok {
				r.tail[rec.Seq] = struct{}{}
				r.events++
			}
		}
	}
}

// swap swaps rb's new generation in, giving way to readers that hold the
// views a few times, and catching up with the log in between.
func (r *rebuildAll) swap(ctx context.Context, rb *rebuild) error {
	for attempt := 1; ; attempt++ {
		applied, err := rb.swap(ctx)
		if err == nil {
			for _, seq := range applied {
				r.count([]domain.Record{{Seq: seq}})
			}
			break
		}
		if !errors.Is(err, errReadersBusy) || attempt == swapAttempts {
			return err
		}
		rb.log.Info("readers hold the views; retrying the swap", "attempt", attempt)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
		if _, err := r.applyLog(ctx, []*rebuild{rb}); err != nil {
			return err
		}
	}
	rb.swapped = true
	rb.res.Events, rb.res.Checkpoint, rb.res.Duration = rb.applied, rb.checkpoint, r.opts.Now().Sub(r.start)
	rb.log.Info("rebuilt projection", "generation", rb.gen, "events", rb.res.Events, "checkpoint", rb.res.Checkpoint,
		"took", rb.res.Duration.Round(time.Millisecond))
	return nil
}

// report reports the pass's progress, total being the events applied and
// at most those that remain.
func (r *rebuildAll) report(total uint64) {
	if r.opts.Progress == nil {
		return
	}
	cp := r.checkpoint
	for _, rb := range r.rbs {
		if rb.swapped {
			cp = max(cp, rb.checkpoint)
		}
	}
	r.opts.Progress(RebuildProgress{
		Projection: r.name, Generation: r.gen, Applied: r.events, Total: max(total, r.events),
		Checkpoint: cp, Elapsed: r.opts.Now().Sub(r.start),
	})
}
