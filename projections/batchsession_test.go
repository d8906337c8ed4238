package projections_test

import (
	"context"
	"testing"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
)

// sessionRecorder is a projection that records, for each batch, the
// settings of the session its transaction runs in.
type sessionRecorder struct{ seen *[][3]string }

func (sessionRecorder) Name() string             { return "session" }
func (sessionRecorder) Version() int             { return 1 }
func (sessionRecorder) Schema() string           { return `CREATE TABLE {{t "unused"}} (x INT);` }
func (sessionRecorder) Tables() []string         { return []string{"unused"} }
func (sessionRecorder) AggregateTypes() []string { return []string{domain.AggregateArticle} }

func (r sessionRecorder) Apply(ctx context.Context, tx *projections.Tx, _ []domain.Record) error {
	var s [3]string
	err := tx.QueryRowxContext(ctx, "SELECT current_setting('statement_timeout'), "+
		"current_setting('idle_in_transaction_session_timeout'), current_setting('synchronous_commit')").Scan(&s[0], &s[1], &s[2])
	*r.seen = append(*r.seen, s)
	return err
}

// A runner's batch on PostgreSQL runs bounded as a batch (a minute for a
// statement, a lease's deadline for the session idle in it) and commits
// without waiting for the flush, with no statement of its own to say so:
// its session was opened so. The API's queries keep theirs.
func TestABatchRunsInASessionOfItsBounds(t *testing.T) {
	db := projectionstest.MustOpenPostgres(t)
	var seen [][3]string
	p := sessionRecorder{seen: &seen}
	projectionstest.MustEnsure(t, db, p)
	l := projectionstest.NewLog()
	l.Add(domain.ArticleStream("01900000-0000-7000-8000-00000000000a"), &domain.ArticleDeleted{})
	l.Add(domain.ArticleStream("01900000-0000-7000-8000-00000000000b"), &domain.ArticleDeleted{})
	projectionstest.ApplyAll(t, db, p, l.Recs, 1)
	want := [3]string{"1min", "5s", "off"}
	if len(seen) != 2 || seen[0] != want || seen[1] != want {
		t.Fatalf("the batches ran with (statement_timeout, idle_in_transaction_session_timeout, synchronous_commit) %v, want %v each", seen, want)
	}
	var query [2]string
	if err := db.QueryRowxContext(context.Background(), "SELECT current_setting('statement_timeout'), current_setting('synchronous_commit')").Scan(&query[0], &query[1]); err != nil {
		t.Fatal(err)
	}
	if query != [2]string{"3s", "on"} {
		t.Fatalf("a query of the API ran with (statement_timeout, synchronous_commit) %v, want [3s on]", query)
	}
}
