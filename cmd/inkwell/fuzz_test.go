package main_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
	"inkwell/projections/projectionstest"
)

// The HTTP fuzz targets send what the fuzzer makes to whole servers, on
// SQLite and (with INKWELL_TEST_DATABASE_URL) on PostgreSQL, and hold every
// answer to two properties: no 5xx, whatever the input, and agreement with
// the OpenAPI document (checkContract: a documented status and body, and a
// 4xx for every request the document calls invalid).

// errorLog keeps the error lines a server logs (an internal error, a panic
// in a handler), for the fuzz target to fail on; it drops the rest.
type errorLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *errorLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, string(p))
	return len(p), nil
}

func (l *errorLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// fuzzTarget is one server under fuzzing, with callers of every kind.
type fuzzTarget struct {
	name                string
	s                   *server
	errors              *errorLog
	user, admin         string // access tokens
	userID, articleID   string
	categorySlug, tagID string
}

// fuzzServers starts the servers a fuzz target sends to, once per fuzzing
// process.
func fuzzServers(f *testing.F) []*fuzzTarget {
	f.Helper()
	start := func(name string, configure ...func(*main.Config)) *fuzzTarget {
		configure = append(configure, func(c *main.Config) { c.AccessTTL = 24 * time.Hour })
		errs := &errorLog{}
		s := startServerLogging(f, slog.New(slog.NewTextHandler(errs, &slog.HandlerOptions{Level: slog.LevelError})), configure...)
		ft := &fuzzTarget{name: name, s: s, errors: errs}
		ft.user = s.registerUser(f, "writer").AccessToken
		ft.admin = s.createAdmin(f, "admin").AccessToken
		me := expect(f, s.request(f, "GET", "/api/auth/me/", ft.user, nil), 200).Map(f)
		ft.userID = me["id"].(string)
		ft.articleID = s.createArticle(f, ft.user, map[string]any{"title": "Fuzzed", "content": "text"})["id"].(string)
		ft.categorySlug = expect(f, s.request(f, "POST", "/api/categories/", ft.admin, map[string]string{"name": "News"}), 201).Map(f)["slug"].(string)
		ft.tagID = expect(f, s.request(f, "POST", "/api/tags/", ft.user, map[string]string{"name": "go"}), 201).Map(f)["id"].(string)
		return ft
	}
	out := []*fuzzTarget{start("sqlite")}
	if os.Getenv("INKWELL_TEST_DATABASE_URL") != "" {
		_, url := projectionstest.MustOpenPostgresURL(f)
		out = append(out, start("postgres", func(c *main.Config) { c.DatabaseURL = url }))
	}
	return out
}

// send sends a request whose target (path and query) is written as given,
// and checks the answer against the properties above. It reports false
// when the request cannot be sent at all (Go's client refuses to write it,
// or the server's HTTP parser would refuse it before Inkwell sees it), which
// the fuzz target then passes over.
func (ft *fuzzTarget) send(t *testing.T, method, target, token string, body []byte) bool {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, ft.s.URL+target, rd)
	if err != nil {
		return false
	}
	// A request-target is visible ASCII (RFC 9112, 3.2); Go's client writes
	// some others as they are, and the server's HTTP parser refuses them
	// before Inkwell sees anything.
	for _, c := range []byte(req.URL.RequestURI()) {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := ft.s.client.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "invalid header") || strings.Contains(err.Error(), "invalid URL") {
			return false
		}
		t.Fatalf("%s: %s %q: %v", ft.name, method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 500 {
		t.Fatalf("%s: %s %q with %q: %d: %s", ft.name, method, target, body, resp.StatusCode, b)
	}
	ft.noErrorLogged(t)
	checkContract(t, req, body, resp.StatusCode, resp.Header, b)
	return true
}

// noErrorLogged fails t if the server logged an error.
func (ft *fuzzTarget) noErrorLogged(t *testing.T) {
	t.Helper()
	if lines := ft.errors.take(); len(lines) > 0 {
		t.Fatalf("%s logged errors:\n%s", ft.name, strings.Join(lines, ""))
	}
}

// FuzzRequestBodies sends arbitrary bodies to every endpoint that takes one.
func FuzzRequestBodies(f *testing.F) {
	servers := fuzzServers(f)
	type endpoint struct {
		method string
		path   func(*fuzzTarget) string
		token  func(*fuzzTarget) string
	}
	fixed := func(p string) func(*fuzzTarget) string { return func(*fuzzTarget) string { return p } }
	anon := fixed("")
	user := func(ft *fuzzTarget) string { return "Bearer " + ft.user }
	admin := func(ft *fuzzTarget) string { return "Bearer " + ft.admin }
	endpoints := []endpoint{
		{"POST", fixed("/api/auth/register/"), anon},
		{"POST", fixed("/api/auth/login/"), anon},
		{"POST", fixed("/api/auth/refresh/"), anon},
		{"POST", fixed("/api/auth/password/"), user},
		{"PATCH", fixed("/api/auth/me/"), user},
		{"POST", fixed("/api/articles/"), user},
		{"PATCH", func(ft *fuzzTarget) string { return "/api/articles/" + ft.articleID + "/" }, user},
		{"POST", fixed("/api/categories/"), admin},
		{"PATCH", func(ft *fuzzTarget) string { return "/api/categories/" + ft.categorySlug + "/" }, admin},
		{"POST", fixed("/api/tags/"), user},
		{"PATCH", func(ft *fuzzTarget) string { return "/api/users/" + ft.userID + "/" }, admin},
	}
	for i := range endpoints {
		f.Add(uint8(i), []byte(`{}`))
		f.Add(uint8(i), []byte(`null`))
	}
	f.Add(uint8(0), []byte(`{"username": "fuzz1", "email": "fuzz1@example.com", "password": "12345678", "first_name": "F\u0000"}`))
	f.Add(uint8(1), []byte(`{"username": "writer", "password": "wrong"}`))
	f.Add(uint8(2), []byte(`{"refresh_token": "a.b.c"}`))
	f.Add(uint8(3), []byte(`{"current_password": "nope", "new_password": "short"}`))
	f.Add(uint8(4), []byte(`{"first_name": "Jo\u0301", "bio": null, "avatar": "javascript:alert(1)"}`))
	f.Add(uint8(5), []byte(`{"title": "Hello", "content": "x", "category": 1, "tags": ["go", 1, "new-tag"], "is_published": true}`))
	f.Add(uint8(5), []byte(`{"title": "\u202eevil", "slug": "UPPER", "tags": [0, -1, 1.5, true]}`))
	f.Add(uint8(6), []byte(`{"title": null, "tags": null, "category": null, "is_published": false}`))
	f.Add(uint8(7), []byte(`{"name": "World", "slug": "world", "description": "d"}`))
	f.Add(uint8(8), []byte(`{"name": "", "slug": null}`))
	f.Add(uint8(9), []byte(`{"name": "Go\u200b"}`))
	f.Add(uint8(10), []byte(`{"is_active": "yes", "is_staff": true, "first_name": 1}`))
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		e := endpoints[int(which)%len(endpoints)]
		for _, ft := range servers {
			ft.send(t, e.method, e.path(ft), e.token(ft), body)
		}
	})
}

