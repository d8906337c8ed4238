// The runner's lead: the lease taken while the log answers, and the retry loop.

package projections

import (
	"context"
	"errors"
	"time"

	"inkwell/eventstore"
)

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
