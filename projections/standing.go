// Where each projection of a set stands: the monitor that stores and reports it, and readiness.

package projections

import (
	"context"
	"errors"
	"fmt"
	"time"
)

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
