package eventstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
)

// appendTyped appends n events, one stream each, cycling through types,
// and returns their records as the log holds them (with their sequences).
func appendTyped(ctx context.Context, t *testing.T, s *eventstore.Store, prefix string, n int, types ...string) {
	t.Helper()
	recs := make([]domain.Record, n)
	for i := range recs {
		recs[i] = domain.Record{Stream: domain.StreamID{Type: types[i%len(types)], ID: fmt.Sprint(prefix, i)}, Version: 1, Event: taken("x")}
	}
	if err := s.AppendBulk(ctx, recs); err != nil {
		t.Fatal(err)
	}
}

// wanted returns the sequences after from-1 of the log's events whose
// types are among types (all when none), as Follow would deliver them.
func wanted(t *testing.T, s *eventstore.Store, from uint64, types ...string) []uint64 {
	t.Helper()
	var seqs []uint64
	for _, rec := range eventstoretest.MustRead(t, s, from) {
		if len(types) == 0 || slices.Contains(types, rec.Stream.Type) {
			seqs = append(seqs, rec.Seq)
		}
	}
	return seqs
}

// takeSeqs takes n events from f and returns their sequences.
func takeSeqs(ctx context.Context, t *testing.T, f *eventstore.Follower, n int) []uint64 {
	t.Helper()
	seqs := make([]uint64, 0, n)
	for len(seqs) < n {
		rec, err := f.Next(ctx)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(seqs), n, err)
		}
		seqs = append(seqs, rec.Seq)
	}
	return seqs
}

