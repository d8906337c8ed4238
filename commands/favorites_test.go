package commands_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"inkwell/commands"
	"inkwell/domain"
)

// streamLen returns how many events stream s holds.
func (f *fixture) streamLen(t *testing.T, s domain.StreamID) int {
	t.Helper()
	recs, _, err := f.store.Load(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// Favoriting twice, even concurrently, is one favorite; unfavoriting what
// is not favored is a success that records nothing; someone else's draft
// and an unknown article are not found.
func TestFavoriteIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	author := domain.Actor{ID: f.mustRegister(t, "author", "author@example.com").ID}
	reader := domain.Actor{ID: f.mustRegister(t, "reader", "reader@example.com").ID}
	pub, err := f.cmds.CreateArticle.Handle(ctx, commands.CreateArticle{Actor: author, Input: domain.ArticleInput{Title: "Out", Content: "words", IsPublished: true}})
	if err != nil {
		t.Fatal(err)
	}
	draft, err := f.cmds.CreateArticle.Handle(ctx, commands.CreateArticle{Actor: author, Input: domain.ArticleInput{Title: "In", Content: "words"}})
	if err != nil {
		t.Fatal(err)
	}
	stream := domain.FavoriteStream(reader.ID, pub.ID)

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := f.cmds.FavoriteArticle.Handle(ctx, commands.FavoriteArticle{Actor: reader, ArticleID: pub.ID})
			if err == nil && res.ID != pub.ID {
				t.Errorf("result names %q, want the article %q", res.ID, pub.ID)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a concurrent favorite: %v", err)
		}
	}
	if n := f.streamLen(t, stream); n != 1 {
		t.Fatalf("8 concurrent favorites recorded %d events, want 1", n)
	}

	for _, c := range []struct {
		name string
		run  func() (commands.Result, error)
		code string
		n    int // events of the pair's stream after it
	}{
		{"unfavorite", func() (commands.Result, error) {
			return f.cmds.UnfavoriteArticle.Handle(ctx, commands.UnfavoriteArticle{Actor: reader, ArticleID: pub.ID})
		}, "", 2},
		{"unfavorite again: nothing", func() (commands.Result, error) {
			return f.cmds.UnfavoriteArticle.Handle(ctx, commands.UnfavoriteArticle{Actor: reader, ArticleID: pub.ID})
		}, "", 2},
		{"favorite again", func() (commands.Result, error) {
			return f.cmds.FavoriteArticle.Handle(ctx, commands.FavoriteArticle{Actor: reader, ArticleID: pub.ID})
		}, "", 3},
		{"someone else's draft", func() (commands.Result, error) {
			return f.cmds.FavoriteArticle.Handle(ctx, commands.FavoriteArticle{Actor: reader, ArticleID: draft.ID})
		}, domain.ENOTFOUND, 3},
		{"an unknown article", func() (commands.Result, error) {
			return f.cmds.FavoriteArticle.Handle(ctx, commands.FavoriteArticle{Actor: reader, ArticleID: "not-an-id"})
		}, domain.ENOTFOUND, 3},
		{"anonymous", func() (commands.Result, error) {
			return f.cmds.FavoriteArticle.Handle(ctx, commands.FavoriteArticle{ArticleID: pub.ID})
		}, domain.EUNAUTHORIZED, 3},
	} {
		_, err := c.run()
		if got := domain.ErrorCode(err); got != c.code {
			t.Fatalf("%s: %v, want code %q", c.name, err, c.code)
		}
		if n := f.streamLen(t, stream); n != c.n {
			t.Fatalf("%s: the favorite's stream has %d events, want %d", c.name, n, c.n)
		}
	}
	if n := f.streamLen(t, domain.FavoriteStream(reader.ID, draft.ID)); n != 0 {
		t.Fatalf("a refused favorite recorded %d events", n)
	}
}

