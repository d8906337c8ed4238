package domain_test

import (
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

func TestFavorite(t *testing.T) {
	t.Parallel()
	added := &domain.FavoriteAdded{UserID: "other", ArticleID: "a1", AuthorID: "author", At: now}
	removed := &domain.FavoriteRemoved{UserID: "other", ArticleID: "a1"}
	favored := []domain.Event{&domain.FavoriteAdded{UserID: "other", ArticleID: "a1"}}
	add := func(actor domain.Actor, a *domain.Article) func(*domain.Favorite) (domain.Event, error) {
		return func(f *domain.Favorite) (domain.Event, error) { return f.Add(actor, a, now) }
	}
	remove := func(actor domain.Actor, a *domain.Article) func(*domain.Favorite) (domain.Event, error) {
		return func(f *domain.Favorite) (domain.Event, error) { return f.Remove(actor, a) }
	}
	checkDecisions(t, domain.ErrorCode, []decision[domain.Favorite, string]{
		{name: "a published article", when: add(other, article(true, false)), then: added},
		{name: "favoriting twice is one favorite", given: favored, when: add(other, article(true, false))},
		{name: "someone else's draft is not found", when: add(other, article(false, false)), err: domain.ENOTFOUND},
		{name: "one's own draft", when: add(author, article(false, false)),
			then: &domain.FavoriteAdded{UserID: "author", ArticleID: "a1", AuthorID: "author", At: now}},
		{name: "a deleted article is not found", when: add(other, article(true, true)), err: domain.ENOTFOUND},
		{name: "no article is not found", when: add(other, &domain.Article{}), err: domain.ENOTFOUND},
		{name: "anonymous", when: add(nobody, article(true, false)), err: domain.EUNAUTHORIZED},
		{name: "unfavorite", given: favored, when: remove(other, article(true, false)), then: removed},
		{name: "unfavorite what is not favored: nothing", when: remove(other, article(true, false))},
		{name: "unfavorite a deleted article one favors", given: favored, when: remove(other, article(true, true)), then: removed},
		{name: "unfavorite a draft one cannot see", when: remove(other, article(false, false)), err: domain.ENOTFOUND},
		{name: "unfavorite anonymous", given: favored, when: remove(nobody, article(true, false)), err: domain.EUNAUTHORIZED},
	})
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
	added := &domain.FollowAdded{FollowerID: "other", FolloweeID: "author", At: now}
	removed := &domain.FollowRemoved{FollowerID: "other", FolloweeID: "author"}
	following := []domain.Event{&domain.FollowAdded{FollowerID: "other", FolloweeID: "author"}}
	follow := func(actor domain.Actor, u *domain.User) func(*domain.Follow) (domain.Event, error) {
		return func(f *domain.Follow) (domain.Event, error) { return f.Add(actor, u, now) }
	}
	unfollow := func(actor domain.Actor, u *domain.User) func(*domain.Follow) (domain.Event, error) {
		return func(f *domain.Follow) (domain.Event, error) { return f.Remove(actor, u) }
	}
	checkDecisions(t, domain.ErrorCode, []decision[domain.Follow, string]{
		{name: "follow", when: follow(other, user("author", false)), then: added},
		{name: "following twice is one follow", given: following, when: follow(other, user("author", false))},
		{name: "oneself is invalid", when: follow(other, user("other", false)), err: domain.EINVALID},
		{name: "a deleted user is not found", when: follow(other, user("author", true)), err: domain.ENOTFOUND},
		{name: "an unknown user is not found", when: follow(other, &domain.User{}), err: domain.ENOTFOUND},
		{name: "anonymous", when: follow(nobody, user("author", false)), err: domain.EUNAUTHORIZED},
		{name: "unfollow", given: following, when: unfollow(other, user("author", false)), then: removed},
		{name: "unfollow whom one does not follow: nothing", when: unfollow(other, user("author", false))},
		{name: "unfollow a deleted user one follows", given: following, when: unfollow(other, user("author", true)), then: removed},
		{name: "unfollow an unknown user", when: unfollow(other, &domain.User{}), err: domain.ENOTFOUND},
	})
	t.Run("oneself: the error names username", func(t *testing.T) {
		t.Parallel()
		_, err := new(domain.Follow).Add(other, user("other", false), now)
		if _, ok := domain.ErrorFields(err)["username"]; !ok {
			t.Fatalf("error %v does not name username", err)
		}
	})
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
