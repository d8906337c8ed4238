package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/faults"
)

// behindProxy starts a NATS server listening on a port, a fault proxy in
// front of it, and a store connected through the proxy with short timeouts.
func behindProxy(t *testing.T) (*eventstore.Store, *faults.Proxy) {
	t.Helper()
	addr, token := eventstoretest.MustStartListening(t)
	p := faults.StartProxy(t, addr)
	nc := eventstoretest.MustConnect(t, "nats://"+p.Addr(), nats.Token(token), nats.ReconnectWait(20*time.Millisecond))
	s := eventstoretest.MustOpenOn(t, nc, eventstore.Config{OpTimeout: 300 * time.Millisecond, AppendTimeout: 2 * time.Second})
	return s, p
}

// A connection cut after the server received an append, before its
// acknowledgement came back, leaves an append whose outcome the client does
// not know. The append is stored; the store must find that out from the log
// and report success, never a conflict (which would let a command give up
// claims for a change that happened).
func TestAmbiguousAppendIsResolvedFromTheLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, p := behindProxy(t)
	subj, _ := s.Subject(stream("amb"))
	cut := p.CutAfter([]byte("HPUB " + subj + " "))

	recs, err := s.Append(ctx, stream("amb"), domain.Position{}, domain.Meta{}, taken("first"))
	select {
	case <-cut:
	default:
		t.Fatal("the proxy never cut the connection: the fault was not injected")
	}
	if err != nil {
		t.Fatalf("append whose acknowledgement was lost: %v, want success", err)
	}
	got, pos, err := s.Load(ctx, stream("amb"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != recs[0].ID || got[0].Seq != recs[0].Seq {
		t.Fatalf("log holds %+v, append returned %+v", got, recs)
	}
	// The stream goes on from there.
	if _, err := s.Append(ctx, stream("amb"), pos, domain.Meta{}, taken("second")); err != nil {
		t.Fatal(err)
	}
}

// An append cut off the same way whose stream was meanwhile taken by another
// writer is a conflict: the event after the expected position is not ours.
func TestAmbiguousAppendAfterAnotherWriterIsAConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, p := behindProxy(t)
	if _, err := s.Append(ctx, stream("taken"), domain.Position{}, domain.Meta{}, taken("other")); err != nil {
		t.Fatal(err)
	}
	subj, _ := s.Subject(stream("taken"))
	cut := p.CutAfter([]byte("HPUB " + subj + " "))
	_, err := s.Append(ctx, stream("taken"), domain.Position{}, domain.Meta{}, taken("late"))
	<-cut
	if !errors.Is(err, domain.ErrConcurrentChange) {
		t.Fatalf("got %v, want a concurrent change", err)
	}
}

// A server that stops answering (here: a frozen connection) leaves the
// outcome unknown for longer than the append may wait. The append must say
// so (503, outcome unknown), not claim a conflict or a failure: the event is
// indeed stored once the connection thaws.
func TestUnansweredAppendReportsAnUnknownOutcome(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, p := behindProxy(t)
	p.Freeze()
	_, err := s.Append(ctx, stream("frozen"), domain.Position{}, domain.Meta{}, taken("x"))
	var u *domain.UnavailableError
	if !errors.As(err, &u) || !u.OutcomeUnknown || u.Dependency != domain.DependencyEventLog {
		t.Fatalf("got %v, want an unknown outcome of the event log", err)
	}
	if domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Fatalf("code %s, want %s", domain.ErrorCode(err), domain.EUNAVAILABLE)
	}
	p.Thaw()
	// The held request reaches the server now, or the client's next
	// connection carries a read: either way the log soon holds the event.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, _, err := s.Load(ctx, stream("frozen"))
		if err == nil && len(got) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event never appeared (%d events, %v)", len(got), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A later attempt of an idempotent request loads each stream as it stood
