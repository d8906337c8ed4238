package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"inkwell/eventstore"
	"inkwell/projections"
)

// logIntegrity watches the event log for damage, for a server: a log that
// lost events it once held says nothing of it (JetStream skips a message
// it cannot read, or rebuilds its state without it), and a log that ends
// before a read model's checkpoint would give new events sequences the
// read model counts as applied, never to show them.
//
//   - At start-up it checks the stream's state and the read models'
//     checkpoints (a few requests), before anything is served or written.
//   - Then it reads the whole log once in the background (Store.Verify,
//     the envelopes only, paced): a damaged message changes nothing in the
//     state, only a read finds it. Readiness does not wait for that read:
//     it takes some 20 seconds a million events, every damage that makes
//     writing harmful (a log behind a read model) shows in the state, and
//     the server serves correctly meanwhile: a gap means that events the
//     read models applied are gone from the log, not that writing harms.
//   - Every few seconds it checks the state and the checkpoints again, so
//     that an acceptance of the loss, a restore or a rebuild is seen.
//
// Damage is logged once at error level, with what to do, and fails its
// readiness check. While a read model is past the log's end, writes are
// refused (see writable): they would be lost to it.
type logIntegrity struct {
	store *eventstore.Store
	db    *projections.DB
	log   *slog.Logger
	// reopen makes the projections' runners follow the log again from
	// their stored checkpoints: one that a rebuild moved back (the log
	// ended before it) is followed from there.
	reopen func()

	mu       sync.Mutex
	check    *eventstore.LogCheck // the last check, with the scan's findings
	scan     *eventstore.LogCheck // the scan's, once done
	scanning bool
	behind   bool   // a read model is past the log's end: writes are refused
	logged   string // the damage last logged, to log each once
}

// scanRate bounds the messages the background read of the log reads a
// second: a million in some 20 seconds, taking about a third of two cores
// meanwhile (the read costs 13 to 15 CPU-seconds a million messages, the
// embedded NATS server's part included, where unpaced it would take both
// cores for 7 seconds; see BenchmarkVerify).
const scanRate = 50000

// integrityInterval is how often the state and the checkpoints are checked
// again.
const integrityInterval = 2 * time.Second

// start checks the state now and, until ctx ends, reads the whole log once
// and checks the state again every integrityInterval.
func (g *logIntegrity) start(ctx, runCtx context.Context) {
	if err := g.recheck(ctx); err != nil {
		g.log.Warn("check the event log for damage", "err", err)
	}
	go g.verify(runCtx)
	go func() {
		t := time.NewTicker(integrityInterval)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			if err := g.recheck(runCtx); err != nil && runCtx.Err() == nil {
				g.log.Debug("check the event log for damage", "err", err)
			}
		}
	}()
}

// verify reads the whole log once, and checks again with what it found.
func (g *logIntegrity) verify(ctx context.Context) {
	g.mu.Lock()
	g.scanning = true
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.scanning = false
		g.mu.Unlock()
	}()
	for backoff := time.Second; ; backoff = min(2*backoff, time.Minute) {
		scan, err := g.store.Verify(ctx, eventstore.VerifyOptions{EnvelopesOnly: true, Rate: scanRate})
		if err == nil {
			g.log.Info("read the whole event log to check it", "messages", scan.Read, "aggregates", scan.Aggregates,
				"took", scan.Duration.Round(time.Millisecond), "damaged", scan.Damaged())
			g.mu.Lock()
			g.scan = scan
			g.mu.Unlock()
			if err := g.recheck(ctx); err != nil && ctx.Err() == nil {
				g.log.Warn("check the event log for damage", "err", err)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		g.log.Warn("read the whole event log to check it; trying again", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
	}
}

// recheck checks the log's state and the read models' checkpoints, adds
// what the scan found, and acts on the outcome.
func (g *logIntegrity) recheck(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The checkpoints first: a read model never applies an event the log
	// does not hold yet, so the log's state read after them is never
	// behind them unless it lost events.
	statuses, err := g.db.Statuses(ctx)
	if err != nil {
		return err
	}
	check, err := g.store.CheckState(ctx)
	if err != nil {
		return err
	}
	for _, st := range statuses {
		check.AddCheckpoint(st.Name, st.Checkpoint)
	}
	g.mu.Lock()
	if g.scan != nil {
		check.Include(g.scan)
	}
	wasBehind := g.behind
	behind := len(check.Behind) > 0
	if wasBehind && !behind && g.reopen != nil {
		// A rebuild moved the checkpoints back to the log's end: the
		// runners follow again from there before writes resume.
		g.reopen()
	}
	g.check, g.behind = check, behind
	problems := ""
	if check.Damaged() {
		problems = strings.Join(check.Problems(), "; ")
	}
	changed := problems != g.logged
	g.logged = problems
	g.mu.Unlock()

	switch {
	case changed && problems != "":
		g.log.Error("THE EVENT LOG IS DAMAGED: "+problems, "what_to_do", check.Advice(), "writes_refused", behind)
	case changed:
		g.log.Info("the event log's damage is resolved (restored, or its loss accepted and the read models rebuilt)")
	}
	return nil
}

// ready is the readiness check of the log's integrity.
func (g *logIntegrity) ready(context.Context) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.check == nil || !g.check.Damaged() {
		return nil
	}
	return fmt.Errorf("%s. What to do: %s", strings.Join(g.check.Problems(), "; "), g.check.Advice())
}

// errLogBehind is why writes are refused while a read model is past the
// log's end.
var errLogBehind = errors.New("the event log ends before what a read model has applied")

// writable is the log's writable check: an error while a read model is past
// the log's end.
func (g *logIntegrity) writable() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.behind {
		return nil
	}
	return &eventstore.WriteRefusal{
		Reason: "it has lost events the read models had applied; writes are refused until an operator restores it or accepts the loss",
		Err:    fmt.Errorf("%w (new events would take sequences it counts as applied, and never show): %s", errLogBehind, g.check.Advice()),
	}
}
