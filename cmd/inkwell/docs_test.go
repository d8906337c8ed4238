package main_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"inkwell/api"
)

func TestOpenAPIDocumentIsServed(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	r := expect(t, s.request(t, "GET", "/api/openapi.json", "", nil), http.StatusOK)
	if !bytes.Equal(r.Body, api.OpenAPIDocument()) {
		t.Fatal("/api/openapi.json is not the embedded document")
	}
	if !strings.HasPrefix(string(r.Body), `{"openapi":"3.1.`) {
		t.Fatalf("the document starts %.40s", r.Body)
	}
	if r.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	etag := r.Header.Get("ETag")
	again := expect(t, s.request(t, "GET", "/api/openapi.json", "", nil, "If-None-Match", etag), http.StatusNotModified)
	if len(again.Body) != 0 {
		t.Errorf("a 304 with a body: %s", again.Body)
	}
	expect(t, s.request(t, "GET", "/api/openapi.json", "", nil, "If-None-Match", `"stale"`), http.StatusOK)
}

// The Swagger UI page loads only files of this server, with no inline
// script, under its own Content-Security-Policy.
func TestSwaggerUIPageIsServed(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	page := expect(t, s.request(t, "GET", "/api/docs", "", nil), http.StatusOK)
	if ct := page.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	csp := page.Header.Get("Content-Security-Policy")
	if csp != api.DocsCSP || !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if page.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no X-Content-Type-Options: nosniff")
	}
	// The trailing-slash form answers too.
	expect(t, s.request(t, "GET", "/api/docs/", "", nil), http.StatusOK)

	html := string(page.Body)
	if strings.Contains(html, "<script>") || regexp.MustCompile(`<script(?:\s[^>]*)?>[^<\s]`).MatchString(html) {
		t.Error("the page has an inline script")
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 4 {
		t.Fatalf("the page loads %d files", len(refs))
	}
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".png": "image/png"}
	for _, ref := range refs {
		path := ref[1]
		if !strings.HasPrefix(path, "/api/docs/") {
			t.Errorf("the page loads %s, not a file of this server", path)
			continue
		}
		r := expect(t, s.request(t, "GET", path, "", nil), http.StatusOK)
		ext := path[strings.LastIndex(path, "."):]
		if ct := r.Header.Get("Content-Type"); ct != wantType[ext] {
			t.Errorf("%s: Content-Type %q, want %q", path, ct, wantType[ext])
		}
		if r.Header.Get("ETag") == "" || r.Header.Get("Cache-Control") == "" || len(r.Body) == 0 {
			t.Errorf("%s: ETag %q, Cache-Control %q, %d bytes", path, r.Header.Get("ETag"), r.Header.Get("Cache-Control"), len(r.Body))
		}
		expect(t, s.request(t, "GET", path, "", nil, "If-None-Match", r.Header.Get("ETag")), http.StatusNotModified)
	}
	initializer := expect(t, s.request(t, "GET", "/api/docs/swagger-initializer.js", "", nil), http.StatusOK)
	for _, want := range []string{`url: "/api/openapi.json"`, "persistAuthorization: true", "validatorUrl: null"} {
		if !strings.Contains(string(initializer.Body), want) {
			t.Errorf("the initializer lacks %s", want)
		}
	}
	for _, name := range api.DocsAssets() {
		expect(t, s.request(t, "GET", "/api/docs/"+name, "", nil), http.StatusOK)
	}
	expect(t, s.request(t, "GET", "/api/docs/nothing.js", "", nil), http.StatusNotFound)
	expect(t, s.request(t, "GET", "/api/docs/..%2Fdocs.go", "", nil), http.StatusBadRequest) // a .. segment
}
