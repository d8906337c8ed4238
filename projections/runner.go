package projections

import (
	"context"
	"errors"
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
//
// An event the projection cannot apply stops it there: applying the events
// after it would build rows on a state the log never had. The runner finds
// which event of a failing batch it is, reports it (a log line when it
// starts, the stuck-event metric, /readyz on every instance) and retries it;
// an operator either fixes the cause (a new projection version, rebuilt from
// the log) or records a skip of the event in the log (domain.EventSkipped),
// which the runner and every rebuild then honour. Failures of the database
// itself (down, slow, full) are retried without naming an event.
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

	leading atomic.Bool                       // this process applies the projection
	decided atomic.Bool                       // it knows whether it leads: it took the lease, or found it taken
	started atomic.Bool                       // it has opened the log at least once
	reopen  atomic.Bool                       // its cursor was closed to open a new one
	cur     atomic.Pointer[eventstore.Cursor] // the cursor following the log, while leading
	lag     atomic.Uint64                     // events pending, as last seen while leading

	mu      sync.Mutex
	applied uint64        // checkpoint as last committed
	advance chan struct{} // closed and replaced whenever applied grows
	lastErr error
	stuck   *StuckEvent
	// missed is the highest log sequence a wait of this process (a write
	// waiting to be readable) gave up on while the projection had not
	// applied it, since missedSince; 0 once the projection has.
	missed      uint64
	missedSince time.Time
}

// StuckEvent is an event of the log that a projection cannot apply.
type StuckEvent struct {
	Seq    uint64
	ID     string
	Type   string
	Stream domain.StreamID
	// Err is what applying it failed with.
	Err   string
	Since time.Time
	// desc, when set, is String's result as another process stored it.
	desc string
}

// String describes the event and the failure.
func (e *StuckEvent) String() string {
	switch {
	case e.desc != "":
		return e.desc
	case e.ID == "":
		return fmt.Sprintf("event %d: %s", e.Seq, e.Err)
	}
	return fmt.Sprintf("event %d (%s of %s, id %s): %s", e.Seq, e.Type, e.Stream, e.ID, e.Err)
}

// Observer records what projections do (metrics).
type Observer interface {
	ObserveBatch(projection string, events int, d time.Duration)
	SetProjectionState(projection string, checkpoint, lag uint64)
	SetLeader(projection string, leading bool)
	// SetStuck records the log sequence of the event the projection cannot
	// apply (0: none).
	SetStuck(projection string, seq uint64)
}

type noObserver struct{}

func (noObserver) ObserveBatch(string, int, time.Duration)   {}
func (noObserver) SetProjectionState(string, uint64, uint64) {}
func (noObserver) SetLeader(string, bool)                    {}
func (noObserver) SetStuck(string, uint64)                   {}

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
// an event nobody chose to skip. Run returns ctx's error.
//
// A process that cannot read the log cannot apply it: it takes the lease
// only once the log answers, and gives it up when the log has not answered
// for logLossBound, so that an instance that can read it takes over (a
// process cut off from NATS would otherwise stall every instance's read
// models while its database connection holds the lease).
func (r *Runner) Run(ctx context.Context) error {
	for {
		if err := r.waitForLog(ctx); err != nil {
			return ctx.Err()
		}
		l, err := r.db.acquireLease(ctx, r.p.Name(), func() { r.decided.Store(true) }, r.log)
		if err != nil {
			return ctx.Err()
		}
		r.setLeading(true)
		r.decided.Store(true)
		leadCtx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.lost:
				r.log.Warn("lost the lease of the projection; another process may take it over")
				cancel()
			case <-leadCtx.Done():
			}
		}()
		go r.watchLog(leadCtx, cancel)
		r.lead(leadCtx)
		cancel()
		r.setLeading(false)
		l.release()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// logLossBound is how long the process applying a projection goes without
// an answer from the event log before it gives up the projection's lease.
// With the lease passing on within leaseRetry, another instance applies
// the projection within about logLossBound + logPingEvery + leaseRetry of
// the moment this one lost the log.
const logLossBound = 5 * time.Second

// logPingEvery is how often the process applying a projection asks the log
// whether it answers.
const logPingEvery = time.Second

// pingLog reports whether the event log answers (within the store's
// request timeout).
func (r *Runner) pingLog(ctx context.Context) bool {
	_, err := r.store.Head(ctx)
	return err == nil
}

