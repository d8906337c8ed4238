package domain_test

import (
	"reflect"
	"testing"

	"inkwell/domain"
)

// article returns an article folded from events: created by "author",
// published or not, and deleted if asked.
func article(published, deleted bool) *domain.Article {
	var a domain.Article
	a.Apply(domain.Record{Version: 1, Event: created(published)})
	if deleted {
		a.Apply(domain.Record{Version: 2, Event: &domain.ArticleDeleted{}})
	}
	return &a
}

func favored(on bool) *domain.Favorite {
	var f domain.Favorite
	if on {
		f.Apply(domain.Record{Version: 1, Event: &domain.FavoriteAdded{UserID: "other", ArticleID: "a1"}})
	}
	return &f
}

func TestFavorite(t *testing.T) {
	t.Parallel()
	added := &domain.FavoriteAdded{UserID: "other", ArticleID: "a1", AuthorID: "author", At: now}
	removed := &domain.FavoriteRemoved{UserID: "other", ArticleID: "a1"}
	tests := []struct {
		name    string
		fav     *domain.Favorite
		article *domain.Article
		actor   domain.Actor
		remove  bool
		then    domain.Event
		code    string
	}{
		{name: "a published article", fav: favored(false), article: article(true, false), actor: other, then: added},
		{name: "favoriting twice is one favorite", fav: favored(true), article: article(true, false), actor: other},
		{name: "someone else's draft is not found", fav: favored(false), article: article(false, false), actor: other, code: domain.ENOTFOUND},
		{name: "one's own draft", fav: favored(false), article: article(false, false), actor: author,
			then: &domain.FavoriteAdded{UserID: "author", ArticleID: "a1", AuthorID: "author", At: now}},
		{name: "a deleted article is not found", fav: favored(false), article: article(true, true), actor: other, code: domain.ENOTFOUND},
		{name: "no article is not found", fav: favored(false), article: &domain.Article{}, actor: other, code: domain.ENOTFOUND},
		{name: "anonymous", fav: favored(false), article: article(true, false), actor: nobody, code: domain.EUNAUTHORIZED},
		{name: "unfavorite", fav: favored(true), article: article(true, false), actor: other, remove: true, then: removed},
		{name: "unfavorite what is not favored: nothing", fav: favored(false), article: article(true, false), actor: other, remove: true},
		{name: "unfavorite a deleted article one favors", fav: favored(true), article: article(true, true), actor: other, remove: true, then: removed},
		{name: "unfavorite a draft one cannot see", fav: favored(false), article: article(false, false), actor: other, remove: true, code: domain.ENOTFOUND},
		{name: "unfavorite anonymous", fav: favored(true), article: article(true, false), actor: nobody, remove: true, code: domain.EUNAUTHORIZED},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ev domain.Event
			var err error
			if tc.remove {
				ev, err = tc.fav.Remove(tc.actor, tc.article)
			} else {
				ev, err = tc.fav.Add(tc.actor, tc.article, now)
			}
			if got := domain.ErrorCode(err); got != tc.code {
				t.Fatalf("error %v, want code %q", err, tc.code)
			}
			if tc.then == nil && ev != nil || tc.then != nil && !reflect.DeepEqual(ev, tc.then) {
				t.Fatalf("event %#v, want %#v", ev, tc.then)
			}
		})
	}
}

func user(id string, deleted bool) *domain.User {
	var u domain.User
	u.Apply(domain.Record{Version: 1, Event: &domain.UserRegistered{UserID: id, Username: id, IsActive: true}})
	if deleted {
		u.Apply(domain.Record{Version: 2, Event: &domain.UserDeleted{}})
	}
	return &u
}

func TestFollow(t *testing.T) {
	t.Parallel()
	following := func(on bool) *domain.Follow {
		var f domain.Follow
		if on {
			f.Apply(domain.Record{Version: 1, Event: &domain.FollowAdded{FollowerID: "other", FolloweeID: "author"}})
		}
		return &f
	}
	added := &domain.FollowAdded{FollowerID: "other", FolloweeID: "author", At: now}
	removed := &domain.FollowRemoved{FollowerID: "other", FolloweeID: "author"}
	tests := []struct {
		name     string
		follow   *domain.Follow
		followee *domain.User
		actor    domain.Actor
		remove   bool
		then     domain.Event
		code     string
		fields   []string
	}{
		{name: "follow", follow: following(false), followee: user("author", false), actor: other, then: added},
		{name: "following twice is one follow", follow: following(true), followee: user("author", false), actor: other},
		{name: "oneself: invalid, naming username", follow: following(false), followee: user("other", false), actor: other, code: domain.EINVALID, fields: []string{"username"}},
		{name: "a deleted user is not found", follow: following(false), followee: user("author", true), actor: other, code: domain.ENOTFOUND},
		{name: "an unknown user is not found", follow: following(false), followee: &domain.User{}, actor: other, code: domain.ENOTFOUND},
		{name: "anonymous", follow: following(false), followee: user("author", false), actor: nobody, code: domain.EUNAUTHORIZED},
		{name: "unfollow", follow: following(true), followee: user("author", false), actor: other, remove: true, then: removed},
		{name: "unfollow whom one does not follow: nothing", follow: following(false), followee: user("author", false), actor: other, remove: true},
		{name: "unfollow a deleted user one follows", follow: following(true), followee: user("author", true), actor: other, remove: true, then: removed},
		{name: "unfollow an unknown user", follow: following(false), followee: &domain.User{}, actor: other, remove: true, code: domain.ENOTFOUND},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ev domain.Event
			var err error
			if tc.remove {
				ev, err = tc.follow.Remove(tc.actor, tc.followee)
			} else {
				ev, err = tc.follow.Add(tc.actor, tc.followee, now)
			}
			if got := domain.ErrorCode(err); got != tc.code {
				t.Fatalf("error %v, want code %q", err, tc.code)
			}
			for _, f := range tc.fields {
				if _, ok := domain.ErrorFields(err)[f]; !ok {
					t.Fatalf("error %v does not name %s", err, f)
				}
			}
			if tc.then == nil && ev != nil || tc.then != nil && !reflect.DeepEqual(ev, tc.then) {
				t.Fatalf("event %#v, want %#v", ev, tc.then)
			}
		})
	}
}

func TestPairStreamsAreValidAndDeterministic(t *testing.T) {
	t.Parallel()
	u, a := "0190aaaa-0000-7000-8000-000000000001", "0190bbbb-0000-7000-8000-000000000002"
	for _, s := range []domain.StreamID{domain.FavoriteStream(u, a), domain.FollowStream(u, a)} {
		if !s.Valid() {
			t.Errorf("%s is not a valid stream", s)
		}
	}
	if domain.FavoriteStream(u, a) != domain.FavoriteStream(u, a) || domain.FollowStream(u, a) == domain.FollowStream(a, u) {
		t.Error("a pair's stream is not its own")
	}
}
