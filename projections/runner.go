package projections

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
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

	// Observer records batches, checkpoints and leadership (metrics).
	Observer Observer

	leading atomic.Bool   // this process applies the projection
	lag     atomic.Uint64 // events pending, while leading

	mu      sync.Mutex
	applied uint64        // checkpoint as last committed
	advance chan struct{} // closed and replaced whenever applied grows
	lastErr error
}

// Observer records what projections do (metrics).
type Observer interface {
	ObserveBatch(projection string, events int, d time.Duration)
	SetProjectionState(projection string, checkpoint, lag uint64)
	SetLeader(projection string, leading bool)
}

type noObserver struct{}

func (noObserver) ObserveBatch(string, int, time.Duration)   {}
func (noObserver) SetProjectionState(string, uint64, uint64) {}
func (noObserver) SetLeader(string, bool)                    {}

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
		Observer:  noObserver{},
		advance:   make(chan struct{}),
	}
}

// Projection returns the projection the runner applies.
func (r *Runner) Projection() Projection { return r.p }

// Run applies events until ctx is done, while this process holds the
// projection's lease (see acquireLease); otherwise it waits to take over.
// Failures (a database outage, an event Apply rejects) are retried with
// backoff from the last checkpoint: the projection stalls rather than skip
// an event. Run returns ctx's error.
func (r *Runner) Run(ctx context.Context) error {
	for {
		l, err := r.db.acquireLease(ctx, r.p.Name())
		if err != nil {
			return ctx.Err()
		}
		r.setLeading(true)
		leadCtx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.lost:
				r.log.Warn("lost the lease of the projection; another process may take it over")
				cancel()
			case <-leadCtx.Done():
			}
		}()
		r.lead(leadCtx)
		cancel()
		r.setLeading(false)
		l.release()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// lead applies the projection until ctx is done.
func (r *Runner) lead(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		err := r.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		r.setErr(err)
		r.log.Error("projection stalled; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
}

func (r *Runner) setLeading(v bool) {
	r.leading.Store(v)
	r.Observer.SetLeader(r.p.Name(), v)
	if v {
		r.log.Info("applying the projection")
	}
}

// Leading reports whether this process applies the projection.
func (r *Runner) Leading() bool { return r.leading.Load() }

// Lag returns how many events the projection has yet to apply, as this
// process sees it while it applies the projection.
func (r *Runner) Lag() uint64 { return r.lag.Load() }

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
	// The consumer's first pending count comes with its first message;
	// until then, all of the log past the checkpoint may be pending.
	if head, err := r.store.Head(ctx); err == nil && head > st.Checkpoint {
		r.lag.Store(head - st.Checkpoint)
	} else {
		r.lag.Store(0)
	}
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
		r.lag.Store(cur.Pending())
		r.setErr(nil)
	}
}

// applyBatch applies the events of batch that are past the checkpoint.
func (r *Runner) applyBatch(ctx context.Context, batch []domain.Record) error {
	start := time.Now()
	cp, err := ApplyBatch(ctx, r.db, r.p, batch, r.now())
	if err != nil {
		return err
	}
	r.Observer.ObserveBatch(r.p.Name(), len(batch), time.Since(start))
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
// of one of its aggregate types), or ctx is done. While another process
// applies the projection, it watches the stored checkpoint.
func (r *Runner) WaitFor(ctx context.Context, seq uint64) error {
	for {
		r.mu.Lock()
		applied, ch := r.applied, r.advance
		r.mu.Unlock()
		if applied >= seq {
			return nil
		}
		var poll <-chan time.Time
		if !r.leading.Load() {
			// Only tables of this version count: while they are being
			// rebuilt, the old ones' checkpoint says nothing.
			if st, err := r.db.State(ctx, r.p.Name()); err == nil && st.Version == r.p.Version() && st.Checkpoint >= seq {
				r.setApplied(st.Checkpoint)
				return nil
			}
			poll = time.After(20 * time.Millisecond)
		}
		select {
		case <-ch:
		case <-poll:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to reach %d (at %d): %w", r.p.Name(), seq, applied, ctx.Err())
		}
	}
}
