package main_test

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"inkwell/api"
)

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
