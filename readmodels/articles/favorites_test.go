package articles_test

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"inkwell/domain"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
)

const carol = "00000000-0000-7000-8000-0000000ca201"

// favoritesLog is blog() with favorites: given, taken back, of articles
// that are deleted or unpublished, by users who are deleted, and recorded
// after an article's or a user's end.
func favoritesLog() *projectionstest.LogBuilder {
	l := blog()
	fav := func(user string, n int) {
		l.Add(domain.FavoriteStream(user, artID(n)), &domain.FavoriteAdded{UserID: user, ArticleID: artID(n), At: l.At})
	}
	unfav := func(user string, n int) {
		l.Add(domain.FavoriteStream(user, artID(n)), &domain.FavoriteRemoved{UserID: user, ArticleID: artID(n)})
	}
	l.Add(domain.UserStream(carol), &domain.UserRegistered{UserID: carol, Username: "carol"})
	fav(carol, 1)
	fav(carol, 2)
	fav(carol, 4)
	fav(carol, 6)
	fav(bob, 1)
	fav(alice, 4)
	fav(alice, 3) // her own draft
	unfav(carol, 2)
	l.Add(domain.ArticleStream(artID(6)), &domain.ArticleDeleted{})
	l.Add(domain.ArticleStream(artID(4)), &domain.ArticleUnpublished{})
	l.Add(domain.UserStream(bob), &domain.UserDeleted{})
	fav(bob, 2)   // after bob's deletion: not kept
	fav(alice, 6) // after the article's deletion: not kept
	fav(carol, 2) // again
	unfav(alice, 5)
	return l
}

// A rebuild makes the favorites and the counts the live read model made,
// whatever its batches hold: favorites of articles of earlier batches, of
// articles deleted or unpublished later, by users deleted later, and
// recorded after an article's or a user's end.
func TestFavoritesRebuildEqualsLive(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		recs := favoritesLog().Recs
		store := eventstoretest.MustOpen(t)
		if err := projectionstest.NewAppender(store).Append(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
		want := projectionstest.Snapshot(t, projectionstest.ApplyInBatches(t, open, articles.ReadModel{}, recs, 1), articles.ReadModel{})
		if len(want["article_favorites"]) == 0 {
			t.Fatal("the log leaves no favorite to compare")
		}
		for _, batch := range []int{1, 2, 5, 1000} {
			db := open(t)
			projectionstest.MustRebuild(t, db, store, batch, articles.ReadModel{})
			projectionstest.SameRows(t, fmt.Sprintf("rebuilt in batches of %d", batch), projectionstest.Snapshot(t, db, articles.ReadModel{}), want)
		}
	})
}

func TestFavoritesAreKept(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		recs := favoritesLog().Recs
		s := articles.NewStore(projectionstest.ApplyInBatches(t, open, articles.ReadModel{}, recs, 1, 3, len(recs)))
		staff := domain.Actor{ID: "s", Staff: true}
		page, err := s.ListArticles(ctx, articles.Filter{Viewer: staff, Ordering: "created_at", Page: readmodels.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int64{}
		for _, v := range page.Items {
			counts[v.ID] = v.FavoritesCount
		}
		want := map[string]int64{artID(1): 1, artID(2): 1, artID(3): 1, artID(4): 2, artID(5): 0}
		if !reflect.DeepEqual(counts, want) {
			t.Fatalf("favorites_count %v, want %v", counts, want)
		}
		// favorited for the viewer, in a list and in a get.
		page, err = s.ListArticles(ctx, articles.Filter{Viewer: domain.Actor{ID: carol}, Ordering: "created_at", Page: readmodels.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		var on []string
		for _, v := range page.Items {
			if v.Favorited {
				on = append(on, v.Title)
			}
		}
		if !reflect.DeepEqual(on, []string{"Zebra crossings", "apples and Go"}) {
			t.Fatalf("carol favors %q in the list", on)
		}
		// A get (by slug, by number) says what the list says, of each.
		for _, v := range page.Items {
			for _, ref := range []string{v.Slug, strconv.FormatInt(v.Number, 10)} {
				got, err := s.ArticleByRef(ctx, domain.Actor{ID: carol}, ref)
				if err != nil || got.Favorited != v.Favorited {
					t.Fatalf("carol gets %q: %v, favorited %v; the list says %v", ref, err, got.Favorited, v.Favorited)
				}
			}
		}
		if v, err := s.ArticleByRef(ctx, domain.Actor{ID: alice}, artID(3)); err != nil || !v.Favorited || v.FavoritesCount != 1 {
			t.Fatalf("alice's own draft: %v, favorited %v, count %d", err, v.Favorited, v.FavoritesCount)
		}
		if v, err := s.ArticleByRef(ctx, domain.Actor{}, artID(1)); err != nil || v.Favorited {
			t.Fatalf("anonymous: %v, favorited %v", err, v.Favorited)
		}
		// The favorited list: published articles only, newest first, by
		// id or by username, paged by cursor.
		for _, who := range []string{carol, "Carol"} {
			var got []string
			f := articles.Filter{Viewer: domain.Actor{}, Favorited: who, Page: readmodels.Page{Limit: 1}}
			for {
				page, err := s.ListArticles(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if page.Count != 2 || !page.CountExact {
					t.Fatalf("favorited=%s: count %d (exact %v), want 2", who, page.Count, page.CountExact)
				}
				got = append(got, titles(page.Items)...)
				if page.Next == "" {
					break
				}
				f.Page.Cursor = page.Next
			}
			if !reflect.DeepEqual(got, []string{"apples and Go", "Zebra crossings"}) {
				t.Fatalf("favorited=%s: %q", who, got)
			}
		}
		if _, err := s.ListArticles(ctx, articles.Filter{Favorited: carol, Ordering: "title", Page: readmodels.Page{Limit: 1}}); domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("favorited with ordering title: %v, want invalid", err)
		}
		if page, err := s.ListArticles(ctx, articles.Filter{Favorited: "nobody", Page: readmodels.Page{Limit: 5}}); err != nil || page.Count != 0 || len(page.Items) != 0 {
			t.Fatalf("favorited=nobody: %v, %d items, count %d", err, len(page.Items), page.Count)
		}
		vs, err := s.ArticlesByIDs(ctx, domain.Actor{ID: carol}, []string{artID(2), artID(5), artID(6), artID(1)})
		if err != nil || !reflect.DeepEqual(titles(vs), []string{"apples and Go", "Zebra crossings"}) || !vs[0].Favorited {
			t.Fatalf("by ids: %v, %q", err, titles(vs))
		}
	})
}
