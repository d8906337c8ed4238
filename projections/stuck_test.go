package projections_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
	"inkwell/testkit"
)

// waitFor polls cond until it holds, failing the test after a generous
// deadline that only a broken implementation reaches.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, 2*time.Minute, what, cond)
}

func mustAppend(t *testing.T, store *eventstore.Store, s domain.StreamID, e domain.Event) domain.Record {
	t.Helper()
	_, pos, err := store.Load(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := store.Append(context.Background(), s, pos, domain.Meta{}, e)
	if err != nil {
		t.Fatal(err)
	}
	return recs[0]
}

func articleCreated(id, author, slug string) *domain.ArticleCreated {
	return &domain.ArticleCreated{ArticleID: id, Title: slug, Slug: slug, Content: "words", Excerpt: "words",
		AuthorID: author, Tags: []string{}, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// appendArticle appends the creation of the article id by author, with
// the slug and title slug, to its stream.
func appendArticle(t *testing.T, store *eventstore.Store, id, author, slug string) domain.Record {
	t.Helper()
	return mustAppend(t, store, domain.ArticleStream(id), articleCreated(id, author, slug))
}

func articleSlugs(t *testing.T, db *projections.DB) []string {
	t.Helper()
	return projectionstest.MustSelect[string](t, db, "SELECT slug FROM articles ORDER BY slug")
}

// A log that breaks an invariant the read model keeps (here: two articles
// with one slug, as a fault of an earlier version could leave) must not stop
// the projection silently for ever. The projection applies every event
// before the bad one, stops there, names it in /readyz (on this instance and
// in projection_state, for the others), and goes on once an operator
// records a skip in the log; a rebuild from the log honours the skip too.
func TestAnEventTheReadModelCannotApplyIsNamedAndCanBeSkipped(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		store := eventstoretest.MustOpen(t)
		db := open(t)
		set := projectionstest.StartLive(t, db, store, readModels...)

		user := "01900000-0000-7000-8000-000000000001"
		mustAppend(t, store, domain.UserStream(user), &domain.UserRegistered{UserID: user, Username: "writer", Email: "w@example.com", IsActive: true, DateJoined: time.Now().UTC()})
		appendArticle(t, store, "01900000-0000-7000-8000-00000000000a", user, "before")
		appendArticle(t, store, "01900000-0000-7000-8000-00000000000b", user, "dup")
		bad := appendArticle(t, store, "01900000-0000-7000-8000-00000000000c", user, "dup")
		after := appendArticle(t, store, "01900000-0000-7000-8000-00000000000d", user, "after")

		var notReady error
		waitFor(t, "the projection to report the event it cannot apply", func() bool {
			notReady = set.Ready(ctx, "articles")
			return notReady != nil && strings.Contains(notReady.Error(), fmt.Sprintf("event %d", bad.Seq))
		})
		t.Logf("readiness: %v", notReady)
		for _, want := range []string{"article.created", bad.ID, "docs/operations.md"} {
			if !strings.Contains(notReady.Error(), want) {
				t.Errorf("readiness %q does not name %q", notReady, want)
			}
		}
		if got := strings.Join(articleSlugs(t, db), ","); got != "before,dup" {
			t.Fatalf("read model holds %s, want the events before the bad one applied (before,dup)", got)
		}
		st, err := db.State(ctx, "articles")
		if err != nil || st.Checkpoint != bad.Seq-1 {
			t.Fatalf("checkpoint %d (%v), want %d: right before the bad event", st.Checkpoint, err, bad.Seq-1)
		}
		var stored uint64
		if err := db.Get(&stored, "SELECT stuck_seq FROM projection_state WHERE name = 'articles'"); err != nil || stored != bad.Seq {
			t.Fatalf("projection_state.stuck_seq = %d (%v), want %d for the other instances", stored, err, bad.Seq)
		}
		waitFor(t, "the users read model, which the bad event does not concern, to be ready", func() bool {
			return set.Ready(ctx, "users") == nil
		})

		if _, err := projections.Skip(ctx, store, articles.ReadModel{}, bad.Seq, "", "", domain.Meta{}); domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("a skip without a reason: %v, want EINVALID", err)
		}
		if _, err := projections.Skip(ctx, store, articles.ReadModel{}, bad.Seq, "a second article with the slug dup", notReady.Error(), domain.Meta{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the projection to go past the skipped event", func() bool { return set.Ready(ctx, "articles") == nil })
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := set.WaitFor(wctx, domain.AggregateArticle, after.Seq); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(articleSlugs(t, db), ","); got != "after,before,dup" {
			t.Fatalf("read model holds %s after the skip, want after,before,dup", got)
		}
		if err := db.Get(&stored, "SELECT stuck_seq FROM projection_state WHERE name = 'articles'"); err != nil || stored != 0 {
			t.Fatalf("projection_state.stuck_seq = %d (%v) after the skip, want 0", stored, err)
		}
		skips, err := projections.Skips(ctx, store, "articles")
		if err != nil || len(skips) != 1 || skips[0].Seq != bad.Seq || skips[0].EventID != bad.ID || skips[0].Reason == "" {
			t.Fatalf("recorded skips %+v (%v)", skips, err)
		}

		fresh := open(t)
		projectionstest.MustRebuild(t, fresh, store, 2, readModels...)
		projectionstest.SameRows(t, "a rebuild from the log", projectionstest.Snapshot(t, fresh, readModels...), projectionstest.Snapshot(t, db, readModels...))
	})
}

// After a restart, a projection is ready as soon as it has gone through
// the log, however many events of other aggregates follow its own last
// one: its lag counts what it has yet to go through, not the distance from
// its checkpoint to the head of the whole log.
func TestReadyAfterRestartWhenOtherEventsFollow(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		store := eventstoretest.MustOpen(t)
		db := open(t)
		user := "01900000-0000-7000-8000-000000000001"
		mustAppend(t, store, domain.UserStream(user), &domain.UserRegistered{UserID: user, Username: "writer", Email: "w@example.com", IsActive: true, DateJoined: time.Now().UTC()})
		app := projectionstest.NewAppender(store)
		for i := 0; i < 1500; i++ { // session events: neither read model reads them
			id := fmt.Sprintf("01900000-0000-7000-8001-%012d", i)
			if _, err := store.Append(ctx, domain.SessionStream(id), domain.Position{}, domain.Meta{},
				&domain.SessionStarted{SessionID: id, UserID: user, RefreshID: "r", StartedAt: time.Now().UTC()}); err != nil {
				t.Fatal(err)
			}
		}
		for round := 0; round < 2; round++ { // a first start, then a restart
			ctx, cancel := context.WithCancel(ctx)
			set := projections.NewSet(db, store, nil, readModels...)
			if err := set.Start(ctx); err != nil {
				t.Fatal(err)
			}
			projectionstest.CatchUp(t, set, app)
			waitFor(t, "every projection to be ready", func() bool {
				return set.Ready(ctx, "users") == nil && set.Ready(ctx, "articles") == nil
			})
			// An article later, both runners are surely following the
			// log: the users projection, which reads none of these
			// events, is still ready.
			id := fmt.Sprintf("01900000-0000-7000-8002-%012d", round)
			if err := app.Append(ctx, []domain.Record{{Stream: domain.ArticleStream(id), Event: articleCreated(id, user, "a"+id)}}); err != nil {
				t.Fatal(err)
			}
			projectionstest.CatchUp(t, set, app)
			for _, name := range []string{"users", "articles"} {
				if err := set.Ready(ctx, name); err != nil {
					t.Fatalf("round %d: %s: %v", round, name, err)
				}
			}
			cancel()
			set.Wait()
		}
	})
}
