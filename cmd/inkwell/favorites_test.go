package main_test

import (
	"net/http"
	"testing"
	"time"

	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/follows"
	"inkwell/testkit"
)

// Favorites, follows and the feed through a real server: idempotent
// favorites and follows, favorited and favorites_count in every article
// answer, the favorited list, profiles, the feed newest first, the rules'
// refusals, and a replay that rebuilds the same rows.
func TestFavoritesFollowsAndFeed(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice, bob := s.registerUser(t, "alice"), s.registerUser(t, "bob")
	first := s.createArticle(t, alice.AccessToken, map[string]any{"title": "First", "content": "words", "is_published": true})
	draft := s.createArticle(t, alice.AccessToken, map[string]any{"title": "Draft", "content": "words"})
	ref := "/api/articles/" + first["id"].(string) + "/"

	for range 2 {
		var a map[string]any
		expect(t, s.request(t, "POST", ref+"favorite/", bob.AccessToken, nil), http.StatusOK).JSON(t, &a)
		if a["favorited"] != true || a["favorites_count"] != float64(1) {
			t.Fatalf("after a favorite: favorited %v, favorites_count %v", a["favorited"], a["favorites_count"])
		}
	}
	expect(t, s.request(t, "POST", "/api/articles/"+draft["id"].(string)+"/favorite/", bob.AccessToken, nil), http.StatusNotFound)
	expect(t, s.request(t, "POST", ref+"favorite/", "", nil), http.StatusUnauthorized)
	var anon map[string]any
	expect(t, s.request(t, "GET", ref, "", nil), http.StatusOK).JSON(t, &anon)
	if anon["favorited"] != false || anon["favorites_count"] != float64(1) {
		t.Fatalf("for nobody: favorited %v, favorites_count %v", anon["favorited"], anon["favorites_count"])
	}
	var list struct {
		Items []map[string]any `json:"items"`
		Count int              `json:"count"`
	}
	expect(t, s.request(t, "GET", "/api/articles/?favorited=bob", "", nil), http.StatusOK).JSON(t, &list)
	if list.Count != 1 || len(list.Items) != 1 || list.Items[0]["title"] != "First" {
		t.Fatalf("favorited=bob: %+v", list)
	}
	expect(t, s.request(t, "GET", "/api/articles/?favorited=bob&ordering=title", "", nil), http.StatusUnprocessableEntity)

	// Follows and profiles.
	var p map[string]any
	expect(t, s.request(t, "POST", "/api/profiles/alice/follow/", bob.AccessToken, nil), http.StatusOK).JSON(t, &p)
	expect(t, s.request(t, "POST", "/api/profiles/ALICE/follow/", bob.AccessToken, nil), http.StatusOK).JSON(t, &p)
	if p["username"] != "alice" || p["following"] != true {
		t.Fatalf("after a follow: %v", p)
	}
	expect(t, s.request(t, "GET", "/api/profiles/alice/", "", nil), http.StatusOK).JSON(t, &p)
	if p["following"] != false {
		t.Fatalf("for nobody: %v", p)
	}
	r := expect(t, s.request(t, "POST", "/api/profiles/alice/follow/", alice.AccessToken, nil), http.StatusUnprocessableEntity)
	if errs, _ := r.Map(t)["errors"].(map[string]any); errs["username"] == nil {
		t.Fatalf("following oneself: %s", r.Body)
	}
	expect(t, s.request(t, "POST", "/api/profiles/nobody/follow/", bob.AccessToken, nil), http.StatusNotFound)
	expect(t, s.request(t, "GET", "/api/articles/feed/", "", nil), http.StatusUnauthorized)

	// The feed, newest published first.
	s.createArticle(t, alice.AccessToken, map[string]any{"title": "Second", "content": "words", "is_published": true})
	expect(t, s.request(t, "GET", "/api/articles/feed/?page_size=1", bob.AccessToken, nil), http.StatusOK).JSON(t, &list)
	if list.Count != 2 || len(list.Items) != 1 || list.Items[0]["title"] != "Second" {
		t.Fatalf("bob's feed: %+v", list)
	}
	expect(t, s.request(t, "GET", "/api/articles/feed/", alice.AccessToken, nil), http.StatusOK).JSON(t, &list)
	if list.Count != 0 {
		t.Fatalf("alice's feed: %+v", list)
	}

	// A replay rebuilds the same rows.
	before := projectionstest.Snapshot(t, s.DB, articles.ReadModel{}, follows.ReadModel{})
	if _, stderr, err := inkwell(t, s.Config.DataDir, "replay"); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	projectionstest.SameRows(t, "after a replay", projectionstest.Snapshot(t, s.DB, articles.ReadModel{}, follows.ReadModel{}), before)

	// Unfavorite and unfollow, each twice.
	for range 2 {
		var a map[string]any
		expect(t, s.request(t, "DELETE", ref+"favorite/", bob.AccessToken, nil), http.StatusOK).JSON(t, &a)
		if a["favorited"] != false || a["favorites_count"] != float64(0) {
			t.Fatalf("after an unfavorite: %v %v", a["favorited"], a["favorites_count"])
		}
		expect(t, s.request(t, "DELETE", "/api/profiles/alice/follow/", bob.AccessToken, nil), http.StatusOK).JSON(t, &p)
		if p["following"] != false {
			t.Fatalf("after an unfollow: %v", p)
		}
	}
	expect(t, s.request(t, "GET", "/api/articles/feed/", bob.AccessToken, nil), http.StatusOK).JSON(t, &list)
	if list.Count != 0 {
		t.Fatalf("bob's feed after the unfollow: %+v", list)
	}
}

