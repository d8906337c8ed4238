package main_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// The tutorial's article flows, with its own requests.
func TestTutorialArticleFlows(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.createAdmin(t, "admin")
	expect(t, s.request(t, "POST", "/api/categories/", admin.AccessToken, map[string]string{"name": "Tutorials"}), 201)
	john := s.registerUser(t, "johndoe")
	jane := s.registerUser(t, "janedoe")

	// Missing token.
	s.appendsNothing(t, "a create without a token", func() {
		expect(t, s.request(t, "POST", "/api/article/", "", `{"title": "Test"}`), 401)
	})

	// Create (authenticated), exactly as the tutorial writes it.
	created := expect(t, s.request(t, "POST", "/api/article/", john.AccessToken, `{
    "title": "My Article",
    "content": "Article content...",
    "category": 1
  }`), 201).Map(t)
	if created["title"] != "My Article" || created["number"] != float64(1) || created["slug"] != "my-article" {
		t.Fatalf("created %v", created)
	}
	if a, _ := created["author"].(map[string]any); a["username"] != "johndoe" {
		t.Fatalf("author %v", created["author"])
	}
	if c, _ := created["category"].(map[string]any); c["name"] != "Tutorials" {
		t.Fatalf("category %v", created["category"])
	}
	expect(t, s.request(t, "POST", "/api/article/1/publish/", john.AccessToken, nil), 200)

	// Public read.
	list := expect(t, s.request(t, "GET", "/api/article/", "", nil), 200).Map(t)
	if list["count"] != float64(1) {
		t.Fatalf("public list %v", list)
	}
	expect(t, s.request(t, "GET", "/api/article/1/", "", nil), 200)

	// Owner-only update and delete: a regular user trying to delete gets 403.
	s.appendsNothing(t, "another user's delete", func() {
		expect(t, s.request(t, "DELETE", "/api/article/1/", jane.AccessToken, nil), 403)
	})
	s.appendsNothing(t, "another user's update", func() {
		expect(t, s.request(t, "PATCH", "/api/article/1/", jane.AccessToken, map[string]string{"title": "Mine now"}), 403)
	})
	upd := expect(t, s.request(t, "PATCH", "/api/article/1/", john.AccessToken, map[string]string{"title": "My Article, revised"}), 200).Map(t)
	if upd["title"] != "My Article, revised" {
		t.Fatalf("updated %v", upd)
	}
	// Admin delete.
	expect(t, s.request(t, "DELETE", "/api/article/1/", admin.AccessToken, nil), 204)
	expect(t, s.request(t, "GET", "/api/article/1/", "", nil), 404)
	s.appendsNothing(t, "a command on a deleted article", func() {
		expect(t, s.request(t, "PATCH", "/api/article/1/", john.AccessToken, map[string]string{"title": "Back"}), 404)
	})
}

