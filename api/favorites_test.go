package api_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"

	"inkwell/api"
	"inkwell/api/mock"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/follows"
)

// A page of the feed reads its ids from the follows read model and its
// articles in one call, in the feed's order (an article gone meanwhile
// left out), with the feed's count and cursor.
func TestFeedReadsItsArticlesInOneCall(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(f *fakeServer) { f.deps.Follows = f.reads })
	f.reads.FeedFn = func(_ context.Context, viewer string, p readmodels.Page) (readmodels.ListPage[follows.FeedEntry], error) {
		if viewer != writerID || p.Limit != 3 {
			t.Errorf("feed of %q, page %+v", viewer, p)
		}
		return readmodels.ListPage[follows.FeedEntry]{Items: []follows.FeedEntry{{ArticleID: "c"}, {ArticleID: "b"}, {ArticleID: "a"}}, Count: 7, CountExact: true, Next: "more"}, nil
	}
	calls := 0
	f.reads.ArticlesByIDsFn = func(_ context.Context, viewer domain.Actor, ids []string) ([]articles.View, error) {
		calls++
		if !reflect.DeepEqual(ids, []string{"c", "b", "a"}) || viewer.ID != writerID {
			t.Errorf("articles %q for %q", ids, viewer.ID)
		}
		return []articles.View{{ID: "c", Favorited: true, FavoritesCount: 2}, {ID: "a"}}, nil
	}
	rec := f.do("GET", "/api/articles/feed/?page_size=3", "", true)
	if rec.Code != http.StatusOK || calls != 1 {
		t.Fatalf("%d after %d calls: %s", rec.Code, calls, rec.Body)
	}
	page := decode[api.PageResponse[api.ArticleResponse]](t, rec)
	if len(page.Items) != 2 || page.Items[0].ID != "c" || !page.Items[0].Favorited || page.Items[0].FavoritesCount != 2 || page.Count != 7 || page.Next == nil || *page.Next != "more" {
		t.Fatalf("page %+v", page)
	}
	if rec := f.do("GET", "/api/articles/feed/", "", false); rec.Code != http.StatusUnauthorized {
		t.Fatalf("anonymous feed: %d", rec.Code)
	}
}

// The route's username goes to the command, which resolves it against the
// log: following oneself is its 422 naming username, an unknown username
// its 404; the read model is not asked first (it may be behind, as while a
// rebuild refills it, and would say 404 for a user who exists).
func TestFollowRefusals(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(f *fakeServer) { f.deps.Follows = f.reads })
	f.reads.ProfileByUsernameFn = func(_ context.Context, _ domain.Actor, ref string) (follows.Profile, error) {
		t.Errorf("the read model was asked for %q", ref)
		return follows.Profile{}, domain.ErrUserNotFound
	}
	f.cmds.FollowUser = mock.Handler[commands.FollowUser, commands.Result](func(_ context.Context, c commands.FollowUser) (commands.Result, error) {
		switch {
		case c.FolloweeID != "":
			t.Errorf("the command got an id, %q, not the route's username", c.FolloweeID)
		case c.FolloweeUsername == "writer" && c.Actor.ID == writerID:
			return commands.Result{}, domain.ErrFollowSelf
		}
		return commands.Result{}, domain.ErrUserNotFound
	})
	rec := f.do("POST", "/api/profiles/writer/follow/", "", true)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("following oneself: %d %s", rec.Code, rec.Body)
	}
	if errs := decode[map[string]any](t, rec)["errors"].(map[string]any); errs["username"] == nil {
		t.Fatalf("following oneself does not name username: %s", rec.Body)
	}
	if rec := f.do("POST", "/api/profiles/nobody/follow/", "", true); rec.Code != http.StatusNotFound {
		t.Fatalf("following nobody: %d %s", rec.Code, rec.Body)
	}
}

// The export holds the caller's favorites and follows, each read a page at
// a time from the key after the last of the page before.
func TestExportHoldsFavoritesAndFollows(t *testing.T) {
	t.Parallel()
	const page = 500
	favs := make([]articles.Favorite, page+3)
	for i := range favs {
		favs[i].ArticleID = fmt.Sprintf("0190f3f5-0000-7000-8000-%012d", i)
	}
	followed := []follows.Follow{{FolloweeID: "u1", Username: "one"}, {FolloweeID: "u2", Username: "two"}}
	var afters []string
	f := newFakeServer(t, func(f *fakeServer) {
		serveHistory(f, &history{head: 7})
		f.deps.Follows = f.reads
		f.reads.FavoritesOfFn = func(_ context.Context, userID, after string, limit int) ([]articles.Favorite, error) {
			afters = append(afters, after)
			i := 0
			if after != "" {
				i = slices.IndexFunc(favs, func(x articles.Favorite) bool { return x.ArticleID == after }) + 1
			}
			return favs[i:min(i+limit, len(favs))], nil
		}
		f.reads.FollowingOfFn = func(_ context.Context, userID, after string, limit int) ([]follows.Follow, error) {
			if userID != writerID || after != "" {
				t.Errorf("following of %q after %q", userID, after)
			}
			return followed, nil
		}
	})
	rec := f.do("GET", "/api/auth/me/export/", "", true)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	x := decode[api.Export](t, rec)
	if !reflect.DeepEqual(x.Favorites, favs) || !reflect.DeepEqual(x.Following, followed) {
		t.Fatalf("favorites %d, following %+v", len(x.Favorites), x.Following)
	}
	if !reflect.DeepEqual(afters, []string{"", favs[page-1].ArticleID}) {
		t.Fatalf("pages read after %q", afters)
	}
}