// waitForLog returns once the event log answers, or with ctx's error.
func (r *Runner) waitForLog(ctx context.Context) error {
	for said := false; ; said = true {
		if r.pingLog(ctx) {
			if said {
				r.log.Info("the event log answers again: taking part in applying the projection")
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !said {
			r.log.Warn("the event log does not answer: this process does not apply the projection until it does")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(leaseRetry):
		}
	}
}

// watchLog asks the log every logPingEvery whether it answers, while ctx
// lasts, and calls giveUp when it has not for logLossBound.
func (r *Runner) watchLog(ctx context.Context, giveUp func()) {
	t := time.NewTicker(logPingEvery)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if r.pingLog(ctx) {
			last = time.Now()
			continue
		}
		if ctx.Err() == nil && time.Since(last) >= logLossBound {
			r.log.Warn("the event log has not answered for a while: giving up the projection's lease, so that an instance that can read the log applies it",
				"for", time.Since(last).Round(time.Millisecond))
			giveUp()
			return
		}
	}
}

// maxBackoff bounds the wait between two attempts of a failing projection:
// a skip recorded by an operator, or a database back up, is seen within it.
const maxBackoff = 5 * time.Second

// lead applies the projection until ctx is done. A failure is logged when
// it starts and then once a minute while it lasts; recovery is logged too.
func (r *Runner) lead(ctx context.Context) {
	backoff := 100 * time.Millisecond
	var failingSince, lastLogged time.Time
	for {
		err := r.follow(ctx, func() {
			if !failingSince.IsZero() {
				r.log.Info("projection applies again", "failed_for", time.Since(failingSince).Round(time.Millisecond))
				failingSince, backoff = time.Time{}, 100*time.Millisecond
			}
		})
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, eventstore.ErrCursorClosed) && r.reopen.Swap(false) {
			continue // see Reopen
		}
		r.setErr(err)
		now := time.Now()
		if failingSince.IsZero() {
			failingSince = now
		}
		if lastLogged.Before(failingSince) || now.Sub(lastLogged) >= time.Minute {
			msg := "projection stalled; retrying"
			var gap *eventstore.GapError
			if errors.As(err, &gap) {
				// Not a failure a retry mends: it goes on once the loss is
				// accepted or the log restored (the error says how).
				msg = "projection stops before events the event log has lost; it goes on once the loss is accepted or the log restored"
			}
			r.log.Error(msg, "err", err, "in", backoff, "failing_for", now.Sub(failingSince).Round(time.Millisecond))
			lastLogged = now
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, maxBackoff)
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

// Reopen makes the runner follow the log on a new cursor from its
// checkpoint at once, for when the log's server lost its consumers (the
// embedded JetStream was restarted): the client would only notice after
// missing its heartbeats.
func (r *Runner) Reopen() {
	if cur := r.cur.Load(); cur != nil {
		r.reopen.Store(true)
		cur.Close()
	}
}

// Started reports whether the runner knows where its projection stands: it
// has begun following the log, or found that another process applies it.
// Until then, its lag is not known.
func (r *Runner) Started() bool {
	return r.decided.Load() && (r.started.Load() || !r.leading.Load())
}

// Lag returns how many events of the log the projection has yet to go
// through (those of its aggregates, and on a cursor that selects several
// aggregate types, the others too), as this process sees it while it
// applies the projection. It follows the cursor as it reads, whether or not
// the events read are the projection's.
func (r *Runner) Lag() uint64 {
	if cur := r.cur.Load(); cur != nil {
		return cur.Pending()
	}
	return r.lag.Load()
}

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
	cur, err := r.store.Follow(ctx, st.Checkpoint+1, r.store.SubjectsOf(r.p.AggregateTypes()...)...)
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
	idle := 0 // seconds without an event
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
		if err := r.applyBatch(ctx, batch, skips); err != nil {
			if ctx.Err() == nil && !Unavailable(err) {
				r.isolate(ctx, batch, skips)
			}
			return err
		}
		r.setErr(nil)
		ok()
	}
}

// applyBatch applies the events of batch that are past the checkpoint.
func (r *Runner) applyBatch(ctx context.Context, batch []domain.Record, skips map[uint64]bool) error {
	start := time.Now()
	cp, err := applyBatch(ctx, r.db, r.p, batch, r.now(), skips)
	if err != nil {
		return err
	}
	r.Observer.ObserveBatch(r.p.Name(), len(batch), time.Since(start))
	r.setApplied(cp)
	r.unstick(ctx, cp)
	return nil
}

