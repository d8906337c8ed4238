// The runner's checkpoint as this process sees it, and the waits of writes for it.

package projections

import (
	"context"
	"errors"
	"fmt"
	"time"
)

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
