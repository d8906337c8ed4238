package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"inkwell/eventstore"
)

// Set runs a group of projections and lets writers wait for them.
type Set struct {
	// MaxLag is how many events a projection may have yet to apply before
	// it is reported not ready (default 1000).
	MaxLag   uint64
	observer Observer

	db      *DB
	store   *eventstore.Store
	log     *slog.Logger
	runners []*Runner
	wg      sync.WaitGroup
}

// NewSet returns a set of runners, one per projection.
func NewSet(db *DB, store *eventstore.Store, logger *slog.Logger, ps ...Projection) *Set {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Set{db: db, store: store, log: logger, MaxLag: 1000, observer: noObserver{}}
	for _, p := range ps {
		s.runners = append(s.runners, NewRunner(db, store, p, logger))
	}
	return s
}

// SetObserver makes every runner report to o (call it before Start).
func (s *Set) SetObserver(o Observer) {
	s.observer = o
	for _, r := range s.runners {
		r.Observer = o
	}
}

// Runners returns the set's runners.
func (s *Set) Runners() []*Runner { return s.runners }

// Start makes sure every projection has its tables and runs them until ctx
// is done. Wait waits for them to stop.
//
// The projections whose tables were built by another version of their code
// are rebuilt from the log in the background, together in one pass (see
// RebuildAll): their old tables keep serving reads meanwhile, and their
// runners start after the swaps, so writers waiting for them (WaitFor) wait
// for the rebuild.
func (s *Set) Start(ctx context.Context) error {
	var stale []*Runner
	for _, r := range s.runners {
		_, err := s.db.Ensure(ctx, r.p, time.Now())
		var nr *ErrNeedsRebuild
		if errors.As(err, &nr) {
			r.log.Warn("projection tables are of another version; rebuilding them from the log in the background",
				"stored_version", nr.Stored, "version", nr.Expected)
			stale = append(stale, r)
		} else if err != nil {
			return err
		}
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.monitor(ctx)
	}()
	run := func(r *Runner) {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = r.Run(ctx)
		}()
	}
	for _, r := range s.runners {
		if !slices.Contains(stale, r) {
			run(r)
		}
	}
	if len(stale) > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.rebuild(ctx, stale); err != nil {
				return
			}
			for _, r := range stale {
				run(r)
			}
		}()
	}
	return nil
}