// A deleted user's favorites and follows go (the counts with them), and so
// do an erased user's; a favorite or follow of a deleted user is a 404.
func TestDeletedUsersTakeTheirFavoritesAndFollows(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.createAdmin(t, "admin")
	alice, bob, carol := s.registerUser(t, "alice"), s.registerUser(t, "bob"), s.registerUser(t, "carol")
	art := s.createArticle(t, alice.AccessToken, map[string]any{"title": "Liked", "content": "words", "is_published": true})
	ref := "/api/articles/" + art["id"].(string) + "/"
	for _, who := range []tokens{bob, carol} {
		expect(t, s.request(t, "POST", ref+"favorite/", who.AccessToken, nil), http.StatusOK)
		expect(t, s.request(t, "POST", "/api/profiles/alice/follow/", who.AccessToken, nil), http.StatusOK)
	}
	expect(t, s.request(t, "POST", "/api/profiles/bob/follow/", alice.AccessToken, nil), http.StatusOK)
	count := func() float64 {
		var a map[string]any
		expect(t, s.request(t, "GET", ref, "", nil), http.StatusOK).JSON(t, &a)
		return a["favorites_count"].(float64)
	}
	if n := count(); n != 2 {
		t.Fatalf("favorites_count %v, want 2", n)
	}
	expect(t, s.request(t, "DELETE", "/api/users/"+s.userID(t, bob.AccessToken)+"/", admin.AccessToken, nil), http.StatusNoContent)
	expect(t, s.request(t, "POST", "/api/users/"+s.userID(t, carol.AccessToken)+"/erase/", admin.AccessToken, nil), http.StatusNoContent)
	testkit.WaitFor(t, 10*time.Second, "the favorites of the deleted and the erased gone", func() bool { return count() == 0 })
	expect(t, s.request(t, "GET", "/api/profiles/bob/", "", nil), http.StatusNotFound)
	expect(t, s.request(t, "POST", "/api/profiles/bob/follow/", alice.AccessToken, nil), http.StatusNotFound)
	var list struct {
		Count int `json:"count"`
	}
	expect(t, s.request(t, "GET", "/api/articles/?favorited=carol", "", nil), http.StatusOK).JSON(t, &list)
	if list.Count != 0 {
		t.Fatalf("an erased user's favorites: %d", list.Count)
	}
}
