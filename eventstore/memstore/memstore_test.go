package memstore_test

import (
	"context"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/eventstore/memstore"
	"inkwell/eventstore/storetest"
)

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Contract(t, func(*testing.T) storetest.Port { return memstore.New() })
}

// Head and Get read the whole log in order, as the command tests use them
// to look at what was appended.
func TestHeadAndGet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := memstore.New()
	if h, err := s.Head(ctx); err != nil || h != 0 {
		t.Fatalf("empty log: head %d, %v", h, err)
	}
	taken := &domain.ClaimTaken{Owner: domain.StreamIDJSON{Type: "user", ID: "u1"}, TakenAt: time.Unix(1700000000, 0).UTC()}
	recs, err := s.Append(ctx, domain.StreamID{Type: "claim", ID: "a"}, domain.Position{}, domain.Meta{CorrelationID: "req-1"}, taken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, domain.StreamID{Type: "claim", ID: "b"}, domain.Position{}, domain.Meta{}, taken); err != nil {
		t.Fatal(err)
	}
	if h, err := s.Head(ctx); err != nil || h != 2 {
		t.Fatalf("head %d, %v, want 2", h, err)
	}
	r, err := s.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != recs[0].ID || r.Seq != 1 || r.Stream.ID != "a" || r.ActorID != domain.SystemActorID || r.CorrelationID != "req-1" {
		t.Fatalf("event 1: %+v", r)
	}
	if ev, ok := r.Event.(*domain.ClaimTaken); !ok || ev.Owner.ID != "u1" {
		t.Fatalf("event 1 decoded as %#v", r.Event)
	}
	for _, seq := range []uint64{0, 3} {
		if _, err := s.Get(ctx, seq); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Get(%d): %v, want not found", seq, err)
		}
	}
}
