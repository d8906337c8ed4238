package eventstore_test

import (
	"context"
	"testing"

	"inkwell/domain"
	"inkwell/eventstore"
)

// writerAndReader opens two instances of one log: one writes, the other
// reads (its caches and snapshots in memory are its own). It skips on a
// server without the batched direct get, which lastSince needs.
func writerAndReader(t *testing.T) (w, r *eventstore.Store) {
	t.Helper()
	l := newSnapshotLog(t)
	w, _ = l.open()
	r, _ = l.open()
	if !eventstore.UsesBatchedGet(r) {
		t.Skip("the server has no batched direct get")
	}
	return w, r
}

// loadAll loads streams with LoadEach and returns how many events each has.
func loadAll(t *testing.T, s *eventstore.Store, ids ...domain.StreamID) []int {
	t.Helper()
	each, _, err := s.LoadEach(context.Background(), ids...)
	if err != nil {
		t.Fatal(err)
	}
	n := make([]int, len(each))
	for i, recs := range each {
		n[i] = len(recs)
	}
	return n
}

// sentSince returns how many last messages the server sent r since *mark,
// and moves the mark.
func sentSince(r *eventstore.Store, mark *uint64) uint64 {
	now := eventstore.LastMessagesSent(r)
	d := now - *mark
	*mark = now
	return d
}

// A stream that an instance holds whole (its events cached, from an earlier
// load or its own append) is not sent again when nothing came after it: the
// server is asked to leave it out. One that another instance appended to
// since is sent, and loads with the new event: sparing the message never
// serves a stale stream. Two instances share one log here.
func TestAStreamHeldWholeIsNotSentAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, r := writerAndReader(t)
	pos := domain.Position{}
	for _, owner := range []string{"a", "b"} {
		recs, err := w.Append(ctx, stream("held"), pos, domain.Meta{}, taken(owner))
		if err != nil {
			t.Fatal(err)
		}
		pos = domain.Position{Seq: recs[0].Seq, Version: recs[0].Version}
	}
	var mark uint64
	load := func(want int) {
		t.Helper()
		got, at, err := r.Load(ctx, stream("held"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != want || at.Version != uint64(want) {
			t.Fatalf("loaded %d events at %+v, want %d", len(got), at, want)
		}
	}
	load(2) // not held yet: read from the log
	sentSince(r, &mark)
	load(2)
	if n := sentSince(r, &mark); n != 0 {
		t.Fatalf("a stream held whole was sent again (%d messages)", n)
	}
	recs, err := w.Append(ctx, stream("held"), pos, domain.Meta{}, taken("c"))
	if err != nil {
		t.Fatal(err)
	}
	pos = domain.Position{Seq: recs[0].Seq, Version: recs[0].Version}
	load(3)
	if n := sentSince(r, &mark); n != 1 {
		t.Fatalf("a stream another instance appended to: %d messages sent, want its last", n)
	}

	// Several streams at once: only those that end where the instance
	// holds them from the least of them are left out.
	if _, err := w.Append(ctx, stream("later"), domain.Position{}, domain.Meta{}, taken("d")); err != nil {
		t.Fatal(err)
	}
	if got := loadAll(t, r, stream("held"), stream("later")); got[0] != 3 || got[1] != 1 {
		t.Fatalf("LoadEach: %v events, want [3 1]", got)
	}
	sentSince(r, &mark)
	if got := loadAll(t, r, stream("held"), stream("later")); got[0] != 3 || got[1] != 1 {
		t.Fatalf("LoadEach again: %v events, want [3 1]", got)
	}
	if n := sentSince(r, &mark); n != 1 {
		t.Fatalf("LoadEach of two held streams: %d messages sent, want 1 (the earlier one left out)", n)
	}
	if _, err := w.Append(ctx, stream("held"), pos, domain.Meta{}, taken("e")); err != nil {
		t.Fatal(err)
	}
	if got := loadAll(t, r, stream("held"), stream("later")); got[0] != 4 || got[1] != 1 {
		t.Fatalf("LoadEach after another instance's append: %v events, want [4 1]", got)
	}
}

// The same for aggregates loaded from a snapshot in memory (LoadInto,
// LoadEachInto): served from it with nothing sent while the log has nothing
// after it, and folded on from the log once another instance appended.
func TestASnapshotHeldIsServedWhileCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w, r := writerAndReader(t)
	sid, pos := recordUser(t, w, 6)
	other, _ := recordUser(t, w, 2)
	loadUser(t, r, sid) // folds, and keeps a snapshot in memory
	var mark uint64
	sentSince(r, &mark)
	served := eventstore.SnapshotsServed(r)
	u, at := loadUser(t, r, sid)
	if n := sentSince(r, &mark); n != 0 {
		t.Fatalf("an aggregate whose snapshot in memory is current: %d messages sent, want none", n)
	}
	if eventstore.SnapshotsServed(r) != served+1 || at != pos {
		t.Fatalf("not served from the snapshot in memory (position %+v, want %+v)", at, pos)
	}
	sameState(t, u, fullFold(t, w, sid))

	pos = appendBio(t, w, sid, pos, "written by another instance")
	u, at = loadUser(t, r, sid)
	if at != pos || u.Bio() != "written by another instance" {
		t.Fatalf("after another instance's append: position %+v (want %+v), bio %q", at, pos, u.Bio())
	}
	sameState(t, u, fullFold(t, w, sid))

	// LoadEachInto: both held (the other user loaded once first), the
	// earlier stream left out.
	var a, b domain.User
	if _, err := r.LoadEachInto(ctx, []domain.StreamID{other, sid}, []domain.Aggregate{&a, &b}); err != nil {
		t.Fatal(err)
	}
	sentSince(r, &mark)
	a, b = domain.User{}, domain.User{}
	if _, err := r.LoadEachInto(ctx, []domain.StreamID{other, sid}, []domain.Aggregate{&a, &b}); err != nil {
		t.Fatal(err)
	}
	if n := sentSince(r, &mark); n != 1 {
		t.Fatalf("LoadEachInto of two held aggregates: %d messages sent, want 1 (the earlier one left out)", n)
	}
	sameState(t, &a, fullFold(t, w, other))
	sameState(t, &b, fullFold(t, w, sid))
}