// Following twice, even concurrently, is one follow; nobody follows
// themselves (422 naming username); a deleted or unknown account is not
// found.
func TestFollowRules(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	alice := domain.Actor{ID: f.mustRegister(t, "alice", "alice@example.com").ID}
	bob := f.mustRegister(t, "bob", "bob@example.com").ID
	gone := f.mustRegister(t, "gone", "gone@example.com").ID
	admin := f.superuser(t, "admin")
	if _, err := f.cmds.DeleteUser.Handle(ctx, commands.DeleteUser{Actor: admin, ID: gone}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.cmds.FollowUser.Handle(ctx, commands.FollowUser{Actor: alice, FolloweeID: bob}); err != nil {
				t.Errorf("a concurrent follow: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := f.streamLen(t, domain.FollowStream(alice.ID, bob)); n != 1 {
		t.Fatalf("6 concurrent follows recorded %d events, want 1", n)
	}
	for _, c := range []struct {
		name     string
		followee string
		unfollow bool
		code     string
		field    string
	}{
		{name: "oneself", followee: alice.ID, code: domain.EINVALID, field: "username"},
		{name: "a deleted account", followee: gone, code: domain.ENOTFOUND},
		{name: "an unknown account", followee: "0190aaaa-0000-7000-8000-000000000009", code: domain.ENOTFOUND},
		{name: "unfollow", followee: bob, unfollow: true},
		{name: "unfollow again", followee: bob, unfollow: true},
	} {
		var err error
		if c.unfollow {
			_, err = f.cmds.UnfollowUser.Handle(ctx, commands.UnfollowUser{Actor: alice, FolloweeID: c.followee})
		} else {
			_, err = f.cmds.FollowUser.Handle(ctx, commands.FollowUser{Actor: alice, FolloweeID: c.followee})
		}
		if got := domain.ErrorCode(err); got != c.code {
			t.Fatalf("%s: %v, want code %q", c.name, err, c.code)
		}
		if c.field != "" {
			if _, ok := domain.ErrorFields(err)[c.field]; !ok {
				t.Fatalf("%s: %v does not name %s", c.name, err, c.field)
			}
		}
	}
	if n := f.streamLen(t, domain.FollowStream(alice.ID, bob)); n != 2 {
		t.Fatalf("follow, unfollow, unfollow again: %d events, want 2", n)
	}
	if n := f.streamLen(t, domain.FollowStream(alice.ID, alice.ID)); n != 0 {
		t.Fatalf("a refused follow recorded %d events", n)
	}
}

// A follow names its followee by username as well as by id: the log's claim
// on the username resolves it, in any case; a username nobody holds, or
// one too long to be anybody's, is not found.
func TestFollowByUsername(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	alice := domain.Actor{ID: f.mustRegister(t, "alice", "alice@example.com").ID}
	bob := f.mustRegister(t, "bob", "bob@example.com").ID
	res, err := f.cmds.FollowUser.Handle(ctx, commands.FollowUser{Actor: alice, FolloweeUsername: "BoB"})
	if err != nil || res.ID != bob {
		t.Fatalf("follow BoB: %+v, %v; want bob's id %s", res, err, bob)
	}
	if n := f.streamLen(t, domain.FollowStream(alice.ID, bob)); n != 1 {
		t.Fatalf("a follow by username recorded %d events, want 1", n)
	}
	if _, err := f.cmds.FollowUser.Handle(ctx, commands.FollowUser{Actor: alice, FolloweeUsername: "alice"}); domain.ErrorCode(err) != domain.EINVALID {
		t.Errorf("following oneself by username: %v, want EINVALID", err)
	}
	for _, name := range []string{"nobody", strings.Repeat("b", domain.MaxUsernameLen+1)} {
		if _, err := f.cmds.FollowUser.Handle(ctx, commands.FollowUser{Actor: alice, FolloweeUsername: name}); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("following %.20q: %v, want ENOTFOUND", name, err)
		}
	}
	if _, err := f.cmds.UnfollowUser.Handle(ctx, commands.UnfollowUser{Actor: alice, FolloweeUsername: "bob"}); err != nil {
		t.Fatalf("unfollow by username: %v", err)
	}
	if n := f.streamLen(t, domain.FollowStream(alice.ID, bob)); n != 2 {
		t.Fatalf("follow, then unfollow by username: %d events, want 2", n)
	}
}
