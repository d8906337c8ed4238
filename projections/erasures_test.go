package projections_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/users"
)

// erasuresIn returns the user.erased events of the log: user id → sequence.
func erasuresIn(t testing.TB, store *eventstore.Store) map[string]uint64 {
	t.Helper()
	out := map[string]uint64{}
	for _, rec := range eventstoretest.MustRead(t, store, 1, store.SubjectsOf(domain.AggregateUser)...) {
		if _, ok := rec.Event.(*domain.UserErased); ok {
			out[rec.Stream.ID] = rec.Seq
		}
	}
	return out
}

func ledger(t testing.TB, db *projections.DB) []projections.Erasure {
	t.Helper()
	es, err := db.Erasures(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func ledgerSeqs(es []projections.Erasure) map[string]uint64 {
	out := map[string]uint64{}
	for _, e := range es {
		out[e.UserID] = e.LogSeq
	}
	return out
}

// The users read model records every erasure of the log in the ledger of
// erasures, live and in a rebuild; the ledger outlives a rebuild's swap of
// generations unchanged, and a database that lost it (a new one in place
// of a damaged file) gets it back from the log with its rebuild.
func TestErasureLedgerOutlivesGenerationsAndRefillsFromTheLog(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		store, db, _, _, _ := startLiveLog(t, open, 7, 1500)
		want := erasuresIn(t, store)
		if len(want) == 0 {
			t.Fatal("the workload erased no one: the test cannot work")
		}
		live := ledger(t, db)
		if got := ledgerSeqs(live); !reflect.DeepEqual(got, want) {
			t.Fatalf("the live ledger holds %v, the log's erasures are %v", got, want)
		}

		projectionstest.MustRebuild(t, db, store, 100, users.ReadModel{})
		if after := ledger(t, db); !reflect.DeepEqual(normalized(after), normalized(live)) {
			t.Fatalf("a rebuild changed the ledger:\n%v\n%v", after, live)
		}

		fresh := open(t)
		projectionstest.MustRebuild(t, fresh, store, 100, users.ReadModel{})
		if got := ledgerSeqs(ledger(t, fresh)); !reflect.DeepEqual(got, want) {
			t.Fatalf("a rebuild into a new database filled the ledger with %v, want %v", got, want)
		}
	})
}

func normalized(es []projections.Erasure) []projections.Erasure {
	out := make([]projections.Erasure, len(es))
	for i, e := range es {
		e.ErasedAt, e.RecordedAt = e.ErasedAt.UTC(), e.RecordedAt.UTC()
		out[i] = e
	}
	return out
}

// An erasure recorded again keeps its first entry.
func TestRecordErasuresKeepsTheFirstEntry(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
		if err := db.RecordErasures(ctx, []projections.Erasure{{UserID: "b", LogSeq: 7, ErasedAt: at}, {UserID: "a", LogSeq: 3, ErasedAt: at}}, at); err != nil {
			t.Fatal(err)
		}
		if err := db.RecordErasures(ctx, []projections.Erasure{{UserID: "a", LogSeq: 99, ErasedAt: at.Add(time.Hour)}, {UserID: "a", LogSeq: 98}}, at.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		got := normalized(ledger(t, db))
		want := []projections.Erasure{{UserID: "a", LogSeq: 3, ErasedAt: at, RecordedAt: at}, {UserID: "b", LogSeq: 7, ErasedAt: at, RecordedAt: at}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ledger %v, want %v", got, want)
		}
	})
}