// A held sequence past the log's last message of its subject cannot come
// from this log (it does not lose what was read from it); were it to, the
// subject is not taken as current: the log is asked again for every last
// message.
func TestLastSinceAsksAgainWhenTheLogStandsBeforeWhatIsHeld(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newSnapshotLog(t)
	s, _ := l.open()
	if !eventstore.UsesBatchedGet(s) {
		t.Skip("the server has no batched direct get")
	}
	first, err := s.Append(ctx, stream("first"), domain.Position{}, domain.Meta{}, taken("a"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := s.Append(ctx, stream("second"), domain.Position{}, domain.Meta{}, taken("b"))
	if err != nil {
		t.Fatal(err)
	}
	subjects := make([]string, 2)
	for i, id := range []domain.StreamID{stream("first"), stream("second")} {
		subjects[i], _ = s.Subject(id)
	}
	a, b := first[0].Seq, second[0].Seq

	seqs, current, err := eventstore.LastSince(ctx, s, subjects, []uint64{a, b})
	if err != nil || !current[0] || current[1] || seqs[0] != 0 || seqs[1] != b {
		t.Fatalf("both held where they end: sent %v, current %v (%v); want the earlier left out as current", seqs, current, err)
	}
	// The first held past its last message, the second before its own:
	// the first is left out (its last comes before the least held, plus
	// one), but not at the least: the log is asked again.
	seqs, current, err = eventstore.LastSince(ctx, s, subjects, []uint64{b + 100, a})
	if err != nil || current[0] || current[1] || seqs[0] != a || seqs[1] != b {
		t.Fatalf("one held past the log: sent %v, current %v (%v); want every last message, none current", seqs, current, err)
	}
	seqs, current, err = eventstore.LastSince(ctx, s, subjects, []uint64{0, b})
	if err != nil || current[0] || current[1] || seqs[0] != a || seqs[1] != b {
		t.Fatalf("one not held: sent %v, current %v (%v); want every last message", seqs, current, err)
	}
}
