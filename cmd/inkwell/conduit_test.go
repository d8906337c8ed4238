package main_test

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	main "inkwell/cmd/inkwell"
	"inkwell/projections/projectionstest"
)

// The Conduit surface, from RealWorld's published spec (its OpenAPI
// document and its Postman collection, read, not copied): every endpoint,
// its statuses and its shapes, on SQLite and on PostgreSQL.
func TestConduit(t *testing.T) {
	t.Parallel()
	// A front end in a browser calls from its own origin.
	cors := func(c *main.Config) { c.CORSOrigins = conduitOrigin }
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		testConduit(t, startServer(t, cors))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		projectionstest.PostgresURL(t)
		_, url := projectionstest.MustOpenPostgresURL(t)
		testConduit(t, startServer(t, cors, func(c *main.Config) { c.DatabaseURL = url }))
	})
}

const conduitOrigin = "https://conduit.example"

// conduit is a client of the Conduit surface of s.
type conduit struct{ s *server }

const conduitBase = "/conduit/api"

// do sends a request with the spec's `Token` scheme (none when token is "").
func (c conduit) do(t *testing.T, method, path, token string, body any, headers ...string) response {
	t.Helper()
	if token != "" {
		headers = append(headers, "Authorization", "Token "+token)
	}
	return c.s.request(t, method, conduitBase+path, "", body, headers...)
}

// conduitTime is the spec suite's timestamp: ISO 8601 with fractional
// seconds.
var conduitTime = regexp.MustCompile(`^\d{4,}-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d+(?:[+-][0-2]\d:[0-5]\d|Z)$`)

// keys fails unless m has exactly the keys want.
func keys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("%s: keys %v, want %v (%v)", what, got, want, m)
	}
}

// conduitErrors returns the fields of a Conduit error body, each of whose
// messages must be a list of strings.
func conduitErrors(t *testing.T, r response) map[string]any {
	t.Helper()
	m := r.Map(t)
	keys(t, "error body", m, "errors")
	errs, _ := m["errors"].(map[string]any)
	for f, msgs := range errs {
		if l, ok := msgs.([]any); !ok || len(l) == 0 {
			t.Fatalf("errors.%s: %v, want a list of messages", f, msgs)
		}
	}
	return errs
}

func checkConduitUser(t *testing.T, r response, username string) string {
	t.Helper()
	m := r.Map(t)
	keys(t, "user answer", m, "user")
	u := m["user"].(map[string]any)
	keys(t, "user", u, "email", "token", "username", "bio", "image")
	if u["username"] != username || u["token"] == "" {
		t.Fatalf("user %v", u)
	}
	return u["token"].(string)
}

func checkConduitProfile(t *testing.T, p map[string]any, username string, following bool) {
	t.Helper()
	keys(t, "profile", p, "username", "bio", "image", "following")
	if p["username"] != username || p["following"] != following {
		t.Fatalf("profile %v, want %s following %v", p, username, following)
	}
}

// checkConduitArticle checks an article's shape (with its body unless it is
// an item of a list) and returns it.
func checkConduitArticle(t *testing.T, a map[string]any, inList bool) map[string]any {
	t.Helper()
	want := []string{"slug", "title", "description", "tagList", "createdAt", "updatedAt", "favorited", "favoritesCount", "author"}
	if !inList {
		want = append(want, "body")
	}
	keys(t, "article", a, want...)
	for _, f := range []string{"createdAt", "updatedAt"} {
		if s, _ := a[f].(string); !conduitTime.MatchString(s) {
			t.Fatalf("%s %q is not the spec's timestamp", f, a[f])
		}
	}
	if _, ok := a["tagList"].([]any); !ok {
		t.Fatalf("tagList %v", a["tagList"])
	}
	if n, ok := a["favoritesCount"].(float64); !ok || n != float64(int(n)) {
		t.Fatalf("favoritesCount %v", a["favoritesCount"])
	}
	return a
}

func articleOf(t *testing.T, r response) map[string]any {
	t.Helper()
	m := r.Map(t)
	keys(t, "article answer", m, "article")
	return checkConduitArticle(t, m["article"].(map[string]any), false)
}