// Every article endpoint for each kind of caller, on a published article and
// on a draft; a refused write appends nothing.
func TestArticleAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	author := s.registerUser(t, "author").AccessToken
	other := s.registerUser(t, "other").AccessToken
	staff := s.createAdmin(t, "staff").AccessToken
	callers := []struct{ name, token string }{{"anonymous", ""}, {"author", author}, {"other", other}, {"staff", staff}}

	newArticle := func(published bool) string {
		a := s.createArticle(t, author, map[string]any{"title": "Matrix", "content": "x", "is_published": published})
		return a["id"].(string)
	}
	type endpoint struct {
		method, path string
		body         any
		// want is the status for anonymous, author, other, staff.
		wantPublished, wantDraft [4]int
		write                    bool
	}
	endpoints := []endpoint{
		{"GET", "/api/articles/%s/", nil, [4]int{200, 200, 200, 200}, [4]int{404, 200, 404, 200}, false},
		{"GET", "/api/articles/%s/history/", nil, [4]int{401, 200, 403, 200}, [4]int{401, 200, 404, 200}, false},
		{"PATCH", "/api/articles/%s/", map[string]string{"content": "changed"}, [4]int{401, 200, 403, 200}, [4]int{401, 200, 404, 200}, true},
		{"POST", "/api/articles/%s/publish/", nil, [4]int{401, 200, 403, 200}, [4]int{401, 200, 404, 200}, true},
		{"POST", "/api/articles/%s/unpublish/", nil, [4]int{401, 200, 403, 200}, [4]int{401, 200, 404, 200}, true},
		{"DELETE", "/api/articles/%s/", nil, [4]int{401, 204, 403, 204}, [4]int{401, 204, 404, 204}, true},
	}
	for _, ep := range endpoints {
		for _, published := range []bool{true, false} {
			want := ep.wantDraft
			state := "draft"
			if published {
				want, state = ep.wantPublished, "published"
			}
			for i, c := range callers {
				t.Run(fmt.Sprintf("%s %s on %s as %s", ep.method, strings.TrimSuffix(ep.path, "%s/"), state, c.name), func(t *testing.T) {
					id := newArticle(published)
					before := s.head(t)
					r := s.request(t, ep.method, fmt.Sprintf(ep.path, id), c.token, ep.body)
					if r.Status != want[i] {
						t.Fatalf("status %d, want %d: %s", r.Status, want[i], r.Body)
					}
					if r.Status >= 400 && ep.write && s.head(t) != before {
						t.Fatalf("a refused %s appended events", ep.method)
					}
				})
			}
		}
	}
	t.Run("create", func(t *testing.T) {
		s.appendsNothing(t, "an anonymous create", func() {
			expect(t, s.request(t, "POST", "/api/articles/", "", map[string]string{"title": "x"}), 401)
		})
		for _, tok := range []string{author, other, staff} {
			expect(t, s.request(t, "POST", "/api/articles/", tok, map[string]string{"title": "x"}), 201)
		}
	})
}

func TestArticleErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.registerUser(t, "writer").AccessToken
	art := s.createArticle(t, tok, map[string]any{"title": "Errors", "content": "x"})
	id := art["id"].(string)
	cases := []struct {
		name, method, path string
		body               any
		status             int
		field              string
		headers            []string
	}{
		{"empty title", "POST", "/api/articles/", map[string]any{"title": ""}, 422, "title", nil},
		{"title over 200", "POST", "/api/articles/", map[string]any{"title": strings.Repeat("t", 201)}, 422, "title", nil},
		{"bad cover URL", "POST", "/api/articles/", map[string]any{"title": "t", "cover_image": "not a url"}, 422, "cover_image", nil},
		{"unknown category", "POST", "/api/articles/", map[string]any{"title": "t", "category": 999}, 422, "category", nil},
		{"unknown category id", "POST", "/api/articles/", map[string]any{"title": "t", "category": "00000000-0000-7000-8000-000000000000"}, 422, "category", nil},
		{"unknown tag", "POST", "/api/articles/", map[string]any{"title": "t", "tags": []string{"nope"}}, 422, "tags", nil},
		{"category of the wrong type", "POST", "/api/articles/", map[string]any{"title": "t", "category": true}, 422, "category", nil},
		{"title null in a patch", "PATCH", "/api/articles/" + id + "/", `{"title": null}`, 422, "title", nil},
		{"empty title in a patch", "PATCH", "/api/articles/" + id + "/", map[string]any{"title": " "}, 422, "title", nil},
		{"unknown field", "PATCH", "/api/articles/" + id + "/", map[string]any{"views": 5}, 422, "views", nil},
		{"stale If-Match", "PATCH", "/api/articles/" + id + "/", map[string]any{"title": "new"}, 412, "", []string{"If-Match", `"9"`}},
		{"malformed If-Match", "PATCH", "/api/articles/" + id + "/", map[string]any{"title": "new"}, 400, "", []string{"If-Match", `"abc"`}},
		{"stale If-Match on delete", "DELETE", "/api/articles/" + id + "/", nil, 412, "", []string{"If-Match", `"9"`}},
		{"missing article", "PATCH", "/api/articles/00000000-0000-7000-8000-000000000000/", map[string]any{"title": "x"}, 404, "", nil},
		{"missing article by number", "GET", "/api/articles/424242/", nil, 404, "", nil},
		{"a path id that is no id", "GET", "/api/articles/..%2F..%2Fetc/", nil, 400, "path", nil},
		{"bad page size", "GET", "/api/articles/?page_size=101", nil, 422, "page_size", nil},
		{"bad ordering", "GET", "/api/articles/?ordering=-views", nil, 422, "ordering", nil},
		{"bad date", "GET", "/api/articles/?published_after=yesterday", nil, 422, "published_after", nil},
		{"forged cursor", "GET", "/api/articles/?cursor=eyJvIjoiLWNyZWF0ZWRfYXQiLCJrIjpbXX0", nil, 422, "cursor", nil},
		{"cursor and page", "GET", "/api/articles/?cursor=abc&page=2", nil, 422, "cursor", nil},
		{"empty cursor", "GET", "/api/articles/?cursor=", nil, 422, "cursor", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.appendsNothing(t, tc.name, func() {
				r := expect(t, s.request(t, tc.method, tc.path, tok, tc.body, tc.headers...), tc.status)
				if tc.field != "" {
					errs, _ := r.Map(t)["errors"].(map[string]any)
					if errs[tc.field] == nil {
						t.Fatalf("errors do not name %s: %s", tc.field, r.Body)
					}
				}
			})
		})
	}
	// The current version as If-Match is accepted, and the ETag moves on.
	r := expect(t, s.request(t, "PATCH", "/api/articles/"+id+"/", tok, map[string]any{"title": "new"}, "If-Match", `"1"`), 200)
	if r.Header.Get("ETag") != `"2"` {
		t.Fatalf("ETag after an update: %q", r.Header.Get("ETag"))
	}
}

