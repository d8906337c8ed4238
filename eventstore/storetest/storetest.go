// Package storetest is the contract of the event log as the command
// handlers use it (Load and Append): the promises every implementation
// keeps, the JetStream log (package eventstore) and the one in memory
// (package memstore) alike. Each implementation's tests run Contract.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"inkwell/domain"
)

// Port is the event log as the command handlers use it (the method set of
// commands.EventStore).
type Port interface {
	Load(ctx context.Context, id domain.StreamID) ([]domain.Record, domain.Position, error)
	Append(ctx context.Context, id domain.StreamID, pos domain.Position, meta domain.Meta, events ...domain.Event) ([]domain.Record, error)
}

func taken(owner string) domain.Event {
	return &domain.ClaimTaken{Owner: domain.StreamIDJSON{Type: "user", ID: owner}, TakenAt: time.Unix(1700000000, 0).UTC()}
}

func stream(id string) domain.StreamID { return domain.StreamID{Type: "claim", ID: id} }

// Contract runs the promises of Port on logs that open returns, a new and
// empty one for each subtest.
func Contract(t *testing.T, open func(t *testing.T) Port) {
	for _, c := range []struct {
		name string
		run  func(t *testing.T, s Port)
	}{
		{"AppendThenLoad", appendThenLoad},
		{"LoadEmpty", loadEmpty},
		{"ConflictIsDetected", conflictIsDetected},
		{"ExactlyOneOfRacingAppendsWins", exactlyOneOfRacingAppendsWins},
		{"VersionsAreGapless", versionsAreGapless},
		{"InvalidStreamIDsAreRejected", invalidStreamIDsAreRejected},
		{"AttemptRecognizesItsOwnEarlierEvent", attemptRecognizesItsOwnEarlierEvent},
		{"TheLogHoldsTheEventAsAppended", theLogHoldsTheEventAsAppended},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, open(t)) })
	}
}

