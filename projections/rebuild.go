package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
)

// RebuildOptions tunes Rebuild and RebuildAll.
type RebuildOptions struct {
	// BatchSize is how many events of the log one batch reads (default
	// 10,000); each projection applies its events of a batch in one
	// transaction.
	BatchSize int
	// OnlyIfStale makes a rebuild leave alone a projection whose stored
	// tables already have its version: at start-up, another process may
	// have rebuilt it first.
	OnlyIfStale bool
	// Progress, if set, is called after every batch of the rebuild and
	// after the swaps, from the goroutine running it.
	Progress func(RebuildProgress)
	// Logger receives the rebuild's milestones (default: none).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// RebuildProgress tells how far a rebuild is.
type RebuildProgress struct {
	// Projection names the projections being rebuilt, joined with "+".
	Projection string
	// Generation is the generation being filled when one projection is
	// rebuilt (0 when several are).
	Generation int
	// Applied is how many events of the log the rebuild has applied, each
	// counted once however many of the projections read it.
	Applied uint64
	// Total is Applied plus at most the events that remain: the log's
	// messages from the checkpoint at the rebuild's last look (some may be
	// of aggregates no projection being rebuilt reads). It grows while the
	// log grows, and equals Applied once the rebuild is done.
	Total uint64
	// Checkpoint is the last log sequence applied to every projection.
	Checkpoint uint64
	// Elapsed is the time since the rebuild started.
	Elapsed time.Duration
}

// RebuildResult describes a finished rebuild.
type RebuildResult struct {
	Projection string
	// Generation is the generation now serving reads.
	Generation int
	// Events is how many events the new generation applied.
	Events uint64
	// Checkpoint is the projection's checkpoint after the swap.
	Checkpoint uint64
	// Duration is how long the rebuild took, waiting for its turn included.
	Duration time.Duration
	// Skipped is true when OnlyIfStale found nothing to do.
	Skipped bool
}

// RebuildPass describes a rebuild of several projections in one pass over
// the log.
type RebuildPass struct {
	// Results has one entry per projection, in the order given.
	Results []RebuildResult
	// Events is how many events of the log the pass applied, each counted
	// once however many of the projections read it.
	Events uint64
	// Duration is how long the pass took, waiting for its turn included.
	Duration time.Duration
	// Losses are the losses of the log an operator accepted: the pass went
	// past those sequences, and the read models rebuilt go without the
	// events they held.
	Losses []domain.LossAccepted
}

// ErrRebuildSuperseded is returned by a rebuild whose new generation was
// taken over by a rebuild of the same projection started later.
var ErrRebuildSuperseded = errors.New("another rebuild of the projection started since")

// Rebuild rebuilds projection p from the start of the log into a new
// generation of tables and swaps it in. It is RebuildAll of p alone.
func Rebuild(ctx context.Context, db *DB, store *eventstore.Store, p Projection, opts RebuildOptions) (RebuildResult, error) {
	pass, err := RebuildAll(ctx, db, store, []Projection{p}, opts)
	if len(pass.Results) == 0 {
		return RebuildResult{Projection: p.Name()}, err
	}
	return pass.Results[0], err
}

// RebuildAll rebuilds projections ps from the start of the log, each into
// a new generation of its tables, in one pass over the log, and swaps each
// in.
//
// For each projection, the new generation N+1 is recorded in
// projection_rebuilds and filled through p.Apply, the code the live runner
// uses, while generation N keeps serving reads and its live runner (in this
// process or another) keeps applying new events to it. The log is read
// once, in batches of BatchSize events, each event decoded once; every
// projection applies its events of a batch in a transaction of its own
// that also stores its own checkpoint. Once the new generations have caught
// up with the log, each projection in turn is swapped in by one
// transaction that locks the projection's state row, applies the events
// its rebuild has not seen yet, points the views at generation N+1, stores
// the projection's version, generation and checkpoint, and drops
// generation N. Readers see the old rows until that transaction commits
// and the new ones after. A live runner re-reads the projection's state in
// every transaction, so it continues on the new generation after the swap.
//
// A rebuild that fails or is cancelled drops the new generations it has
// not swapped in yet and leaves their live ones as they were (those it
// swapped in stay: they are complete); one killed outright leaves its
// generations recorded in projection_rebuilds, and the next rebuild of each
// projection drops it first. On PostgreSQL, rebuilds of one projection
// take turns (a session advisory lock); on SQLite, a rebuild of a
// projection started while another runs makes the earlier one fail with
// ErrRebuildSuperseded.
func RebuildAll(ctx context.Context, db *DB, store *eventstore.Store, ps []Projection, opts RebuildOptions) (RebuildPass, error) {
	opts.setDefaults()
	pass := RebuildPass{Results: make([]RebuildResult, len(ps))}
	names := make([]string, len(ps))
	for i, p := range ps {
		if slices.Contains(names[:i], p.Name()) {
			return RebuildPass{}, fmt.Errorf("rebuild: projection %s given twice", p.Name())
		}
		names[i] = p.Name()
		pass.Results[i].Projection = p.Name()
	}
	start := opts.Now()
	var err error

	// In the order of their names, so that two processes never each hold
	// a lock the other waits for.
	for _, name := range slices.Sorted(slices.Values(names)) {
		release, err := lockRebuild(ctx, db, name, opts.Logger.With("projection", name))
		if err != nil {
			return pass, err
		}
		defer release()
	}
	r := &rebuildAll{store: store, opts: opts, start: start, name: strings.Join(names, "+"), tail: map[uint64]struct{}{}}
	defer func() {
		for _, rb := range r.rbs {
			if !rb.swapped {
				rb.abandon(context.WithoutCancel(ctx))
			}
		}
	}()
	if err := r.begin(ctx, db, ps, pass.Results); err != nil {
		return pass, err
	}
	if len(r.rbs) == 0 {
		pass.Duration = opts.Now().Sub(start)
		return pass, nil
	}
	// A log that lost events is rebuilt from only once an operator decided
	// (see checkLog); the read of the log stops at a loss the state does
	// not show.
	rebuilt := make([]Projection, len(r.rbs))
	for i, rb := range r.rbs {
		rebuilt[i] = rb.p
	}
	if err := checkLog(ctx, db, store, rebuilt); err != nil {
		return pass, err
	}
	if pass.Losses, err = r.losses(ctx); err != nil {
		return pass, err
	}
	discard, err := r.openConns(ctx, db)
	defer discard()
	if err != nil {
		return pass, err
	}
	if err := r.fill(ctx); err != nil {
		return pass, err
	}
	for _, rb := range r.rbs {
		if err := r.swap(ctx, rb); err != nil {
			return pass, err
		}
	}
	r.report(r.events)
	pass.Events, pass.Duration = r.events, opts.Now().Sub(start)
	return pass, nil
}

func (o *RebuildOptions) setDefaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}