// Twenty writers change different fields of one article at once: every
// change that was answered 2xx is in the final state and in the history,
// and the versions have no gaps.
func TestConcurrentPatchesLoseNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.registerUser(t, "busy").AccessToken
	admin := s.createAdmin(t, "admin").AccessToken
	var tagNames []string
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("tag%d", i)
		expect(t, s.request(t, "POST", "/api/tags/", tok, map[string]string{"name": name}), 201)
		tagNames = append(tagNames, name)
	}
	expect(t, s.request(t, "POST", "/api/categories/", admin, map[string]string{"name": "Cat"}), 201)
	id := s.createArticle(t, tok, map[string]any{"title": "Busy", "content": "start"})["id"].(string)

	// Each patch sets a different field (or a different value that all
	// others leave alone): title, content, excerpt, cover image, category,
	// slug, publication, and tags.
	patches := []map[string]any{
		{"title": "Final title"}, {"content": "final content"}, {"excerpt": "final excerpt"},
		{"cover_image": "https://example.com/c.png"}, {"category": "cat"}, {"slug": "busy-final"},
		{"is_published": true}, {"tags": tagNames[:3]},
	}
	for len(patches) < 20 {
		patches = append(patches, map[string]any{"title": fmt.Sprintf("Interim %d", len(patches))})
	}
	statuses := make([]int, len(patches))
	var wg sync.WaitGroup
	for i, p := range patches {
		wg.Add(1)
		go func(i int, p map[string]any) {
			defer wg.Done()
			statuses[i] = s.request(t, "PATCH", "/api/articles/"+id+"/", tok, p).Status
		}(i, p)
	}
	wg.Wait()
	for i, st := range statuses {
		if st != 200 {
			t.Errorf("patch %v answered %d", patches[i], st)
		}
	}
	final := expect(t, s.request(t, "GET", "/api/articles/"+id+"/", tok, nil), 200).Map(t)
	for k, want := range map[string]any{"content": "final content", "excerpt": "final excerpt",
		"cover_image": "https://example.com/c.png", "slug": "busy-final", "is_published": true} {
		if final[k] != want {
			t.Errorf("%s = %v, want %v", k, final[k], want)
		}
	}
	if c, _ := final["category"].(map[string]any); c["slug"] != "cat" {
		t.Errorf("category %v", final["category"])
	}
	if tags, _ := final["tags"].([]any); len(tags) != 3 || tags[0].(map[string]any)["name"] != "tag0" {
		t.Errorf("tags %v", final["tags"])
	}
	hist := expect(t, s.request(t, "GET", "/api/articles/"+id+"/history/", tok, nil), 200).Map(t)
	items := hist["items"].([]any)
	changed := map[string]int{}
	for i, it := range items {
		e := it.(map[string]any)
		if e["version"] != float64(i+1) {
			t.Fatalf("history entry %d has version %v: versions have a gap", i, e["version"])
		}
		for _, f := range e["changes"].([]any) {
			changed[f.(string)]++
		}
	}
	// One creation plus one event per patch that changed something: every
	// patch did (each title differs from the one before it).
	if len(items) != 1+len(patches) || final["version"] != float64(len(items)) {
		t.Fatalf("%d events for %d patches, version %v", len(items), len(patches), final["version"])
	}
	for _, f := range []string{"content", "cover_image", "category", "slug", "is_published", "tags"} {
		if changed[f] == 0 {
			t.Errorf("no history entry changed %s", f)
		}
	}
}