// isolate applies a failed batch one event at a time to find the event that
// fails: those before it are applied, and it is reported as stuck. A
// failure of the database itself names no event.
func (r *Runner) isolate(ctx context.Context, batch []domain.Record, skips map[uint64]bool) {
	for _, rec := range batch {
		err := r.applyBatch(ctx, []domain.Record{rec}, skips)
		if err == nil {
			continue
		}
		if ctx.Err() == nil && !Unavailable(err) {
			r.setStuck(ctx, &StuckEvent{Seq: rec.Seq, ID: rec.ID, Type: rec.Type, Stream: rec.Stream, Err: err.Error(), Since: r.now().UTC()})
		}
		return
	}
}

// setStuck records that the projection cannot apply e: in this process (for
// /readyz and the metric), in projection_state (for the other instances
// and `inkwell projections status`), and in the log, once per event.
//
// It is stored at every failed attempt (a lease lost meanwhile may have
// cancelled an earlier write), but logged once per event.
func (r *Runner) setStuck(ctx context.Context, e *StuckEvent) {
	r.mu.Lock()
	prev := r.stuck
	again := prev != nil && prev.Seq == e.Seq
	if again {
		e.Since = prev.Since
	}
	r.stuck = e
	r.mu.Unlock()
	if !again {
		r.Observer.SetStuck(r.p.Name(), e.Seq)
		r.log.Error("projection cannot apply an event: it stops there and retries it; see docs/operations.md to let it go on",
			"seq", e.Seq, "event_id", e.ID, "type", e.Type, "stream", e.Stream.String(), "err", e.Err)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.db.queryTimeout())
	defer cancel()
	if _, err := r.db.ExecContext(ctx, r.db.Rebind("UPDATE projection_state SET stuck_seq = ?, stuck_error = ?, stuck_at = ? WHERE name = ?"),
		e.Seq, e.String(), e.Since, r.p.Name()); err != nil {
		r.log.Warn("record the stuck event", "err", err)
	}
}

// unstick clears a stuck event the checkpoint cp has gone past.
func (r *Runner) unstick(ctx context.Context, cp uint64) {
	r.mu.Lock()
	e := r.stuck
	if e == nil || cp < e.Seq {
		r.mu.Unlock()
		return
	}
	r.stuck = nil
	r.mu.Unlock()
	r.Observer.SetStuck(r.p.Name(), 0)
	r.log.Info("projection went past the event it could not apply", "seq", e.Seq, "checkpoint", cp)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.db.queryTimeout())
	defer cancel()
	if _, err := r.db.ExecContext(ctx, r.db.Rebind("UPDATE projection_state SET stuck_seq = 0, stuck_error = '', stuck_at = NULL WHERE name = ?"), r.p.Name()); err != nil {
		r.log.Warn("clear the stuck event", "err", err)
	}
}

// Stuck returns the event the projection cannot apply, as this process saw
// it while applying it, or nil.
func (r *Runner) Stuck() *StuckEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stuck
}

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

func (r *Runner) setApplied(cp uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cp > r.applied {
		r.applied = cp
		close(r.advance)
		r.advance = make(chan struct{})
	}
	if r.missed != 0 && cp >= r.missed {
		r.missed, r.missedSince = 0, time.Time{}
	}
}

// Missed returns the highest log sequence that a wait of this process gave
// up on (WaitFor's deadline passed: a write answered 202) and that the
// projection has not applied as of checkpoint, and since when; 0 if there
// is none. While there is one, writes through this process do not become
// readable in time: it is not ready, whichever process applies the
// projection and whatever that one reports.
func (r *Runner) Missed(checkpoint uint64) (uint64, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.missed != 0 && checkpoint >= r.missed {
		r.missed, r.missedSince = 0, time.Time{}
	}
	return r.missed, r.missedSince
}

// miss records that a wait for seq gave up.
func (r *Runner) miss(seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seq <= r.applied {
		return
	}
	if r.missed == 0 {
		r.missedSince = r.now()
	}
	r.missed = max(r.missed, seq)
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
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				r.miss(seq)
			}
			return fmt.Errorf("wait for %s to reach %d (at %d): %w", r.p.Name(), seq, applied, ctx.Err())
		}
	}
}