func appendThenLoad(t *testing.T, s Port) {
	ctx := context.Background()
	recs, err := s.Append(ctx, stream("a"), domain.Position{}, domain.Meta{ActorID: "u1", CorrelationID: "req-1"}, taken("x"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Seq == 0 || recs[0].Version != 1 {
		t.Fatalf("append returned %+v", recs)
	}
	got, pos, err := s.Load(ctx, stream("a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("loaded %d records, want 1", len(got))
	}
	r := got[0]
	if r.ID != recs[0].ID || r.Seq != recs[0].Seq || r.Version != 1 || r.ActorID != "u1" || r.CorrelationID != "req-1" || r.Type != "claim.taken" {
		t.Fatalf("loaded record %+v does not match appended %+v", r, recs[0])
	}
	ev, ok := r.Event.(*domain.ClaimTaken)
	if !ok || ev.Owner.ID != "x" {
		t.Fatalf("decoded event %#v", r.Event)
	}
	if pos != (domain.Position{Seq: recs[0].Seq, Version: 1}) {
		t.Fatalf("position %+v", pos)
	}
}

func loadEmpty(t *testing.T, s Port) {
	ctx := context.Background()
	got, pos, err := s.Load(ctx, stream("nothing"))
	if err != nil || len(got) != 0 || pos != (domain.Position{}) {
		t.Fatalf("got %+v at %+v, %v", got, pos, err)
	}
}

func conflictIsDetected(t *testing.T, s Port) {
	ctx := context.Background()
	if _, err := s.Append(ctx, stream("c"), domain.Position{}, domain.Meta{}, taken("first")); err != nil {
		t.Fatal(err)
	}
	// A writer that still believes the stream is empty must fail.
	_, err := s.Append(ctx, stream("c"), domain.Position{}, domain.Meta{}, taken("second"))
	if !errors.Is(err, domain.ErrConcurrentChange) {
		t.Fatalf("got %v, want ErrConcurrentChange", err)
	}
	if domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("error code %q", domain.ErrorCode(err))
	}
	got, _, _ := s.Load(ctx, stream("c"))
	if len(got) != 1 {
		t.Fatalf("%d records after a conflict, want 1", len(got))
	}
}

func exactlyOneOfRacingAppendsWins(t *testing.T, s Port) {
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := s.Append(ctx, stream("race"), domain.Position{}, domain.Meta{}, taken(fmt.Sprint(i)))
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	ok, conflicts := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, domain.ErrConcurrentChange):
			conflicts++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 || conflicts != n-1 {
		t.Fatalf("%d succeeded and %d conflicted, want 1 and %d", ok, conflicts, n-1)
	}
}

func versionsAreGapless(t *testing.T, s Port) {
	ctx := context.Background()
	_, pos, _ := s.Load(ctx, stream("multi"))
	for i := 0; i < 5; i++ {
		recs, err := s.Append(ctx, stream("multi"), pos, domain.Meta{}, taken(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		pos = domain.Position{Seq: recs[0].Seq, Version: recs[0].Version}
		got, _, err := s.Load(ctx, stream("multi"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != i+1 {
			t.Fatalf("after %d appends loaded %d", i+1, len(got))
		}
		for j, r := range got {
			if r.Version != uint64(j+1) {
				t.Fatalf("record %d has version %d", j, r.Version)
			}
		}
	}
}

func invalidStreamIDsAreRejected(t *testing.T, s Port) {
	ctx := context.Background()
	for _, id := range []string{"", "a.b", "*", ">", "a b", "a\x00", strings.Repeat("x", 200)} {
		if _, _, err := s.Load(ctx, stream(id)); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Load(%q): %v", id, err)
		}
		if _, err := s.Append(ctx, stream(id), domain.Position{}, domain.Meta{}, taken("x")); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("Append(%q): %v", id, err)
		}
	}
}

func attemptRecognizesItsOwnEarlierEvent(t *testing.T, s Port) {
	ctx := context.Background()
	seed := []byte("an idempotent request")
	started := time.Now()
	first := domain.WithAttempt(ctx, domain.NewAttempt(seed, started))
	_, pos, err := s.Load(first, stream("idem"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.Append(first, stream("idem"), pos, domain.Meta{}, taken("mine"))
	if err != nil {
		t.Fatal(err)
	}
	// Another writer appends after it.
	if _, err := s.Append(ctx, stream("idem"), domain.Position{Seq: recs[0].Seq, Version: 1}, domain.Meta{}, taken("theirs")); err != nil {
		t.Fatal(err)
	}
	again := domain.WithAttempt(ctx, domain.NewAttempt(seed, started))
	got, pos, err := s.Load(again, stream("idem"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || pos != (domain.Position{}) {
		t.Fatalf("a later attempt loads %d events at %+v, want the stream before its own event", len(got), pos)
	}
	recs2, err := s.Append(again, stream("idem"), pos, domain.Meta{}, taken("mine"))
	if err != nil {
		t.Fatal(err)
	}
	if recs2[0].ID != recs[0].ID || recs2[0].Seq != recs[0].Seq {
		t.Fatalf("second attempt appended %+v, want the first's %+v", recs2[0], recs[0])
	}
	all, _, err := s.Load(ctx, stream("idem"))
	if err != nil || len(all) != 2 {
		t.Fatalf("stream holds %d events (%v), want 2", len(all), err)
	}
}

func theLogHoldsTheEventAsAppended(t *testing.T, s Port) {
	ctx := context.Background()
	// What a handler loads is the event as the log stored it when it
	// was appended: changing the appended value afterwards changes
	// nothing in the log. (Loaded events are the log's, shared by every
	// loader: no handler changes one.)
	ev := &domain.ClaimTaken{Owner: domain.StreamIDJSON{Type: "user", ID: "before"}}
	if _, err := s.Append(ctx, stream("copy"), domain.Position{}, domain.Meta{}, ev); err != nil {
		t.Fatal(err)
	}
	ev.Owner.ID = "after"
	got, _, err := s.Load(ctx, stream("copy"))
	if err != nil || len(got) != 1 {
		t.Fatalf("loaded %d events (%v)", len(got), err)
	}
	if id := got[0].Event.(*domain.ClaimTaken).Owner.ID; id != "before" {
		t.Fatalf("the log holds %q, want the event as appended", id)
	}
}