// FuzzRequestTargets sends arbitrary path segments and query strings to
// every endpoint that reads them.
func FuzzRequestTargets(f *testing.F) {
	servers := fuzzServers(f)
	type endpoint struct {
		path  string // with %s for the segment
		admin bool
	}
	endpoints := []endpoint{
		{"/api/articles/%s", false},
		{"/api/articles/%s/", false},
		{"/api/articles/%s/history/", false},
		{"/api/categories/%s", false},
		{"/api/categories/%s/", false},
		{"/api/tags/%s", false},
		{"/api/tags/%s/", false},
		{"/api/users/%s", true},
		{"/api/users/%s/", true},
		{"/api/article/%s/", false},
	}
	for i := range endpoints {
		f.Add(uint8(i), "", "")
		f.Add(uint8(i), "1", "page=2&page_size=5")
	}
	f.Add(uint8(0), "", "search=%00")
	f.Add(uint8(0), "", "author=%ff&category=%c3%28&tag=%01")
	f.Add(uint8(0), "", "ordering="+strings.Repeat("title,", 50)+"-created_at")
	f.Add(uint8(0), "", "is_published=maybe&published_after=2026-13-01&published_before=yesterday")
	f.Add(uint8(0), "", "limit=0&offset=-1&page=1")
	f.Add(uint8(0), "", "page=99999999999999999999")
	f.Add(uint8(1), "%ff", "")
	f.Add(uint8(4), "%00", "")
	f.Add(uint8(5), "go", "search=g%5F%25")
	f.Add(uint8(7), "", "search=%27%20OR%201=1--&is_active=true&is_staff=1")
	f.Add(uint8(8), "admin", "")
	f.Fuzz(func(t *testing.T, which uint8, segment, query string) {
		e := endpoints[int(which)%len(endpoints)]
		target := fmt.Sprintf(e.path, segment)
		if query != "" {
			target += "?" + query
		}
		for _, ft := range servers {
			token := "Bearer " + ft.user
			if e.admin {
				token = "Bearer " + ft.admin
			}
			if !ft.send(t, "GET", target, token, nil) {
				return // not a request an HTTP client sends: no server sees it
			}
		}
	})
}

// FuzzBearerToken sends arbitrary text after "Bearer ": the answer is the
// caller's account for the token the server issued, a 401 for anything else.
func FuzzBearerToken(f *testing.F) {
	servers := fuzzServers(f)[:1] // tokens are checked before any database is read
	ft := servers[0]
	f.Add(ft.user)
	f.Add(ft.user + " ")
	f.Add(ft.admin[:len(ft.admin)-2])
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.eyJzdWIiOiJ4In0.")
	f.Add(strings.Repeat(".", 9000))
	f.Fuzz(func(t *testing.T, token string) {
		req, err := http.NewRequest("GET", ft.s.URL+"/api/auth/me/", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := ft.s.client.Do(req)
		if err != nil {
			if strings.Contains(err.Error(), "invalid header") {
				return // not a header an HTTP client sends: no server sees it
			}
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		ft.noErrorLogged(t)
		checkContract(t, req, nil, resp.StatusCode, resp.Header, b)
		switch resp.StatusCode {
		case 200:
			if !strings.Contains(string(b), `"username":"writer"`) && !strings.Contains(string(b), `"username":"admin"`) {
				t.Fatalf("token %q answered 200 with %s", token, b)
			}
		case 401:
		default:
			t.Fatalf("token %q: status %d: %s", token, resp.StatusCode, b)
		}
	})
}
