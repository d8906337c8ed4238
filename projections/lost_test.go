package projections_test

import (
	"context"
	"slices"
	"testing"

	"inkwell/domain"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
)

// recorder is a projection that records the sequence of every article
// event it applies, and nothing else: a lost batch is its rows and its
// checkpoint, nothing more.
type recorder struct{}

func (recorder) Name() string             { return "recorder" }
func (recorder) Version() int             { return 1 }
func (recorder) Schema() string           { return `CREATE TABLE {{t "recorded"}} (seq BIGINT PRIMARY KEY);` }
func (recorder) Tables() []string         { return []string{"recorded"} }
func (recorder) AggregateTypes() []string { return []string{domain.AggregateArticle} }

func (recorder) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	for _, r := range recs {
		if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO "+tx.T("recorded")+" (seq) VALUES (?)"), r.Seq); err != nil {
			return err
		}
	}
	return nil
}

// A runner's commit does not wait for PostgreSQL's flush to disk, so a
// crash of the database server can lose the last batches, each with the
// checkpoint stored in it, while the runner has gone on reading the log
// past them; the same happens to a database restored from a copy. The
// runner finds the stored checkpoint behind the one it committed, and
// applies the log again from the stored one: nothing lost stays lost.
func TestARunnerAppliesAgainWhatTheDatabaseLost(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		store := eventstoretest.MustOpen(t)
		db := open(t)
		set := projectionstest.StartLive(t, db, store, recorder{})
		user := "01900000-0000-7000-8000-000000000001"

		kept := appendArticle(t, store, "01900000-0000-7000-8000-00000000000a", user, "kept")
		lost := appendArticle(t, store, "01900000-0000-7000-8000-00000000000b", user, "lost")
		if err := set.WaitForProjection(ctx, "recorder", lost.Seq); err != nil {
			t.Fatal(err)
		}
		// The database loses what followed kept: the rows and the
		// checkpoint of the batches after it, as a crash loses commits.
		gen := projectionstest.MustSelect[int](t, db, "SELECT generation FROM projection_state WHERE name = 'recorder'")[0]
		tx := db.MustBegin()
		tx.MustExecContext(ctx, tx.Rebind("DELETE FROM "+projections.PhysicalTable("recorded", gen)+" WHERE seq > ?"), kept.Seq)
		tx.MustExecContext(ctx, tx.Rebind("UPDATE projection_state SET checkpoint = ? WHERE name = 'recorder'"), kept.Seq)
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}

		next := appendArticle(t, store, "01900000-0000-7000-8000-00000000000c", user, "next")
		if err := set.WaitForProjection(ctx, "recorder", next.Seq); err != nil {
			t.Fatal(err)
		}
		got := projectionstest.MustSelect[uint64](t, db, "SELECT seq FROM recorded ORDER BY seq")
		if want := []uint64{kept.Seq, lost.Seq, next.Seq}; !slices.Equal(got, want) {
			t.Fatalf("recorded %v after the loss, want %v: the lost batch was not applied again", got, want)
		}
	})
}
