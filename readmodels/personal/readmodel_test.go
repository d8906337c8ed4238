package personal_test

import (
	"inkwell/projections/projectionstest"

	"cmp"
	"context"
	"fmt"
	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/personal"
	"inkwell/readmodels/users"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// exportLog is a log of two users, carol and dan, as the export of carol's
// data reads it: sessions started three at a time (ties on started_at),
// articles created two at a time (ties on created_at), drafts and published
// ones mixed, and every event caused by one or the other in turn.
func exportLog(n int) (recs []domain.Record, carol, dan string) {
	carol, dan = "00000000-0000-7000-8000-0000000ca201", "00000000-0000-7000-8000-0000000da201"
	var seq uint64
	versions := map[domain.StreamID]uint64{}
	at := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	add := func(s domain.StreamID, actor string, e domain.Event) {
		seq++
		versions[s]++
		recs = append(recs, domain.Record{ID: fmt.Sprint("ev", seq), Type: e.EventType(), SchemaVersion: 1,
			Stream: s, Version: versions[s], Seq: seq, OccurredAt: at, ActorID: actor, Event: e})
	}
	for _, u := range []struct{ id, name string }{{carol, "carol"}, {dan, "dan"}} {
		add(domain.UserStream(u.id), u.id, &domain.UserRegistered{UserID: u.id, Username: u.name, Email: u.name + "@example.com",
			IsActive: true, DateJoined: at})
	}
	for i := range n {
		user := []string{carol, dan}[i%2]
		started := at.Add(time.Duration(i/3) * time.Second)
		sid := fmt.Sprintf("00000000-0000-7000-8000-%012d", 1000+(n-i)) // ids against the order of time
		add(domain.SessionStream(sid), user, &domain.SessionStarted{SessionID: sid, UserID: user, RefreshID: "r", StartedAt: started})
		aid := fmt.Sprintf("00000000-0000-7000-8000-%012d", 5000+(n-i))
		add(domain.ArticleStream(aid), user, &domain.ArticleCreated{ArticleID: aid, Title: fmt.Sprint("Article ", i), Slug: fmt.Sprint("article-", i),
			Content: "words", AuthorID: user, Tags: []string{}, IsPublished: i%3 == 0, CreatedAt: at.Add(time.Duration(i/4) * time.Minute)})
	}
	return recs, carol, dan
}

// pageAll reads every page of a query, limit at a time, and returns the
// rows in the order read.
func pageAll[K any](t *testing.T, limit int, page func(after *K) ([]K, error)) []K {
	t.Helper()
	var out []K
	var after *K
	for {
		rows, err := page(after)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) > limit {
			t.Fatalf("a page of %d rows, limit %d", len(rows), limit)
		}
		out = append(out, rows...)
		if len(rows) < limit {
			return out
		}
		after = &rows[len(rows)-1]
	}
}

// The export's queries page through one user's sessions, articles and
// events: every row of theirs once, none of anyone else's, in the
// documented order (the id breaking ties of time), whatever the size of
// the pages.
func TestExportPagesReadEveryRowOnceInOrder(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		recs, carol, _ := exportLog(60)
		for _, p := range []projections.Projection{users.ReadModel{}, articles.ReadModel{}, personal.ReadModel{}} {
			projectionstest.MustEnsure(t, db, p)
			projectionstest.ApplyAll(t, db, p, recs, 17)
		}
		store, articleStore := personal.NewStore(db), articles.NewStore(db)
		var wantSessions []personal.Session
		var wantArticles []articles.Key
		var wantSeqs []uint64
		for _, r := range recs {
			switch e := r.Event.(type) {
			case *domain.SessionStarted:
				if e.UserID == carol {
					wantSessions = append(wantSessions, personal.Session{ID: e.SessionID, StartedAt: e.StartedAt})
				}
			case *domain.ArticleCreated:
				if e.AuthorID == carol {
					wantArticles = append(wantArticles, articles.Key{ID: e.ArticleID, CreatedAt: e.CreatedAt})
				}
			}
			if r.ActorID == carol {
				wantSeqs = append(wantSeqs, r.Seq)
			}
		}
		slices.SortFunc(wantSessions, func(a, b personal.Session) int {
			return cmp.Or(a.StartedAt.Compare(b.StartedAt), strings.Compare(a.ID, b.ID))
		})
		slices.SortFunc(wantArticles, func(a, b articles.Key) int {
			return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		})
		for _, limit := range []int{1, 4, 500} {
			sessions := pageAll(t, limit, func(after *personal.Session) ([]personal.Session, error) {
				return store.SessionsOf(ctx, carol, after, limit)
			})
			if got, want := projectionstest.Pluck(sessions, sessionKey), projectionstest.Pluck(wantSessions, sessionKey); !slices.Equal(got, want) {
				t.Errorf("pages of %d sessions:\n got %v\nwant %v", limit, got, want)
			}
			articles := pageAll(t, limit, func(after *articles.Key) ([]articles.Key, error) {
				return articleStore.ArticleKeysOf(ctx, carol, after, limit)
			})
			if !slices.Equal(articles, wantArticles) {
				t.Errorf("pages of %d articles:\n got %v\nwant %v", limit, articles, wantArticles)
			}
			seqs := pageAll(t, limit, func(after *uint64) ([]uint64, error) {
				var a uint64
				if after != nil {
					a = *after
				}
				return store.EventSeqsOf(ctx, carol, a, limit)
			})
			if !slices.Equal(seqs, wantSeqs) {
				t.Errorf("pages of %d events:\n got %v\nwant %v", limit, seqs, wantSeqs)
			}
		}
	})
}

