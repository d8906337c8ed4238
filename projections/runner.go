package projections

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

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

	leading atomic.Bool                         // this process applies the projection
	decided atomic.Bool                         // it knows whether it leads: it took the lease, or found it taken
	started atomic.Bool                         // it has opened the log at least once
	reopen  atomic.Bool                         // its cursor was closed to open a new one
	cur     atomic.Pointer[eventstore.Follower] // following the log, while leading
	lag     atomic.Uint64                       // events pending, as last seen while leading

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
