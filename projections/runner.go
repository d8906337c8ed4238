package projections

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
)

// Runner keeps one projection up to date: it follows the log from the
// projection's checkpoint, in order, and applies whatever events are waiting
// in one transaction that also advances the checkpoint.
type Runner struct {
	db    *DB
	store *eventstore.Store
	p     Projection
	log   *slog.Logger
	now   func() time.Time

	// BatchSize bounds how many waiting events one transaction applies.
	BatchSize int

	mu      sync.Mutex
	applied uint64        // checkpoint as last committed
	advance chan struct{} // closed and replaced whenever applied grows
	lastErr error
}

// NewRunner returns a runner of p.
func NewRunner(db *DB, store *eventstore.Store, p Projection, logger *slog.Logger) *Runner {
	if db == nil || store == nil || p == nil {
		panic("projections: NewRunner with a nil dependency")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{
		db: db, store: store, p: p,
		log:       logger.With("projection", p.Name()),
		now:       time.Now,
		BatchSize: 1000,
		advance:   make(chan struct{}),
	}
}

// Projection returns the projection the runner applies.
func (r *Runner) Projection() Projection { return r.p }

// Run applies events until ctx is done. Failures (a database outage, an event
// Apply rejects) are retried with backoff from the last checkpoint: the
// projection stalls rather than skip an event. Run returns ctx's error.
func (r *Runner) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := r.follow(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.setErr(err)
		r.log.Error("projection stalled; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

// rebuild rebuilds the projection (unless another process did first),
// retrying failures with backoff like Run, and returns ctx's error if ctx
// ends first. Until it returns the runner applies nothing, and a failure
// shows in Checkpoint.
func (r *Runner) rebuild(ctx context.Context) error {
	backoff := time.Second
	for {
		res, err := Rebuild(ctx, r.db, r.store, r.p, RebuildOptions{OnlyIfStale: true, Logger: r.log, Now: r.now})
		if err == nil {
			r.setApplied(res.Checkpoint)
			r.setErr(nil)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r.setErr(err)
		r.log.Error("projection rebuild failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
}

func (r *Runner) follow(ctx context.Context) error {
	st, err := r.db.State(ctx, r.p.Name())
	if err != nil {
		return err
	}
	r.setApplied(st.Checkpoint)
	cur, err := r.store.Follow(ctx, st.Checkpoint+1, r.store.SubjectsOf(r.p.AggregateTypes()...)...)
	if err != nil {
		return err
	}
	defer cur.Close()
	batch := make([]domain.Record, 0, r.BatchSize)
	for {
		rec, err := cur.Next(ctx)
		if err != nil {
			return err
		}
		batch = append(batch[:0], rec)
		for len(batch) < r.BatchSize {
			rec, ok, err := cur.TryNext()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			batch = append(batch, rec)
		}
		if err := r.applyBatch(ctx, batch); err != nil {
			return err
		}
		r.setErr(nil)
	}
}

// applyBatch applies the events of batch that are past the checkpoint.
func (r *Runner) applyBatch(ctx context.Context, batch []domain.Record) error {
	cp, err := ApplyBatch(ctx, r.db, r.p, batch, r.now())
	if err != nil {
		return err
	}
	r.setApplied(cp)
	return nil
}

// ApplyBatch applies the events of batch past p's checkpoint to its current
// generation, in one transaction that also stores the new checkpoint, and
// returns the checkpoint after the batch.
func ApplyBatch(ctx context.Context, db *DB, p Projection, batch []domain.Record, now time.Time) (uint64, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("apply %s: %w", p.Name(), err)
	}
	defer tx.Rollback()
	var st projectionState
	if err := tx.GetContext(ctx, &st, tx.Rebind("SELECT name, version, generation, checkpoint, updated_at FROM projection_state WHERE name = ?"+db.forUpdate()), p.Name()); err != nil {
		return 0, fmt.Errorf("apply %s: read checkpoint: %w", p.Name(), err)
	}
	if st.Version != p.Version() {
		return 0, &ErrNeedsRebuild{Name: p.Name(), Stored: st.Version, Expected: p.Version()}
	}
	fresh := batch[:0:0]
	for _, rec := range batch {
		if rec.Seq > st.Checkpoint {
			fresh = append(fresh, rec)
		}
	}
	if len(fresh) == 0 {
		return st.Checkpoint, nil
	}
	last := fresh[len(fresh)-1].Seq
	if err := p.Apply(ctx, &Tx{Tx: tx, Dialect: db.Dialect, generation: st.Generation}, fresh); err != nil {
		return 0, fmt.Errorf("apply %s at %d..%d: %w", p.Name(), fresh[0].Seq, last, err)
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE projection_state SET checkpoint = ?, updated_at = ? WHERE name = ?"),
		last, now.UTC(), p.Name()); err != nil {
		return 0, fmt.Errorf("apply %s: store checkpoint: %w", p.Name(), err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("apply %s: commit: %w", p.Name(), err)
	}
	return last, nil
}

func (r *Runner) setApplied(cp uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cp > r.applied {
		r.applied = cp
		close(r.advance)
		r.advance = make(chan struct{})
	}
}

func (r *Runner) setErr(err error) {
	r.mu.Lock()
	r.lastErr = err
	r.mu.Unlock()
}

// Checkpoint returns the last log sequence applied, and the error of the last
// failed attempt if the projection is stalled.
func (r *Runner) Checkpoint() (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applied, r.lastErr
}

// WaitFor waits until the projection has applied the log up to seq (an event
// of one of its aggregate types), or ctx is done.
func (r *Runner) WaitFor(ctx context.Context, seq uint64) error {
	for {
		r.mu.Lock()
		applied, ch := r.applied, r.advance
		r.mu.Unlock()
		if applied >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to reach %d (at %d): %w", r.p.Name(), seq, applied, ctx.Err())
		}
	}
}