// A read right after one's own write sees it, every time.
func TestReadYourWrites(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.registerUser(t, "ryw").AccessToken
	id := s.createArticle(t, tok, map[string]any{"title": "v0", "content": "x"})["id"].(string)
	for i := 1; i <= 200; i++ {
		title := fmt.Sprintf("v%d", i)
		expect(t, s.request(t, "PATCH", "/api/articles/"+id+"/", tok, map[string]string{"title": title}), 200)
		got := expect(t, s.request(t, "GET", "/api/articles/"+id+"/", tok, nil), 200).Map(t)
		if got["title"] != title {
			t.Fatalf("write %d: read %v", i, got["title"])
		}
		if i%50 == 0 {
			list := expect(t, s.request(t, "GET", "/api/articles/?author=ryw", tok, nil), 200).Map(t)
			if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["title"] != title {
				t.Fatalf("list after write %d: %v", i, list)
			}
		}
	}
}

func TestCategoriesAndTags(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.createAdmin(t, "admin").AccessToken
	user := s.registerUser(t, "user").AccessToken

	s.appendsNothing(t, "a category by a regular user", func() {
		expect(t, s.request(t, "POST", "/api/categories/", user, map[string]string{"name": "News"}), 403)
	})
	cat := expect(t, s.request(t, "POST", "/api/categories/", admin, map[string]string{"name": "News & Views"}), 201).Map(t)
	if cat["slug"] != "news-views" {
		t.Fatalf("category %v", cat)
	}
	expect(t, s.request(t, "POST", "/api/categories/", admin, map[string]string{"name": "Other", "slug": "news-views"}), 409)
	again := expect(t, s.request(t, "POST", "/api/categories/", admin, map[string]string{"name": "News & Views"}), 201).Map(t)
	if again["slug"] != "news-views-2" {
		t.Fatalf("second category with the same name got slug %v", again["slug"])
	}
	expect(t, s.request(t, "PATCH", "/api/categories/news-views-2/", admin, map[string]string{"name": "Views", "slug": "views"}), 200)
	expect(t, s.request(t, "GET", "/api/categories/views/", "", nil), 200)
	expect(t, s.request(t, "GET", "/api/categories/news-views-2/", "", nil), 404)

	expect(t, s.request(t, "POST", "/api/tags/", "", map[string]string{"name": "go"}), 401)
	expect(t, s.request(t, "POST", "/api/tags/", user, map[string]string{"name": "Go"}), 201)
	s.appendsNothing(t, "a duplicate tag", func() {
		expect(t, s.request(t, "POST", "/api/tags/", user, map[string]string{"name": "GO"}), 409)
	})
	tags := expect(t, s.request(t, "GET", "/api/tags/?search=g", "", nil), 200).Map(t)
	if tags["count"] != float64(1) {
		t.Fatalf("tags %v", tags)
	}

	art := s.createArticle(t, user, map[string]any{"title": "Tagged", "category": "news-views", "tags": []any{"go"}, "is_published": true})
	if c, _ := art["category"].(map[string]any); c["slug"] != "news-views" {
		t.Fatalf("article category %v", art["category"])
	}
	s.createArticle(t, user, map[string]any{"title": "By number", "category": cat["number"]})
	// Deleting a category leaves its articles without one (SET_NULL).
	expect(t, s.request(t, "DELETE", "/api/categories/news-views/", user, nil), 403)
	expect(t, s.request(t, "DELETE", "/api/categories/news-views/", admin, nil), 204)
	// Its number, just named (and remembered), is refused in the words the
	// client wrote.
	for _, write := range []struct{ method, path string }{{"POST", "/api/articles/"}, {"PATCH", "/api/articles/" + art["id"].(string) + "/"}} {
		refused := expect(t, s.request(t, write.method, write.path, user, map[string]any{"title": "t", "category": cat["number"]}), 422).Map(t)
		if fields, _ := refused["errors"].(map[string]any); fields["category"] != fmt.Sprint("unknown category ", cat["number"]) {
			t.Fatalf("%s %s naming a deleted category by its number: %v", write.method, write.path, refused)
		}
	}
	got := expect(t, s.request(t, "GET", "/api/articles/"+art["id"].(string)+"/", "", nil), 200).Map(t)
	if got["category"] != nil {
		t.Fatalf("article keeps a deleted category: %v", got["category"])
	}
	list := expect(t, s.request(t, "GET", "/api/categories/", "", nil), 200).Map(t)
	if list["count"] != float64(1) {
		t.Fatalf("categories after a delete: %v", list)
	}
	// The freed slug can be used again.
	expect(t, s.request(t, "POST", "/api/categories/", admin, map[string]string{"name": "News & Views"}), 201)
}

