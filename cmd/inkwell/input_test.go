package main_test

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"inkwell/api"
	main "inkwell/cmd/inkwell"
	"inkwell/projections/projectionstest"
)

// onBothDialects runs fn against a server on SQLite and one on PostgreSQL.
func onBothDialects(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, startServer(t))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		_, url := projectionstest.MustOpenPostgresURL(t)
		fn(t, startServer(t, func(c *main.Config) { c.DatabaseURL = url }))
	})
}

// rawRequest sends a request whose path and query are written as given,
// percent-escapes and all (request would escape them again); the exchange
// is checked against the OpenAPI document like any other.
func (s *server) rawRequest(t *testing.T, method, target, token string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := req.URL.RequestURI(); got != target {
		t.Fatalf("the request would be sent as %q, not %q", got, target)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return s.exchange(t, req, nil)
}

// No query parameter or path segment a client sends is a 500: text that is
// not UTF-8, or holds control characters, is a 400 naming the parameter (or
// "path"), and so is a parameter given twice; an ordering of repeated or too
// many fields is a 422.
func TestNoServerErrorForHostileParameters(t *testing.T) {
	t.Parallel()
	onBothDialects(t, func(t *testing.T, s *server) {
		tok := s.registerUser(t, "reader").AccessToken
		s.createArticle(t, tok, map[string]any{"title": "Visible", "is_published": true})
		for _, c := range []struct {
			target string
			status int
			field  string
		}{
			{"/api/articles/?search=%00", 400, "search"},
			{"/api/articles/?search=a%00b", 400, "search"},
			{"/api/articles/?author=%ff", 400, "author"},
			{"/api/articles/?category=%c3%28", 400, "category"},
			{"/api/articles/?tag=%01", 400, "tag"},
			{"/api/tags/?search=%ff", 400, "search"},
			{"/api/tags/?search=%c2%85", 400, "search"},
			{"/api/users/?search=%00", 400, "search"},
			{"/api/articles/?%ff=1", 400, "query"},
			{"/api/articles/?=%00", 400, "query"},
			{"/api/articles/x/?search=%00", 400, "search"},
			{"/api/categories/%ff/", 400, "path"},
			{"/api/articles/%00/", 400, "path"},
			{"/api/tags/a%ffb/", 400, "path"},
			{"/api/categories/./", 400, "path"},
			{"/api/categories/%2e%2e/", 400, "path"},
			{"/api/articles//", 400, "path"},
			{"/api//articles/", 400, "path"},
			{"/api/articles/?limit", 422, "limit"},
			{"/api/articles/?page=", 422, "page"},
			{"/api/articles/?page=%2B2", 422, "page"},
			{"/api/articles/?is_published=yes", 422, "is_published"},
			{"/api/articles/?published_after=", 422, "published_after"},
			{"/api/articles/?ordering=title,title", 422, "ordering"},
			{"/api/articles/?ordering=" + strings.Repeat("title,", 2000) + "title", 422, "ordering"},
			{"/api/articles/?ordering=created_at,-created_at", 422, "ordering"},
			{"/api/articles/?tag=a&tag=b", 400, "tag"},
			{"/api/articles/?page_size=1&search=x&page_size=2", 400, "page_size"},
			{"/api/users/?search=a&search=a", 400, "search"},
			{"/conduit/api/articles?tag=a&tag=b", 400, "tag"},
		} {
			r := s.rawRequest(t, "GET", c.target, tok)
			if r.Status != c.status {
				t.Errorf("GET %.80s: %d, want %d: %s", c.target, r.Status, c.status, r.Body)
				continue
			}
			if c.field != "" {
				if errs, _ := r.Map(t)["errors"].(map[string]any); errs[c.field] == nil {
					t.Errorf("GET %.80s: the problem does not name %q: %s", c.target, c.field, r.Body)
				}
			}
		}
		// A search that holds no forbidden text still finds what it should.
		if got := expect(t, s.request(t, "GET", "/api/articles/?search=visib", "", nil), 200).Map(t); got["count"] != float64(1) {
			t.Errorf("search: %v", got)
		}
	})
}

// Bodies mean what the API document says: keys are matched exactly (TITLE
// is not title), each at most once, and null where an object is required is
// refused; text fields hold no NUL or other control character.
func TestBodiesAreDecodedStrictly(t *testing.T) {
	t.Parallel()
	onBothDialects(t, func(t *testing.T, s *server) {
		tok := s.registerUser(t, "writer").AccessToken
		for _, c := range []struct {
			method, path, body string
			field              string
		}{
			{"POST", "/api/articles/", `{"TITLE": "x"}`, "TITLE"},
			{"POST", "/api/articles/", `{"Title": "x", "content": "y"}`, "Title"},
			{"POST", "/api/articles/", `{"title": "x", "title": "y"}`, "title"},
			{"POST", "/api/articles/", `{"title": "a\u0000b"}`, "title"},
			{"POST", "/api/articles/", `{"title": "ok", "content": "a\u0000b"}`, "content"},
			{"POST", "/api/articles/", `{"title": "ok", "excerpt": "x\u001by"}`, "excerpt"},
			{"POST", "/api/articles/", `{"title": "ok", "content": "C1 \u009b31m"}`, "content"},
			{"POST", "/api/tags/", `{"name": "go\u0000"}`, "name"},
			{"PATCH", "/api/auth/me/", `null`, ""},
			{"PATCH", "/api/auth/me/", `[]`, ""},
			{"PATCH", "/api/auth/me/", `"bio"`, ""},
			{"PATCH", "/api/auth/me/", `{"BIO": "x"}`, "BIO"},
			{"POST", "/api/articles/", `{"title": "x", "content": null}`, "content"},
			{"POST", "/api/articles/", `{"title": "x", "tags": null}`, "tags"},
			{"POST", "/api/articles/", `{"title": "x", "is_published": null}`, "is_published"},
			{"POST", "/api/articles/", `{"title": "x", "tags": [null]}`, "tags"},
			{"POST", "/api/tags/", `{"name": null}`, "name"},
			// The document's limits count characters as sent: 202 (101 "e"
			// and as many combining accents) are over a title's 200, though
			// NFC makes them 101.
			{"POST", "/api/articles/", `{"title": "` + strings.Repeat("e\u0301", 101) + `"}`, "title"},
			{"POST", "/api/article", `{"title": "` + strings.Repeat("e\u0301", 101) + `"}`, "title"},
			{"POST", "/api/auth/register", `{"username": "nfd", "email": "nfd@example.com", "password": "12345678", "first_name": "` + strings.Repeat("e\u0301", 76) + `"}`, "first_name"},
			{"POST", "/api/auth/register/", `{"username": "x1", "Username": "x2", "email": "x@example.com", "password": "12345678"}`, "Username"},
			// A number beyond what any field holds is named, in words.
			{"POST", "/api/articles/", `{"title": "x", "category": 1e309}`, "category"},
			{"POST", "/api/articles/", `{"title": 1e309}`, "title"},
			{"POST", "/api/articles/", `{"title": "x", "tags": [-1e999]}`, "tags"},
		} {
			r := s.request(t, c.method, c.path, tok, c.body)
			if r.Status != 422 {
				t.Errorf("%s %s %s: %d, want 422: %s", c.method, c.path, c.body, r.Status, r.Body)
				continue
			}
			if c.field != "" {
				if errs, _ := r.Map(t)["errors"].(map[string]any); errs[c.field] == nil {
					t.Errorf("%s %s %s: the problem does not name %q: %s", c.method, c.path, c.body, c.field, r.Body)
				}
			}
			if strings.Contains(string(r.Body), "json.Number") || strings.Contains(string(r.Body), "float64") {
				t.Errorf("%s %s %s: the answer speaks of Go's types: %s", c.method, c.path, c.body, r.Body)
			}
		}
		// A body cut short is malformed, not empty; a body that does not
		// say it is JSON is not taken for JSON.
		s.appendsNothing(t, "bodies that are cut short or of no type", func() {
			r := s.request(t, "POST", "/api/articles/", tok, `{"title": "cut`)
			if r.Status != 400 || !strings.Contains(string(r.Body), "ends too early") {
				t.Errorf("a body cut short: %d %s", r.Status, r.Body)
			}
			r = s.request(t, "POST", "/api/articles/", tok, `{"title": "cut"`)
			if r.Status != 400 || !strings.Contains(string(r.Body), "ends too early") {
				t.Errorf("a body cut short before its closing brace: %d %s", r.Status, r.Body)
			}
			r = s.request(t, "POST", "/api/articles/", tok, []byte(`{"title": "untyped"}`), "Content-Type", "")
			if r.Status != 415 {
				t.Errorf("a JSON body sent without Content-Type: %d %s, want 415", r.Status, r.Body)
			}
		})
	})
}

// Text that looks like something else is refused in names (titles, tag and
// category names, first and last names): bidi controls and zero-width
// characters. Names are kept in NFC, so one name has one spelling; content
// keeps what its writer typed.
func TestNamesHoldNoInvisibleCharacters(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.registerUser(t, "writer").AccessToken
	admin := s.createAdmin(t, "admin").AccessToken
	expect(t, s.request(t, "POST", "/api/tags/", tok, map[string]string{"name": "Go"}), 201)
	for _, c := range []struct {
		path, token string
		body        map[string]any
		field       string
	}{
		{"/api/tags/", tok, map[string]any{"name": "Go\u200b"}, "name"},
		{"/api/tags/", tok, map[string]any{"name": "\ufeffGo"}, "name"},
		{"/api/tags/", tok, map[string]any{"name": "G\u202eo"}, "name"},
		{"/api/tags/", tok, map[string]any{"name": "Go\u2800"}, "name"},
		{"/api/tags/", tok, map[string]any{"name": "G\u034fo"}, "name"},
		{"/api/articles/", tok, map[string]any{"title": "Go\ufffe"}, "title"},
		{"/api/articles/", tok, map[string]any{"title": "Pay\u2066me\u2069"}, "title"},
		{"/api/articles/", tok, map[string]any{"title": "Zero\u200dwidth"}, "title"},
		{"/api/categories/", admin, map[string]any{"name": "News\u200c"}, "name"},
		{"/api/auth/register/", "", map[string]any{"username": "bidi", "email": "bidi@example.com", "password": "12345678", "first_name": "\u202eevil"}, "first_name"},
	} {
		r := s.request(t, "POST", c.path, c.token, c.body)
		if r.Status != 422 {
			t.Errorf("POST %s %q: %d, want 422: %s", c.path, c.body, r.Status, r.Body)
			continue
		}
		if errs, _ := r.Map(t)["errors"].(map[string]any); errs[c.field] == nil {
			t.Errorf("POST %s %q: the problem does not name %q: %s", c.path, c.body, c.field, r.Body)
		}
	}
	// "e" with a combining acute (NFD) and "é" (NFC) are one tag name.
	expect(t, s.request(t, "POST", "/api/tags/", tok, map[string]string{"name": "Caf\u00e9"}), 201)
	if r := s.request(t, "POST", "/api/tags/", tok, map[string]string{"name": "Cafe\u0301"}); r.Status != 409 {
		t.Errorf("the same tag name in NFD: %d, want 409: %s", r.Status, r.Body)
	}
	// Content keeps what a writer types, zero-width joiners included.
	a := s.createArticle(t, tok, map[string]any{"title": "Emoji", "content": "family: \U0001F468\u200d\U0001F469\u200d\U0001F467"})
	if !strings.Contains(a["content"].(string), "\u200d") {
		t.Errorf("content lost its zero-width joiners: %q", a["content"])
	}
}

// Every GET answers HEAD too (its status and headers, no body), and a 405
// names in Allow the methods its resource takes (RFC 9110); the contract
// check holds both to the OpenAPI document.
func TestHeadAndAllow(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.createAdmin(t, "admin").AccessToken
	tok := s.registerUser(t, "header").AccessToken
	s.createArticle(t, tok, map[string]any{"title": "Headed"})

	for _, c := range []struct{ path, token string }{
		{"/api/articles/", ""},
		{"/api/articles/headed/", tok},
		{"/api/articles/nothing-here/", ""},
		{"/api/auth/me/", tok},
		{"/api/auth/me/", ""},
		{"/api/users/", admin},
		{"/conduit/api/articles", ""},
		{"/api/openapi.json", ""},
	} {
		get := s.request(t, "GET", c.path, c.token, nil)
		head := s.request(t, "HEAD", c.path, c.token, nil)
		if head.Status != get.Status || len(head.Body) != 0 || head.Header.Get("Content-Type") != get.Header.Get("Content-Type") {
			t.Fatalf("HEAD %s: %d %q with %d bytes; GET: %d %q", c.path, head.Status, head.Header.Get("Content-Type"),
				len(head.Body), get.Status, get.Header.Get("Content-Type"))
		}
	}

	for _, c := range []struct{ method, path, allow string }{
		{"PUT", "/api/articles/", "GET, HEAD, POST"},
		{"POST", "/api/articles/headed/", "GET, HEAD, PATCH, DELETE"},
		{"HEAD", "/api/auth/login/", "POST"},
		{"DELETE", "/api/tags", "GET, HEAD, POST"}, // the path without its slash
		{"PATCH", "/healthz", "GET, HEAD"},
	} {
		r := expect(t, s.request(t, c.method, c.path, tok, nil), http.StatusMethodNotAllowed)
		if got := r.Header.Get("Allow"); got != c.allow {
			t.Fatalf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
	}

	// The event stream's HEAD answers its headers and ends, where its GET
	// would follow the log until the client leaves.
	r := expect(t, s.request(t, "HEAD", "/api/events/stream/", admin, nil), http.StatusOK)
	if ct := r.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("HEAD of the event stream: Content-Type %q", ct)
	}
	expect(t, s.request(t, "HEAD", "/api/events/stream/", tok, nil), http.StatusForbidden)
}

// An operation of Inkwell's API that takes no body refuses one that holds
// anything, as any body is refused (a key is a 422 naming it, text that is
// not JSON a 415), and writes nothing: an option a client sends (erase with
// "dry_run", log out everywhere with "everywhere": false) is never silently
// ignored. No body, or an empty object as some clients send with every POST,
// is taken. The Conduit surface ignores such a body, as the spec's clients
// send some (its test collection follows a profile with one).
func TestAnOperationWithoutABodyRefusesOne(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	s := startServer(t)
	admin := s.createAdmin(t, "admin").AccessToken
	tok := s.registerUser(t, "writer").AccessToken
	slug := s.createArticle(t, tok, map[string]any{"title": "Bodiless"})["slug"].(string)
	param := regexp.MustCompile(`\{[^}]+\}`)
	var ops []string
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			if method != http.MethodGet && method != http.MethodHead && op.RequestBody == nil && !strings.HasPrefix(path, api.ConduitBase+"/") {
				ops = append(ops, method+" "+path)
			}
		}
	}
	sort.Strings(ops)
	if len(ops) < 15 {
		t.Fatalf("only %d operations without a body: %v", len(ops), ops)
	}
	s.appendsNothing(t, "bodies sent where none is taken", func() {
		for _, op := range ops {
			method, path, _ := strings.Cut(op, " ")
			path = param.ReplaceAllString(path, "x")
			r := expect(t, s.request(t, method, path, admin, `{"dry_run": true}`), http.StatusUnprocessableEntity)
			if !strings.Contains(string(r.Body), `"dry_run"`) {
				t.Fatalf("%s: the 422 does not name the key: %s", op, r.Body)
			}
			expect(t, s.request(t, method, path, admin, "yes", "Content-Type", "text/plain"), http.StatusUnsupportedMediaType)
		}
	})
	// No body, or an empty object, is taken.
	expect(t, s.request(t, "POST", "/api/articles/"+slug+"/publish/", tok, "{}"), http.StatusOK)
	expect(t, s.request(t, "POST", "/api/articles/"+slug+"/unpublish/", tok, nil), http.StatusOK)
	expect(t, s.request(t, "POST", api.ConduitBase+"/articles/"+slug+"/favorite", tok, `{"article": {}}`), http.StatusOK)
}