func sessionKey(s personal.Session) string {
	return s.StartedAt.UTC().Format(time.RFC3339Nano) + " " + s.ID
}

// wholeScanOrSort matches the plan steps that make a page of the export
// cost what the table, or the user's rows, hold: a scan of a table, or a
// sort of everything a search found. The sessions' sort of the rows that
// tie on the index's last key (SQLite's "LAST TERM OF ORDER BY",
// PostgreSQL's incremental sort) is not: the index keeps them together, and
// the page's limit stops it.
var wholeScanOrSort = regexp.MustCompile(`^SCAN |Seq Scan on|TEMP B-TREE FOR ORDER BY|^Sort  \(`)

// TestExportQueriesReadInIndexOrder runs the planner on the first page and
// on a page after a cursor of each of the export's queries: none scans a
// table or sorts what it found, and a cursor's range is in the index
// search, so that the export reads each row once, whatever the history.
func TestExportQueriesReadInIndexOrder(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		recs, carol, _ := exportLog(3000)
		for _, p := range []projections.Projection{users.ReadModel{}, articles.ReadModel{}, personal.ReadModel{}} {
			projectionstest.MustEnsure(t, db, p)
			projectionstest.ApplyAll(t, db, p, recs, 1000)
		}
		if db.Dialect == projections.Postgres {
			// The statistics of this test's tables only: the database
			// holds the schemas of other tests (and of whatever else
			// shares it), which a bare ANALYZE would read too.
			var tables []string
			if err := db.Select(&tables, "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()"); err != nil {
				t.Fatal(err)
			}
			if len(tables) == 0 {
				t.Fatal("no tables in the test's schema")
			}
			if _, err := db.Exec("ANALYZE " + strings.Join(tables, ", ")); err != nil {
				t.Fatal(err)
			}
		}
		ses := personal.Session{ID: "00000000-0000-7000-8000-000000002000", StartedAt: recs[0].OccurredAt.Add(500 * time.Second)}
		art := articles.Key{ID: "00000000-0000-7000-8000-000000006000", CreatedAt: recs[0].OccurredAt.Add(300 * time.Minute)}
		// Its queries as the export runs them: sessions, the author's
		// articles (of the articles read model), events.
		pq, pargs := personal.ExportQueries(personal.NewStore(db), carol, ses, 3000)
		aq, aargs := articles.KeysQueries(articles.NewStore(db), carol, art)
		qs := append(append(append([]string{}, pq[:2]...), aq...), pq[2:]...)
		args := append(append(append([][]any{}, pargs[:2]...), aargs...), pargs[2:]...)
		// What each query's index search must hold: its equalities, and
		// after a cursor the range on the first key of the order.
		needs := [][]string{
			{"user_id"}, {"user_id", "started_at"}, // sessions
			{"author_id", "is_published"}, {"author_id", "is_published"}, // articles: drafts, published
			{"author_id", "is_published", "created_at"}, {"author_id", "is_published", "created_at"},
			{"user_id", "seq"}, {"user_id", "seq"}, // events
		}
		if len(qs) != len(needs) {
			t.Fatalf("%d queries, want %d", len(qs), len(needs))
		}
		for i, q := range qs {
			steps := projectionstest.Plan(t, db, q, args[i])
			if os.Getenv("PLANDUMP") != "" {
				t.Logf("%s\n  %s", q, strings.Join(steps, "\n  "))
			}
			for _, s := range steps {
				if wholeScanOrSort.MatchString(strings.TrimSpace(strings.TrimLeft(s, " ->"))) {
					t.Errorf("%q\nquery: %s\nplan:\n  %s", s, q, strings.Join(steps, "\n  "))
				}
			}
			search := ""
			for _, s := range steps {
				if strings.HasPrefix(s, "SEARCH ") || strings.Contains(s, "Index Cond:") {
					search = s
				}
			}
			for _, col := range needs[i] {
				if !strings.Contains(search, col) {
					t.Errorf("the index search %q lacks %s\nquery: %s\nplan:\n  %s", search, col, q, strings.Join(steps, "\n  "))
				}
			}
		}
	})
}
