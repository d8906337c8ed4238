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
	db      *DB
	store   *eventstore.Store
	log     *slog.Logger
	runners []*Runner
	wg      sync.WaitGroup
}

// NewSet returns a set of runners, one per projection.
func NewSet(db *DB, store *eventstore.Store, logger *slog.Logger, ps ...Projection) *Set {
	s := &Set{db: db, store: store, log: logger}
	for _, p := range ps {
		s.runners = append(s.runners, NewRunner(db, store, p, logger))
	}
	return s
}

// Runners returns the set's runners.
func (s *Set) Runners() []*Runner { return s.runners }

// Start makes sure every projection has its tables and runs them until ctx
// is done. Wait waits for them to stop.
//
// A projection whose tables were built by another version of its code is
// rebuilt from the log in the background (see Rebuild): its old tables keep
// serving reads meanwhile, and its runner starts after the swap, so writers
// waiting for it (WaitFor) wait for the rebuild.
func (s *Set) Start(ctx context.Context) error {
	stale := map[*Runner]bool{}
	for _, r := range s.runners {
		_, err := s.db.Ensure(ctx, r.p, time.Now())
		var nr *ErrNeedsRebuild
		if errors.As(err, &nr) {
			r.log.Warn("projection tables are of another version; rebuilding them from the log in the background",
				"stored_version", nr.Stored, "version", nr.Expected)
			stale[r] = true
		} else if err != nil {
			return err
		}
	}
	for _, r := range s.runners {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if stale[r] {
				if err := r.rebuild(ctx); err != nil {
					return
				}
			}
			_ = r.Run(ctx)
		}()
	}
	return nil
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
		if err := r.WaitFor(ctx, seq); err != nil {
			return err
		}
	}
	return nil
}

// Healthy returns an error naming every stalled projection.
func (s *Set) Healthy(ctx context.Context) error {
	var errs []error
	for _, r := range s.runners {
		if _, err := r.Checkpoint(); err != nil {
			errs = append(errs, fmt.Errorf("projection %s stalled: %w", r.p.Name(), err))
		}
	}
	return errors.Join(errs...)
}
