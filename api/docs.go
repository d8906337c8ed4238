package api

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
)

// swaggerUI holds Swagger UI (from the npm package swagger-ui-dist) and
// Inkwell's page around it; see swaggerui/README.md.
//
//go:embed swaggerui
var swaggerUI embed.FS

// DocsCSP is the Content-Security-Policy of the Swagger UI page. It is set on
// the page's own response, so it holds whatever policy the server sends on
// API responses: scripts only from this server (the initializer is a file,
// not an inline script), requests only to this server. Swagger UI styles its
// elements with style attributes, hence 'unsafe-inline' for styles alone.
const DocsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Cache policies of the documentation: Inkwell's own files are revalidated on
// every use (they change with the server), the vendored Swagger UI files are
// kept for an hour before that.
const (
	cacheRevalidate = "no-cache"
	cacheVendor     = "public, max-age=3600"
)

// docsAssets are the files served at /api/docs/{asset}, with their content
// type and cache policy. The document lists the same names (the asset
// parameter of getDocsAsset); a test checks that they agree.
var docsAssets = map[string]struct{ contentType, cache string }{
	"swagger-initializer.js":           {"text/javascript; charset=utf-8", cacheRevalidate},
	"swagger-ui-bundle.js":             {"text/javascript; charset=utf-8", cacheVendor},
	"swagger-ui.css":                   {"text/css; charset=utf-8", cacheVendor},
	"index.css":                        {"text/css; charset=utf-8", cacheVendor},
	"favicon-32x32.png":                {"image/png", cacheVendor},
	"favicon-16x16.png":                {"image/png", cacheVendor},
	"LICENSE":                          {"text/plain; charset=utf-8", cacheVendor},
	"NOTICE":                           {"text/plain; charset=utf-8", cacheVendor},
	"swagger-ui-bundle.js.LICENSE.txt": {"text/plain; charset=utf-8", cacheVendor},
}

// DocsAssets returns the names of the files served at /api/docs/{asset}.
func DocsAssets() []string {
	names := make([]string, 0, len(docsAssets))
	for name := range docsAssets {
		names = append(names, name)
	}
	return names
}

// staticFile is a response body known at start-up, with its headers.
type staticFile struct {
	body        []byte
	etag        string
	contentType string
	cache       string
}

func newStaticFile(body []byte, contentType, cache string) staticFile {
	sum := sha256.Sum256(body)
	return staticFile{body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, contentType: contentType, cache: cache}
}

// serve answers with the file, or 304 when If-None-Match names its ETag.
func (f staticFile) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", f.cache)
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(r.Header.Get("If-None-Match"), f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(f.body)
}

// etagMatches reports whether an If-None-Match header names etag (weak
// comparison, RFC 9110 section 13.1.2).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// registerDocsRoutes serves the OpenAPI document and Swagger UI. Everything
// is read and hashed here, once: a missing asset is a start-up panic (and a
// test failure), never a 500 later.
func (s *Server) registerDocsRoutes(r *mux.Router) {
	read := func(name string) []byte {
		b, err := swaggerUI.ReadFile("swaggerui/" + name)
		if err != nil {
			panic("api: Swagger UI asset: " + err.Error())
		}
		return b
	}
	doc := newStaticFile(OpenAPIDocument(), "application/json", cacheRevalidate)
	page := newStaticFile(read("index.html"), "text/html; charset=utf-8", cacheRevalidate)
	assets := make(map[string]staticFile, len(docsAssets))
	for name, a := range docsAssets {
		assets[name] = newStaticFile(read(name), a.contentType, a.cache)
	}

	r.HandleFunc("/api/openapi.json", doc.serve).Methods(http.MethodGet)
	r.HandleFunc("/api/docs", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", DocsCSP)
		w.Header().Set("Referrer-Policy", "no-referrer")
		page.serve(w, r)
	}).Methods(http.MethodGet)
	r.HandleFunc("/api/docs/{asset}", func(w http.ResponseWriter, r *http.Request) {
		f, ok := assets[pathVar(r, "asset")]
		if !ok {
			s.writeError(w, r, newHTTPError(http.StatusNotFound, "No such documentation file."))
			return
		}
		f.serve(w, r)
	}).Methods(http.MethodGet)
}
