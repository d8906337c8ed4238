// The runner's stuck events: the event a projection cannot apply, found and recorded.

package projections

import (
	"context"
	"fmt"
	"time"

	"inkwell/domain"
)

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

// isolate applies a failed batch one event at a time to find the event that
// fails: those before it are applied, and it is reported as stuck. A
// failure of the database itself names no event.
func (r *Runner) isolate(ctx context.Context, batch []domain.Record, skips map[uint64]bool) {
	for _, rec := range batch {
		_, _, err := r.applyBatch(ctx, []domain.Record{rec}, batchOptions{skips: skips})
		if err == nil {
			continue
		}
		if ctx.Err() == nil && !Unavailable(err) {
			r.setStuck(ctx, &StuckEvent{Seq: rec.Seq, ID: rec.ID, Type: rec.Type, Stream: rec.Stream, Err: err.Error(), Since: r.now().UTC()})
		}
		return
	}
}

// setStuck records that the projection cannot apply e: in projection_state
// (for the other instances and `inkwell projections status`), then in this
// process (for /readyz and the metric), so that once this process reports
// it the others can see it too; and in the log, once per event.
//
// It is stored at every failed attempt (a lease lost meanwhile may have
// cancelled an earlier write), but logged once per event.
func (r *Runner) setStuck(ctx context.Context, e *StuckEvent) {
	r.mu.Lock()
	prev := r.stuck
	r.mu.Unlock()
	again := prev != nil && prev.Seq == e.Seq
	if again {
		e.Since = prev.Since
	}
	r.storeStuck(ctx, "record the stuck event", e.Seq, e.String(), &e.Since)
	r.mu.Lock()
	r.stuck = e
	r.mu.Unlock()
	if !again {
		r.Observer.SetStuck(r.p.Name(), e.Seq)
		r.log.Error("projection cannot apply an event: it stops there and retries it; see docs/operations.md to let it go on",
			"seq", e.Seq, "event_id", e.ID, "type", e.Type, "stream", e.Stream.String(), "err", e.Err)
	}
}

// unstick clears a stuck event the checkpoint cp has gone past: in
// projection_state, then in this process (as setStuck records it).
func (r *Runner) unstick(ctx context.Context, cp uint64) {
	r.mu.Lock()
	e := r.stuck
	r.mu.Unlock()
	if e == nil || cp < e.Seq {
		return
	}
	r.storeStuck(ctx, "clear the stuck event", 0, "", nil)
	r.mu.Lock()
	r.stuck = nil
	r.mu.Unlock()
	r.Observer.SetStuck(r.p.Name(), 0)
	r.log.Info("projection went past the event it could not apply", "seq", e.Seq, "checkpoint", cp)
}

// storeStuck writes the stuck event's columns of projection_state (seq 0:
// none); a failure is logged as what.
func (r *Runner) storeStuck(ctx context.Context, what string, seq uint64, desc string, at *time.Time) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.db.queryTimeout())
	defer cancel()
	if _, err := r.db.ExecContext(ctx, r.db.Rebind("UPDATE projection_state SET stuck_seq = ?, stuck_error = ?, stuck_at = ? WHERE name = ?"),
		seq, desc, at, r.p.Name()); err != nil {
		r.log.Warn(what, "err", err)
	}
}

// Stuck returns the event the projection cannot apply, as this process saw
// it while applying it, or nil.
func (r *Runner) Stuck() *StuckEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stuck
}
