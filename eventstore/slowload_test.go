package eventstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/faults"
)

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