// Followers of several subjects share one cursor on the log, whatever
// their subjects and positions, and each is handed what a cursor of its
// own would hand it: the events of its subjects past its position, in
// order, those appended before it joined and after.
func TestFollowersShareOneTail(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := eventstoretest.MustOpen(t)
	appendTyped(ctx, t, s, "a", 40, "user", "claim", "article")

	byType, err := s.Tail(ctx, 1, s.SubjectsOf("claim", "article")...)
	if err != nil {
		t.Fatal(err)
	}
	defer byType.Close()
	all, err := s.Tail(ctx, 7, s.SubjectsOf()...)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	// Behind the tail's position once it has handed out what the log
	// held: its latest events fill the difference.
	takeSeqs(ctx, t, all, 34)
	late, err := s.Tail(ctx, 30, s.SubjectsOf("user", "article")...)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	// One subject: the server filters for it, on a cursor of its own.
	users, err := s.Tail(ctx, 1, s.SubjectsOf("user")...)
	if err != nil {
		t.Fatal(err)
	}
	defer users.Close()

	for name, f := range map[string]*eventstore.Follower{"claims and articles": byType, "all": all, "users and articles from 30": late} {
		if !eventstore.OnTail(f) {
			t.Fatalf("%s: not on the shared tail", name)
		}
	}
	if eventstore.OnTail(users) {
		t.Fatal("a follower of one subject is on the shared tail; want a cursor the server filters")
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 2 {
		t.Fatalf("%d consumers of the log; want 2: the shared tail and the one filtered by subject", info.State.Consumers)
	}

	appendTyped(ctx, t, s, "b", 40, "article", "user", "claim", "favorite")
	for _, c := range []struct {
		name  string
		f     *eventstore.Follower
		from  uint64
		types []string
		taken int
	}{
		{"claims and articles", byType, 1, []string{"claim", "article"}, 0},
		{"all", all, 7, nil, 34},
		{"users and articles from 30", late, 30, []string{"user", "article"}, 0},
		{"users", users, 1, []string{"user"}, 0},
	} {
		want := wanted(t, s, c.from, c.types...)[c.taken:]
		if got := takeSeqs(ctx, t, c.f, len(want)); !slices.Equal(got, want) {
			t.Errorf("%s: handed out %v; want %v", c.name, got, want)
		}
		if _, ok, err := c.f.TryNext(); ok || err != nil {
			t.Errorf("%s: an event past those of the log (%v, %v)", c.name, ok, err)
		}
		if p := c.f.Pending(); p != 0 {
			t.Errorf("%s: %d pending once every event was taken", c.name, p)
		}
	}
}

// A follower that does not take its events is let go by the tail once
// TailBuffer of them wait, without holding up the others, and goes on on a
// cursor of its own from where it stood, losing and repeating nothing;
// caught up, it joins the tail again.
func TestAFollowerLeftBehindGoesOnAloneAndComesBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := eventstoretest.MustOpen(t)
	slow, err := s.Tail(ctx, 1, s.SubjectsOf("claim", "user")...)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	quick, err := s.Tail(ctx, 1, s.SubjectsOf("claim", "user")...)
	if err != nil {
		t.Fatal(err)
	}
	defer quick.Close()

	n := (eventstore.TailBuffer/100 + 5) * 100 // past the buffer, in appends of 100
	took := make(chan []uint64)
	go func() {
		seqs := make([]uint64, 0, n)
		for len(seqs) < n {
			rec, err := quick.Next(ctx)
			if err != nil {
				break
			}
			seqs = append(seqs, rec.Seq)
		}
		took <- seqs
	}()
	for i := 0; i < n; i += 100 {
		appendTyped(ctx, t, s, fmt.Sprint("a", i), 100, "claim", "user")
	}
	want := wanted(t, s, 1)
	if got := <-took; !slices.Equal(got, want) {
		t.Fatalf("the follower that kept up: %d events, not the log's %d in order", len(got), len(want))
	}
	if !eventstore.OnTail(quick) {
		t.Fatal("the follower that kept up was let go")
	}
	if eventstore.OnTail(slow) {
		t.Fatal("the follower that took nothing is still on the tail")
	}
	if got := takeSeqs(ctx, t, slow, n); !slices.Equal(got, want) {
		t.Fatalf("the follower let go: %d events, not the log's %d in order", len(got), len(want))
	}

	// Events of other subjects, more than the tail keeps: the follower
	// alone goes through them without an event to hand out, and joins
	// the tail from there.
	appendTyped(ctx, t, s, "other", eventstore.TailRing+100, "article")
	// Waiting for the next event, as a projection's runner does, until
	// its own cursor has gone through the log.
	for !eventstore.OnTail(slow) {
		if ctx.Err() != nil {
			t.Fatal("the follower that caught up did not join the tail again")
		}
		wait, cancelWait := context.WithTimeout(ctx, 20*time.Millisecond)
		rec, err := slow.Next(wait)
		cancelWait()
		if err != context.DeadlineExceeded {
			t.Fatalf("waiting to join the tail again: %+v, %v", rec, err)
		}
	}
	appendTyped(ctx, t, s, "b", 10, "claim")
	want = wanted(t, s, uint64(n)+1, "claim", "user")
	if got := takeSeqs(ctx, t, slow, len(want)); !slices.Equal(got, want) {
		t.Fatalf("after catching up: %v; want %v", got, want)
	}
	if got := takeSeqs(ctx, t, quick, len(want)); !slices.Equal(got, want) {
		t.Fatalf("the follower that kept up, after: %v; want %v", got, want)
	}
}

// A follower's Close leaves the others on the tail; Next on it says it is
// closed.
func TestClosingAFollowerLeavesTheOthers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := eventstoretest.MustOpen(t)
	a, err := s.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Tail(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.Close()
	if _, err := a.Next(ctx); err != eventstore.ErrCursorClosed {
		t.Fatalf("Next after Close: %v", err)
	}
	appendTyped(ctx, t, s, "a", 5, "claim")
	if got, want := takeSeqs(ctx, t, b, 5), wanted(t, s, 1); !slices.Equal(got, want) {
		t.Fatalf("%v; want %v", got, want)
	}
	if !eventstore.OnTail(b) {
		t.Fatal("the follower left is not on the tail")
	}
}