// A list read page by page after the cursor each page gives is the whole
// list, in order, as one long page has it; a cursor of another ordering is
// refused.
func TestArticlesByCursor(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.registerUser(t, "paginator").AccessToken
	for i := range 7 {
		s.createArticle(t, tok, map[string]any{"title": fmt.Sprintf("Page %d", i), "content": "x", "is_published": i%3 != 0})
	}
	for _, ordering := range []string{"", "title", "-published_at"} {
		whole := expect(t, s.request(t, "GET", "/api/articles/?page_size=100&ordering="+ordering, tok, nil), 200).Map(t)
		if whole["count"] != float64(7) || whole["count_exact"] != true || whole["next"] != nil {
			t.Fatalf("ordering %q: the whole list: %v", ordering, whole)
		}
		var want, got []any
		for _, a := range whole["items"].([]any) {
			want = append(want, a.(map[string]any)["id"])
		}
		path := "/api/articles/?page_size=3&ordering=" + ordering
		for pages := 0; pages < 10; pages++ {
			page := expect(t, s.request(t, "GET", path, tok, nil), 200).Map(t)
			for _, a := range page["items"].([]any) {
				got = append(got, a.(map[string]any)["id"])
			}
			next, _ := page["next"].(string)
			if next == "" {
				break
			}
			path = "/api/articles/?page_size=3&ordering=" + ordering + "&cursor=" + next
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("ordering %q: by cursor %v, want %v", ordering, got, want)
		}
	}
	first := expect(t, s.request(t, "GET", "/api/articles/?page_size=2&ordering=title", tok, nil), 200).Map(t)
	r := expect(t, s.request(t, "GET", "/api/articles/?ordering=-title&cursor="+first["next"].(string), tok, nil), 422)
	if errs, _ := r.Map(t)["errors"].(map[string]any); errs["cursor"] == nil {
		t.Fatalf("a cursor of another ordering: %s", r.Body)
	}
}
