package projectionstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/projections"
)

// LogBuilder makes a log of events with sequences and versions, for a
// projection's Apply without an event store (ApplyAll).
type LogBuilder struct {
	seq      uint64
	versions map[domain.StreamID]uint64
	// Recs are the records made so far, in log order.
	Recs []domain.Record
	// At is the time of the last record (each is a minute after the one
	// before).
	At time.Time
}

// NewLog returns an empty log starting at a fixed time.
func NewLog() *LogBuilder {
	return &LogBuilder{versions: map[domain.StreamID]uint64{}, At: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)}
}

// Add appends e to the stream s.
func (l *LogBuilder) Add(s domain.StreamID, e domain.Event) {
	l.seq++
	l.versions[s]++
	l.At = l.At.Add(time.Minute)
	l.Recs = append(l.Recs, domain.Record{ID: fmt.Sprint("ev", l.seq), Type: e.EventType(), SchemaVersion: 1,
		Stream: s, Version: l.versions[s], Seq: l.seq, OccurredAt: l.At, ActorID: "x", Event: e})
}

// ApplyAll applies recs to p in db, batch events a transaction.
func ApplyAll(t testing.TB, db *projections.DB, p projections.Projection, recs []domain.Record, batch int) {
	t.Helper()
	for i := 0; i < len(recs); i += batch {
		if _, err := projections.ApplyBatch(context.Background(), db, p, recs[i:min(i+batch, len(recs))], time.Now()); err != nil {
			t.Fatal(err)
		}
	}
}

// ApplyInBatches applies recs to p in a new database (open makes it) for
// each of the batch sizes, checks that every one holds the same rows, and
// returns the first.
func ApplyInBatches(t testing.TB, open func(testing.TB) *projections.DB, p projections.Projection, recs []domain.Record, sizes ...int) *projections.DB {
	t.Helper()
	var first *projections.DB
	var want Rows
	for _, batch := range sizes {
		db := open(t)
		MustEnsure(t, db, p)
		ApplyAll(t, db, p, recs, batch)
		if first == nil {
			first, want = db, Snapshot(t, db, p)
			continue
		}
		SameRows(t, fmt.Sprint("batches of ", batch), Snapshot(t, db, p), want)
	}
	return first
}

// MustSelect returns the rows that query (with ? placeholders) selects in
// db.
func MustSelect[T any](tb testing.TB, db *projections.DB, query string, args ...any) []T {
	tb.Helper()
	var out []T
	if err := db.Select(&out, db.Rebind(query), args...); err != nil {
		tb.Fatal(err)
	}
	return out
}

// MustEnsure makes p's tables in db (see projections.DB.Ensure).
func MustEnsure(t testing.TB, db *projections.DB, p projections.Projection) {
	t.Helper()
	if _, err := db.Ensure(context.Background(), p, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// Pluck returns field of each of vs.
func Pluck[V any](vs []V, field func(V) string) []string {
	out := []string{}
	for _, v := range vs {
		out = append(out, field(v))
	}
	return out
}

// StartLive runs the live runners of ps on db, in small batches, until the
// test ends.
func StartLive(t testing.TB, db *projections.DB, store *eventstore.Store, ps ...projections.Projection) *projections.Set {
	t.Helper()
	set := projections.NewSet(db, store, nil, ps...)
	for _, r := range set.Runners() {
		r.BatchSize = 25
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := set.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); set.Wait() })
	return set
}

// CatchUp waits until every runner of set has applied what app appended.
func CatchUp(t testing.TB, set *projections.Set, app *Appender) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, r := range set.Runners() {
		if err := r.WaitFor(ctx, app.LastFor(r.Projection())); err != nil {
			t.Fatal(err)
		}
	}
}

// AppendSteps appends w's steps with app until it has appended n events.
func AppendSteps(t testing.TB, app *Appender, w *Workload, n int) {
	t.Helper()
	for app.Appended() < n {
		if err := app.Append(context.Background(), w.Next()); err != nil {
			t.Fatal(err)
		}
	}
}

// MustRebuild rebuilds each of ps from store into db, batch events a
// transaction.
func MustRebuild(t testing.TB, db *projections.DB, store *eventstore.Store, batch int, ps ...projections.Projection) {
	t.Helper()
	for _, p := range ps {
		if _, err := projections.Rebuild(context.Background(), db, store, p, projections.RebuildOptions{BatchSize: batch}); err != nil {
			t.Fatalf("rebuild %s: %v", p.Name(), err)
		}
	}
}

// SortByOrdering sorts items as an ordering parameter of a list documents
// it: by each field in turn (compare gives one field's ascending order, and
// final when that order holds in both directions, as drafts last do), then
// by id in the direction of the last field: the reference a list is held
// to.
func SortByOrdering[T any](items []T, ordering string, compare func(x, y T, field string) (c int, final bool), id func(T) string) {
	terms := strings.Split(ordering, ",")
	lastDesc := strings.HasPrefix(terms[len(terms)-1], "-")
	slices.SortFunc(items, func(x, y T) int {
		for _, term := range terms {
			c, final := compare(x, y, strings.TrimPrefix(term, "-"))
			if !final && strings.HasPrefix(term, "-") {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		if lastDesc {
			return strings.Compare(id(y), id(x))
		}
		return strings.Compare(id(x), id(y))
	})
}