// rebuild rebuilds the projections of runners in one pass (leaving alone
// those another process rebuilt first), retrying failures with backoff like
// Run, and returns ctx's error if ctx ends first. Until it returns the
// runners apply nothing, and a failure shows in their Checkpoint.
func (s *Set) rebuild(ctx context.Context, runners []*Runner) error {
	ps := make([]Projection, len(runners))
	for i, r := range runners {
		ps[i] = r.p
	}
	backoff := time.Second
	for {
		pass, err := RebuildAll(ctx, s.db, s.store, ps, RebuildOptions{OnlyIfStale: true, Logger: s.log, Now: runners[0].now})
		if err == nil {
			for i, r := range runners {
				r.setApplied(pass.Results[i].Checkpoint)
				r.setErr(nil)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, r := range runners {
			r.setErr(err)
		}
		s.log.Error("projection rebuild failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
}

// Reopen makes every runner follow the log on a new cursor (see
// Runner.Reopen).
func (s *Set) Reopen() {
	for _, r := range s.runners {
		r.Reopen()
	}
}

// Wait waits until every runner has stopped.
func (s *Set) Wait() { s.wg.Wait() }

// WaitFor waits until every projection that reads aggregateType has applied
// the log up to seq.
func (s *Set) WaitFor(ctx context.Context, aggregateType string, seq uint64) error {
	for _, r := range s.runners {
		if !slices.Contains(r.p.AggregateTypes(), aggregateType) {
			continue
		}
		if e, ok := r.p.(Eventual); ok && e.Eventual() {
			continue
		}
		if err := r.WaitFor(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}

// Eventual is a projection that writes do not wait for: what serves a read
// of it waits for it (WaitForProjection). A read model of every event (the
// personal-data one) would otherwise add its transaction to every write's
// answer.
type Eventual interface {
	Eventual() bool
}

// WaitForProjection waits until the projection name has applied the log up
// to seq, or ctx is done.
func (s *Set) WaitForProjection(ctx context.Context, name string, seq uint64) error {
	for _, r := range s.runners {
		if r.p.Name() == name {
			return r.WaitFor(ctx, seq)
		}
	}
	return fmt.Errorf("no projection %q", name)
}

// monitorEvery is how often the set stores and reports where each
// projection stands.
const monitorEvery = 2 * time.Second

// monitor stores the lag of the projections this process applies (for the
// other instances) and reports every projection's checkpoint and lag.
func (s *Set) monitor(ctx context.Context) {
	t := time.NewTicker(monitorEvery)
	defer t.Stop()
	for {
		for _, r := range s.runners {
			st, err := s.standing(ctx, r)
			if err != nil {
				continue
			}
			if r.Leading() {
				if _, err := s.db.ExecContext(ctx, s.db.Rebind("UPDATE projection_state SET lag = ?, lag_at = ? WHERE name = ?"),
					st.Lag, time.Now().UTC(), r.p.Name()); err != nil && ctx.Err() == nil {
					r.log.Debug("store projection lag", "err", err)
				}
			}
			s.observer.SetProjectionState(r.p.Name(), st.Checkpoint, st.Lag)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Standing is where a projection stands.
type Standing struct {
	Name       string
	Checkpoint uint64
	Lag        uint64
	Leading    bool
	// Stalled is the last failure of the process applying the projection
	// while it lasts (this process only).
	Stalled error
	// Stuck is the event the projection cannot apply, if any.
	Stuck *StuckEvent
	// ReportedAt is when the process applying the projection last stored
	// its lag (the zero time while this process applies it).
	ReportedAt time.Time
}

// standing returns where r's projection stands: from r itself while this
// process applies it, else as the process that does stored it.
func (s *Set) standing(ctx context.Context, r *Runner) (Standing, error) {
	cp, stalled := r.Checkpoint()
	st := Standing{Name: r.p.Name(), Checkpoint: cp, Lag: r.Lag(), Leading: r.Leading(), Stalled: stalled, Stuck: r.Stuck()}
	if st.Leading {
		return st, nil
	}
	row, err := s.db.status(ctx, r.p.Name())
	if err != nil {
		return st, err
	}
	st.Checkpoint, st.Lag, st.Stalled, st.Stuck = row.Checkpoint, row.Lag, nil, row.Stuck()
	if row.LagAt != nil {
		st.ReportedAt = *row.LagAt
	}
	return st, nil
}

// unreportedAfter is how long the process applying a projection may go
// without storing its lag before the others call the projection unapplied:
// it stores it every monitorEvery, and a dead one's lease passes to another
// process within a second or two.
const unreportedAfter = 5*monitorEvery + 2*leaseRetry

// Ready returns nil if the projection named name is applied (somewhere) and
// at most MaxLag events behind the log; otherwise an error saying why.
func (s *Set) Ready(ctx context.Context, name string) error {
	for _, r := range s.runners {
		if r.p.Name() != name {
			continue
		}
		st, err := s.standing(ctx, r)
		missed, since := r.Missed(st.Checkpoint)
		switch {
		case err != nil:
			return err
		case st.Stuck != nil:
			return fmt.Errorf("cannot apply %s; retrying (see docs/operations.md)", st.Stuck)
		case st.Stalled != nil:
			return fmt.Errorf("stalled: %w", st.Stalled)
		case !r.Started():
			return errors.New("starting: it has not read the log yet")
		case !st.Leading && !st.ReportedAt.IsZero() && time.Since(st.ReportedAt) > unreportedAfter:
			return fmt.Errorf("no instance has reported applying it for %s", time.Since(st.ReportedAt).Round(time.Second))
		case missed != 0:
			return fmt.Errorf("writes through this instance are not readable in time: one (log sequence %d) has waited %s for the read model, which stands at %d",
				missed, time.Since(since).Round(time.Second), st.Checkpoint)
		case st.Lag > s.MaxLag:
			return fmt.Errorf("%d events behind the log (more than %d)", st.Lag, s.MaxLag)
		}
		return nil
	}
	return fmt.Errorf("no projection %q", name)
}
