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
// Runner.Reopen), on a new shared tail.
func (s *Set) Reopen() {
	s.store.NewTail()
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