// articlesOf returns the articles of a list and its articlesCount.
func articlesOf(t *testing.T, r response) ([]map[string]any, int) {
	t.Helper()
	m := r.Map(t)
	keys(t, "articles answer", m, "articles", "articlesCount")
	var out []map[string]any
	for _, a := range m["articles"].([]any) {
		out = append(out, checkConduitArticle(t, a.(map[string]any), true))
	}
	return out, int(m["articlesCount"].(float64))
}

func testConduit(t *testing.T, s *server) {
	c := conduit{s}

	// A browser's preflight of the Conduit surface's PUT, with the headers
	// its clients send.
	pre := s.request(t, "OPTIONS", conduitBase+"/user", "", nil, "Origin", conduitOrigin,
		"Access-Control-Request-Method", "PUT", "Access-Control-Request-Headers", "authorization,content-type,x-requested-with")
	if pre.Header.Get("Access-Control-Allow-Origin") != conduitOrigin || !strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "PUT") {
		t.Fatalf("preflight of PUT /user: %d %v", pre.Status, pre.Header)
	}

	// Users: register, login by email, the current user, its update.
	register := func(name string) string {
		return checkConduitUser(t, expect(t, c.do(t, "POST", "/users", "", map[string]any{"user": map[string]any{
			"username": name, "email": name + "@example.com", "password": "password-" + name}}), http.StatusCreated), name)
	}
	alice, bob, carol := register("alice"), register("bob"), register("carol")
	taken := expect(t, c.do(t, "POST", "/users", "", map[string]any{"user": map[string]any{
		"username": "alice", "email": "other@example.com", "password": "password-other"}}), http.StatusUnprocessableEntity)
	if errs := conduitErrors(t, taken); errs["username"] == nil {
		t.Fatalf("a taken username: %v", errs)
	}
	expect(t, c.do(t, "POST", "/users", "", map[string]any{"user": map[string]any{"username": "dave", "password": "password-dave"}}), http.StatusUnprocessableEntity)
	expect(t, c.do(t, "POST", "/users", "", map[string]any{"user": map[string]any{
		"username": "dave", "email": "dave@example.com", "password": "short"}}), http.StatusUnprocessableEntity)

	login := func(email, password string) response {
		return c.do(t, "POST", "/users/login", "", map[string]any{"user": map[string]any{"email": email, "password": password}})
	}
	alice = checkConduitUser(t, expect(t, login("ALICE@example.com", "password-alice"), http.StatusOK), "alice")
	conduitErrors(t, expect(t, login("alice@example.com", "wrong-password"), http.StatusUnauthorized))
	expect(t, login("nobody@example.com", "password-alice"), http.StatusUnauthorized)
	expect(t, login("", "password-alice"), http.StatusUnprocessableEntity)

	me := expect(t, c.do(t, "GET", "/user", alice, nil), http.StatusOK)
	fresh := checkConduitUser(t, me, "alice")
	if me.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("a token cached: %v", me.Header)
	}
	if me.Map(t)["user"].(map[string]any)["email"] != "alice@example.com" {
		t.Fatalf("current user %s", me.Body)
	}
	checkConduitUser(t, expect(t, c.do(t, "GET", "/user", fresh, nil), http.StatusOK), "alice")
	checkConduitUser(t, expect(t, c.s.request(t, "GET", conduitBase+"/user", alice, nil), http.StatusOK), "alice") // Bearer
	r := expect(t, c.do(t, "GET", "/user", "", nil), http.StatusUnauthorized)
	conduitErrors(t, r)
	if r.Header.Get("WWW-Authenticate") == "" {
		t.Fatal("a 401 without WWW-Authenticate")
	}
	expect(t, c.do(t, "GET", "/user", "not-a-token", nil), http.StatusUnauthorized)

	upd := expect(t, c.do(t, "PUT", "/user", alice, map[string]any{"user": map[string]any{
		"email": "alice@example.com", "username": "alice", "bio": "I write.", "image": "https://example.com/a.png", "token": alice}}), http.StatusOK)
	checkConduitUser(t, upd, "alice")
	if u := upd.Map(t)["user"].(map[string]any); u["bio"] != "I write." || u["image"] != "https://example.com/a.png" {
		t.Fatalf("updated user %v", u)
	}
	if errs := conduitErrors(t, expect(t, c.do(t, "PUT", "/user", alice, map[string]any{"user": map[string]any{"email": "new@example.com"}}),
		http.StatusUnprocessableEntity)); errs["email"] == nil {
		t.Fatalf("an email change: %v", errs)
	}
	if errs := conduitErrors(t, expect(t, c.do(t, "PUT", "/user", alice, map[string]any{"user": map[string]any{"password": "new-password"}}),
		http.StatusUnprocessableEntity)); errs["password"] == nil {
		t.Fatalf("a password change: %v", errs)
	}
	// A settings form whose password field is left blank sends it empty:
	// that changes nothing, and the password still logs in.
	expect(t, c.do(t, "PUT", "/user", alice, map[string]any{"user": map[string]any{"bio": "I write.", "password": ""}}), http.StatusOK)
	expect(t, login("alice@example.com", "password-alice"), http.StatusOK)
	if errs := conduitErrors(t, expect(t, c.do(t, "PUT", "/user", alice, map[string]any{"user": map[string]any{"image": "not a url"}}),
		http.StatusUnprocessableEntity)); errs["image"] == nil {
		t.Fatalf("a bad image: %v", errs)
	}
	expect(t, c.do(t, "PUT", "/user", "", map[string]any{"user": map[string]any{"bio": "x"}}), http.StatusUnauthorized)

	// Profiles and follows.
	profile := func(r response) map[string]any {
		m := r.Map(t)
		keys(t, "profile answer", m, "profile")
		return m["profile"].(map[string]any)
	}
	p := profile(expect(t, c.do(t, "GET", "/profiles/alice", "", nil), http.StatusOK))
	checkConduitProfile(t, p, "alice", false)
	if p["bio"] != "I write." {
		t.Fatalf("profile %v", p)
	}
	checkConduitProfile(t, profile(expect(t, c.do(t, "POST", "/profiles/alice/follow", bob, map[string]any{"user": map[string]any{"email": "bob@example.com"}}), http.StatusOK)), "alice", true)
	checkConduitProfile(t, profile(expect(t, c.do(t, "GET", "/profiles/alice", bob, nil), http.StatusOK)), "alice", true)
	checkConduitProfile(t, profile(expect(t, c.do(t, "POST", "/profiles/carol/follow", bob, nil), http.StatusOK)), "carol", true)
	checkConduitProfile(t, profile(expect(t, c.do(t, "DELETE", "/profiles/carol/follow", bob, nil), http.StatusOK)), "carol", false)
	expect(t, c.do(t, "GET", "/profiles/nobody", "", nil), http.StatusNotFound)
	expect(t, c.do(t, "POST", "/profiles/nobody/follow", bob, nil), http.StatusNotFound)
	expect(t, c.do(t, "POST", "/profiles/alice/follow", "", nil), http.StatusUnauthorized)
	conduitErrors(t, expect(t, c.do(t, "POST", "/profiles/alice/follow", alice, nil), http.StatusUnprocessableEntity))

	// Articles: created published, its tags created from tagList.
	newArticle := map[string]any{"article": map[string]any{
		"title": "How to train your dragon", "description": "Ever wonder how?", "body": "Very carefully.", "tagList": []string{"training", "dragons"}}}
	created := expect(t, c.do(t, "POST", "/articles", alice, newArticle, "Idempotency-Key", "conduit-article-1"), http.StatusCreated)
	a := articleOf(t, created)
	slug := a["slug"].(string)
	if a["title"] != "How to train your dragon" || a["body"] != "Very carefully." || a["description"] != "Ever wonder how?" ||
		a["favorited"] != false || a["favoritesCount"] != float64(0) {
		t.Fatalf("created %v", a)
	}
	if tags := a["tagList"].([]any); len(tags) != 2 || tags[0] != "dragons" || tags[1] != "training" {
		t.Fatalf("tagList %v, want [dragons training]", tags)
	}
	checkConduitProfile(t, a["author"].(map[string]any), "alice", false)
	// The same request again (same Idempotency-Key) is the same article.
	if again := articleOf(t, expect(t, c.do(t, "POST", "/articles", alice, newArticle, "Idempotency-Key", "conduit-article-1"), http.StatusCreated)); again["slug"] != slug {
		t.Fatalf("a retried create made %v", again["slug"])
	}
	if errs := conduitErrors(t, expect(t, c.do(t, "POST", "/articles", alice, map[string]any{"article": map[string]any{"title": "", "description": "d", "body": "b"}}),
		http.StatusUnprocessableEntity)); errs["title"] == nil {
		t.Fatalf("an empty title: %v", errs)
	}
	expect(t, c.do(t, "POST", "/articles", alice, map[string]any{"article": map[string]any{"title": "No body"}}), http.StatusUnprocessableEntity)
	expect(t, c.do(t, "POST", "/articles", "", newArticle), http.StatusUnauthorized)
	second := articleOf(t, expect(t, c.do(t, "POST", "/articles", carol, map[string]any{"article": map[string]any{
		"title": "Carol's notes", "description": "Notes", "body": "Some notes.", "tagList": []string{"Dragons"}}}), http.StatusCreated))
	if tags := second["tagList"].([]any); len(tags) != 1 || tags[0] != "dragons" {
		t.Fatalf("a tag named in another case is the same tag: %v", tags)
	}

	got := articleOf(t, expect(t, c.do(t, "GET", "/articles/"+slug, "", nil), http.StatusOK))
	if got["slug"] != slug || got["body"] != "Very carefully." {
		t.Fatalf("got %v", got)
	}
	expect(t, c.do(t, "GET", "/articles/no-such-article", "", nil), http.StatusNotFound)

	list, count := articlesOf(t, expect(t, c.do(t, "GET", "/articles", "", nil), http.StatusOK))
	if count != 2 || len(list) != 2 || list[0]["slug"] != second["slug"] {
		t.Fatalf("all articles (%d): %v", count, list)
	}
	for query, want := range map[string][]string{
		"?tag=dragons":      {second["slug"].(string), slug},
		"?tag=training":     {slug},
		"?author=alice":     {slug},
		"?author=nobody":    {},
		"?limit=1":          {second["slug"].(string)},
		"?limit=1&offset=1": {slug},
		"?offset=2":         {},
		"?favorited=bob":    {},
	} {
		list, _ := articlesOf(t, expect(t, c.do(t, "GET", "/articles"+query, "", nil), http.StatusOK))
		var slugs []string
		for _, a := range list {
			slugs = append(slugs, a["slug"].(string))
		}
		if !slices.Equal(slugs, want) && !(len(slugs) == 0 && len(want) == 0) {
			t.Fatalf("articles%s: %v, want %v", query, slugs, want)
		}
	}
	for _, bad := range []string{"?limit=0", "?limit=101", "?offset=-1", "?limit=x", "?limit="} {
		conduitErrors(t, expect(t, c.do(t, "GET", "/articles"+bad, "", nil), http.StatusUnprocessableEntity))
	}

	// Updates: the author only; the slug stays.
	expect(t, c.do(t, "PUT", "/articles/"+slug, bob, map[string]any{"article": map[string]any{"body": "Mine now."}}), http.StatusForbidden)
	expect(t, c.do(t, "PUT", "/articles/"+slug, "", map[string]any{"article": map[string]any{"body": "Mine now."}}), http.StatusUnauthorized)
	expect(t, c.do(t, "PUT", "/articles/no-such-article", alice, map[string]any{"article": map[string]any{"body": "x"}}), http.StatusNotFound)
	up := articleOf(t, expect(t, c.do(t, "PUT", "/articles/"+slug, alice, map[string]any{"article": map[string]any{"body": "With two hands", "title": "Dragons, trained"}}), http.StatusOK))
	if up["body"] != "With two hands" || up["title"] != "Dragons, trained" || up["slug"] != slug {
		t.Fatalf("updated %v", up)
	}
	// A front end that sends the article back whole, as it read it: what
	// is not the writer's to change is ignored.
	up["body"], up["slug"], up["favoritesCount"] = "With both hands", "another-slug", 99
	if again := articleOf(t, expect(t, c.do(t, "PUT", "/articles/"+slug, alice, map[string]any{"article": up}), http.StatusOK)); again["body"] != "With both hands" ||
		again["slug"] != slug || again["favoritesCount"] != float64(0) {
		t.Fatalf("updated whole %v", again)
	}

	// Favorites.
	for range 2 {
		f := articleOf(t, expect(t, c.do(t, "POST", "/articles/"+slug+"/favorite", bob, nil), http.StatusOK))
		if f["favorited"] != true || f["favoritesCount"] != float64(1) {
			t.Fatalf("favorited %v", f)
		}
	}
	list, count = articlesOf(t, expect(t, c.do(t, "GET", "/articles?favorited=bob", "", nil), http.StatusOK))
	if count != 1 || len(list) != 1 || list[0]["favoritesCount"] != float64(1) || list[0]["favorited"] != false {
		t.Fatalf("favorited by bob, for nobody: %v", list)
	}
	list, _ = articlesOf(t, expect(t, c.do(t, "GET", "/articles?favorited=bob", bob, nil), http.StatusOK))
	if list[0]["favorited"] != true {
		t.Fatalf("favorited by bob, for bob: %v", list)
	}
	expect(t, c.do(t, "POST", "/articles/"+slug+"/favorite", "", nil), http.StatusUnauthorized)
	expect(t, c.do(t, "POST", "/articles/no-such-article/favorite", bob, nil), http.StatusNotFound)
	if f := articleOf(t, expect(t, c.do(t, "DELETE", "/articles/"+slug+"/favorite", bob, nil), http.StatusOK)); f["favorited"] != false || f["favoritesCount"] != float64(0) {
		t.Fatalf("unfavorited %v", f)
	}

	// The feed: bob follows alice.
	list, count = articlesOf(t, expect(t, c.do(t, "GET", "/articles/feed", bob, nil), http.StatusOK))
	if count != 1 || len(list) != 1 || list[0]["slug"] != slug {
		t.Fatalf("bob's feed (%d): %v", count, list)
	}
	checkConduitProfile(t, list[0]["author"].(map[string]any), "alice", true)
	if _, count := articlesOf(t, expect(t, c.do(t, "GET", "/articles/feed?limit=1&offset=1", bob, nil), http.StatusOK)); count != 1 {
		t.Fatalf("feed count %d", count)
	}
	if list, count := articlesOf(t, expect(t, c.do(t, "GET", "/articles/feed", carol, nil), http.StatusOK)); count != 0 || len(list) != 0 {
		t.Fatalf("carol's feed (%d): %v", count, list)
	}
	expect(t, c.do(t, "GET", "/articles/feed", "", nil), http.StatusUnauthorized)
	conduitErrors(t, expect(t, c.do(t, "GET", "/articles/feed?limit=0", bob, nil), http.StatusUnprocessableEntity))

	// Comments: integer ids, deleted by their author (or the article's).
	comment := func(r response) map[string]any {
		m := r.Map(t)
		keys(t, "comment answer", m, "comment")
		return m["comment"].(map[string]any)
	}
	checkComment := func(cm map[string]any, body, author string) int {
		t.Helper()
		keys(t, "comment", cm, "id", "createdAt", "updatedAt", "body", "author")
		id, ok := cm["id"].(float64)
		if !ok || id < 1 || id != float64(int(id)) || cm["body"] != body || !conduitTime.MatchString(cm["createdAt"].(string)) ||
			!conduitTime.MatchString(cm["updatedAt"].(string)) {
			t.Fatalf("comment %v", cm)
		}
		checkConduitProfile(t, cm["author"].(map[string]any), author, false)
		return int(id)
	}
	path := "/articles/" + slug + "/comments"
	first := checkComment(comment(expect(t, c.do(t, "POST", path, carol, map[string]any{"comment": map[string]any{"body": "Thank you so much!"}}), http.StatusOK)), "Thank you so much!", "carol")
	next := checkComment(comment(expect(t, c.do(t, "POST", path, carol, map[string]any{"comment": map[string]any{"body": "And again."}}), http.StatusOK)), "And again.", "carol")
	if next <= first {
		t.Fatalf("comment ids %d then %d", first, next)
	}
	conduitErrors(t, expect(t, c.do(t, "POST", path, carol, map[string]any{"comment": map[string]any{"body": ""}}), http.StatusUnprocessableEntity))
	expect(t, c.do(t, "POST", path, "", map[string]any{"comment": map[string]any{"body": "x"}}), http.StatusUnauthorized)
	expect(t, c.do(t, "POST", "/articles/no-such-article/comments", carol, map[string]any{"comment": map[string]any{"body": "x"}}), http.StatusNotFound)
	var cs struct {
		Comments []map[string]any `json:"comments"`
	}
	all := expect(t, c.do(t, "GET", path, "", nil), http.StatusOK)
	keys(t, "comments answer", all.Map(t), "comments")
	all.JSON(t, &cs)
	if len(cs.Comments) != 2 || checkComment(cs.Comments[0], "Thank you so much!", "carol") != first {
		t.Fatalf("comments %v", cs.Comments)
	}
	expect(t, c.do(t, "GET", "/articles/no-such-article/comments", "", nil), http.StatusNotFound)
	expect(t, c.do(t, "DELETE", path+"/"+strconv.Itoa(first), bob, nil), http.StatusForbidden)
	expect(t, c.do(t, "DELETE", path+"/"+strconv.Itoa(first), "", nil), http.StatusUnauthorized)
	expect(t, c.do(t, "DELETE", "/articles/"+second["slug"].(string)+"/comments/"+strconv.Itoa(first), carol, nil), http.StatusNotFound)
	expect(t, c.do(t, "DELETE", path+"/"+strconv.Itoa(first), carol, nil), http.StatusNoContent)
	expect(t, c.do(t, "DELETE", path+"/"+strconv.Itoa(first), carol, nil), http.StatusNotFound)
	expect(t, c.do(t, "DELETE", path+"/"+strconv.Itoa(next), alice, nil), http.StatusNoContent) // the article's author
	expect(t, c.do(t, "DELETE", path+"/not-a-number", carol, nil), http.StatusNotFound)
	expect(t, c.do(t, "GET", path, "", nil), http.StatusOK).JSON(t, &cs)
	if len(cs.Comments) != 0 {
		t.Fatalf("comments after the deletes %v", cs.Comments)
	}

	// Tags.
	var tags struct {
		Tags []string `json:"tags"`
	}
	tr := expect(t, c.do(t, "GET", "/tags", "", nil), http.StatusOK)
	keys(t, "tags answer", tr.Map(t), "tags")
	tr.JSON(t, &tags)
	slices.Sort(tags.Tags)
	if !slices.Equal(tags.Tags, []string{"dragons", "training"}) {
		t.Fatalf("tags %v", tags.Tags)
	}

	// Deletes: the author only.
	expect(t, c.do(t, "DELETE", "/articles/"+slug, bob, nil), http.StatusForbidden)
	expect(t, c.do(t, "DELETE", "/articles/"+slug, "", nil), http.StatusUnauthorized)
	expect(t, c.do(t, "DELETE", "/articles/"+slug, alice, nil), http.StatusNoContent)
	expect(t, c.do(t, "GET", "/articles/"+slug, "", nil), http.StatusNotFound)
	expect(t, c.do(t, "DELETE", "/articles/"+slug, alice, nil), http.StatusNotFound)

	// The same account on Inkwell's own API, which the Conduit surface
	// does not change: the article written there is there.
	var own struct {
		Items []map[string]any `json:"items"`
	}
	expect(t, s.request(t, "GET", "/api/articles/?author=carol", "", nil), http.StatusOK).JSON(t, &own)
	if len(own.Items) != 1 || own.Items[0]["is_published"] != true || own.Items[0]["excerpt"] != "Notes" {
		t.Fatalf("carol's article on /api: %v", own.Items)
	}
}