// before its own earlier event with LoadEach too, as with Load (the
// storetest contract shows the rest of the attempt's promises).
func TestLoadEachTrimsAnAttemptsOwnEvent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := eventstoretest.MustOpen(t)
	seed, started := []byte("an idempotent request"), time.Now()
	first := domain.WithAttempt(ctx, domain.NewAttempt(seed, started))
	if _, err := s.Append(first, stream("idem"), domain.Position{}, domain.Meta{}, taken("mine")); err != nil {
		t.Fatal(err)
	}
	again := domain.WithAttempt(ctx, domain.NewAttempt(seed, started))
	each, poss, err := s.LoadEach(again, stream("other"), stream("idem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(each[1]) != 0 || poss[1] != (domain.Position{}) {
		t.Fatalf("a later attempt loads %d events at %+v with LoadEach, want the stream before its own event", len(each[1]), poss[1])
	}
	if all, _, err := s.LoadEach(ctx, stream("idem")); err != nil || len(all[0]) != 1 {
		t.Fatalf("without the attempt: %d events (%v), want 1", len(all[0]), err)
	}
}

// OpTimeout bounds each request to the server, never a whole operation
// made of several: a long stream loaded on a slow network takes many
// requests, each well within the bound, and together longer than it. Such
// a load succeeds, whichever way it reads the stream (Load, LoadEach).
func TestALoadOfManyRequestsIsBoundedPerRequest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	addr, token := eventstoretest.MustStartListening(t)
	master := eventstoretest.NewMasterKey(t)
	w := eventstoretest.MustOpenWithMaster(t, eventstoretest.MustConnect(t, "nats://"+addr, nats.Token(token)), eventstore.Config{}, master)

	// Twenty batches of the log's batched reads (256 events), at the
	// least: twenty requests, each held by the proxy below, and so is each
	// answer.
	const events = 20*256 + 1
	var pos domain.Position
	for pos.Version < events {
		var batch []domain.Event
		for i := pos.Version; i < events && len(batch) < 100; i++ {
			batch = append(batch, taken(fmt.Sprint(i)))
		}
		recs, err := w.Append(ctx, stream("long"), pos, domain.Meta{}, batch...)
		if err != nil {
			t.Fatal(err)
		}
		last := recs[len(recs)-1]
		pos = domain.Position{Seq: last.Seq, Version: last.Version}
	}

	const op, delay = 2 * time.Second, 40 * time.Millisecond
	p := faults.StartProxy(t, addr)
	nc := eventstoretest.MustConnect(t, "nats://"+p.Addr(), nats.Token(token))
	// Stores of their own: nothing of the stream in their caches.
	readers := map[string]*eventstore.Store{}
	for _, name := range []string{"Load", "LoadEach"} {
		readers[name] = eventstoretest.MustOpenWithMaster(t, nc, eventstore.Config{OpTimeout: op}, master)
	}
	p.Delay(delay)
	for _, load := range []struct {
		name string
		load func(r *eventstore.Store) ([]domain.Record, error)
	}{
		{"Load", func(r *eventstore.Store) ([]domain.Record, error) {
			recs, _, err := r.Load(ctx, stream("long"))
			return recs, err
		}},
		{"LoadEach", func(r *eventstore.Store) ([]domain.Record, error) {
			each, _, err := r.LoadEach(ctx, stream("long"))
			if err != nil {
				return nil, err
			}
			return each[0], nil
		}},
	} {
		started := time.Now()
		recs, err := load.load(readers[load.name])
		took := time.Since(started)
		t.Logf("%s: %v", load.name, took)
		if err != nil {
			t.Fatalf("%s of %d events, %v a chunk on the wire, OpTimeout %v: %v", load.name, events, delay, op, err)
		}
		if len(recs) != events || recs[events-1].Version != events {
			t.Fatalf("%s: %d events, want %d", load.name, len(recs), events)
		}
		// The proxy held each of at least 40 chunks (a request, its
		// answer; more for the answers' 2 MB) for 40 ms: the load took
		// longer than one OpTimeout.
		if took <= op {
			t.Fatalf("%s took %v, not more than OpTimeout (%v): the network was not slow, the test shows nothing", load.name, took, op)
		}
	}
}
