package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gorilla/mux"

	"inkwell/api"
)

// The OpenAPI document (api/openapi.yaml, served at /api/openapi.json) is a
// contract the tests hold the server to:
//   - TestOpenAPIDocumentsEveryRoute: the router and the document list the
//     same operations;
//   - checkContract, called by the harness for every request a test sends
//     (server.request): the response matches the operation's description,
//     and a request the document calls invalid is answered with a 4xx;
//   - TestOpenAPIDocumentIsValid: the document is valid OpenAPI 3.1 and
//     follows the conventions written at its top.

// contract is the loaded document and a router over its paths.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// loadContract loads and validates the document once per test binary.
var loadContract = sync.OnceValues(func() (*contract, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIDocument())
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is invalid: %w", err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("route the OpenAPI document: %w", err)
	}
	return &contract{doc: doc, router: router}, nil
})

// mustContract returns the loaded document or fails the test.
func mustContract(t testing.TB) *contract {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bearerOnly is the document's view of authentication: it can tell that a
// bearer token was sent, not whether the server accepts it (a 401 says that).
func bearerOnly(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	switch {
	case s != nil && s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return errors.New("no bearer token")
		}
	case s != nil && s.Type == "apiKey" && s.In == "header" && s.Name == "Authorization":
		// The Conduit surface's scheme: Token <jwt>, or Bearer <jwt>.
		if !strings.EqualFold(scheme, "Token") && !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			return errors.New("no Conduit token")
		}
	default:
		return fmt.Errorf("security scheme %q: the contract tests know only http bearer and the Conduit token", in.SecuritySchemeName)
	}
	return nil
}

// toldLoadFailure holds the tests already told that the document does not load.
var toldLoadFailure sync.Map

var contractOptions = &openapi3filter.Options{
	AuthenticationFunc:    bearerOnly,
	IncludeResponseStatus: true,
	MultiError:            true,
	SkipSettingDefaults:   true,
}

// checkContract checks one exchange against the document and reports
// violations with t.Errorf (it may run on any goroutine):
//   - the status must be one the operation lists (a default response does
//     not count), and the headers, content type and body must match it;
//   - a request the document calls invalid (bad parameters or body, no
//     token where one is required, or no such operation) must be answered
//     with a 4xx: the document and the server agree that it is bad.
//
// Paths are looked up as the server does: as sent, then with the trailing
// slash added or removed.
func checkContract(t testing.TB, req *http.Request, reqBody []byte, status int, header http.Header, body []byte) {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		if _, told := toldLoadFailure.LoadOrStore(t, true); !told {
			t.Errorf("contract: the OpenAPI document does not load: see TestOpenAPIDocumentIsValid")
		}
		return
	}
	// Exchanges below the API are not operations: a CORS preflight (the
	// CORS layer answers it for every route) and a refusal by net/http
	// itself before any route is chosen (431: request headers too large).
	if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" ||
		status == http.StatusRequestHeaderFieldsTooLarge {
		return
	}
	what := req.Method + " " + req.URL.RequestURI()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("contract: %s answered %d: %s\n(api/openapi.yaml and the server disagree: fix one of them)\nresponse: %s",
			what, status, fmt.Sprintf(format, args...), truncate(body, 600))
	}

	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := c.router.FindRoute(vreq)
	if errors.Is(err, routers.ErrPathNotFound) {
		alt := vreq.Clone(context.Background())
		if p := alt.URL.Path; strings.HasSuffix(p, "/") {
			alt.URL.Path = strings.TrimSuffix(p, "/")
		} else {
			alt.URL.Path = p + "/"
		}
		alt.URL.RawPath = ""
		alt.Body = io.NopCloser(bytes.NewReader(reqBody))
		if r2, p2, err2 := c.router.FindRoute(alt); !errors.Is(err2, routers.ErrPathNotFound) {
			vreq, route, params, err = alt, r2, p2, err2
		}
	}
	options := contractOptions
	if errors.Is(err, routers.ErrMethodNotAllowed) && req.Method == http.MethodHead {
		// A HEAD where the document has a GET: that GET's status and
		// headers, without its body.
		get := vreq.Clone(context.Background())
		get.Method, get.Body = http.MethodGet, http.NoBody
		if r2, p2, err2 := c.router.FindRoute(get); err2 == nil {
			vreq, route, params, err = get, r2, p2, nil
			if len(body) > 0 {
				fail("a HEAD answered with a body")
				return
			}
			headOptions := *contractOptions
			headOptions.ExcludeResponseBody = true
			options = &headOptions
		}
	}
	if errors.Is(err, routers.ErrMethodNotAllowed) {
		// RFC 9110: a 405 lists in Allow the methods the target takes, here
		// those the document has for the path (and HEAD wherever GET).
		var want []string
		for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			try := vreq.Clone(context.Background())
			try.Method, try.Body = m, http.NoBody
			if m == http.MethodHead {
				try.Method = http.MethodGet
			}
			if _, _, err := c.router.FindRoute(try); err == nil {
				want = append(want, m)
			}
		}
		if status != http.StatusMethodNotAllowed {
			fail("the document has no %s for the path, yet the server did not answer 405", req.Method)
			return
		}
		if got := header.Get("Allow"); got != strings.Join(want, ", ") {
			fail("a 405 whose Allow header is %q, where the document has %q", got, strings.Join(want, ", "))
			return
		}
	}
	if err != nil {
		// No operation: the document calls the request invalid.
		if status < 400 || status > 499 {
			fail("the document has no operation for it (%v), yet the server did not answer 4xx", err)
			return
		}
		if ct := header.Get("Content-Type"); len(body) > 0 && ct != "application/problem+json" {
			fail("an error without problem details (Content-Type %q)", ct)
			return
		}
		if len(body) > 0 {
			if err := c.checkProblem(body); err != nil {
				fail("the error body is not problem details: %v", err)
			}
		}
		return
	}

	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route, Options: options}
	if reqErr := openapi3filter.ValidateRequest(context.Background(), in); reqErr != nil && (status < 400 || status > 499) {
		fail("the document calls the request invalid, yet the server did not answer 4xx:\n%v", reqErr)
	}
	if route.Operation.Responses.Status(status) == nil {
		fail("status %d is not among the responses the document lists for %s %s (%s)",
			status, route.Method, route.Path, strings.Join(documentedStatuses(route.Operation), ", "))
		return
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: options}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		fail("the response does not match the document:\n%v", err)
	}
}

// checkProblem validates an error body against the Problem schema.
func (c *contract) checkProblem(body []byte) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	return c.doc.Components.Schemas["Problem"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
}

func documentedStatuses(op *openapi3.Operation) []string {
	var out []string
	for code := range op.Responses.Map() {
		out = append(out, code)
	}
	sort.Strings(out)
	return out
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}

// operationKey names an operation: "GET /api/auth/me/".
func operationKey(method, path string) string { return strings.ToUpper(method) + " " + path }

// muxVariable matches a gorilla/mux path variable with a pattern, {id:[0-9]+}.
var muxVariable = regexp.MustCompile(`\{([^{}:]+):[^{}]*\}`)

// routerOperations lists every method and path template the router serves.
func routerOperations(t *testing.T, r *mux.Router) map[string]bool {
	t.Helper()
	ops := map[string]bool{}
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		if route.GetHandler() == nil {
			return nil // a subrouter: its routes are walked too
		}
		tpl, err := route.GetPathTemplate()
		if err != nil {
			t.Errorf("a route without a path template (%v): the document cannot describe it", err)
			return nil
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s has no methods: register it with .Methods(...) so that it can be documented", tpl)
			return nil
		}
		for _, m := range methods {
			ops[operationKey(m, muxVariable.ReplaceAllString(tpl, "{$1}"))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

// documentOperations lists every method and path of the document.
func documentOperations(doc *openapi3.T) map[string]bool {
	ops := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			ops[operationKey(method, path)] = true
		}
	}
	return ops
}

// Every route the router serves is in the document, and the document
// describes no route the router does not serve.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	s := startServer(t)
	served, documented := routerOperations(t, s.API.Router()), documentOperations(c.doc)
	if len(served) < 30 {
		t.Fatalf("walked only %d routes: %v", len(served), served)
	}
	var missing, extra []string
	for op := range served {
		if !documented[op] {
			missing = append(missing, op)
		}
	}
	for op := range documented {
		if !served[op] {
			extra = append(extra, op)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	for _, op := range missing {
		t.Errorf("%s is served but not documented: describe it under paths in api/openapi.yaml", op)
	}
	for _, op := range extra {
		t.Errorf("%s is documented but not served: remove it from api/openapi.yaml, or register the route", op)
	}
}

// The files Swagger UI's page loads are the ones the document lists.
func TestOpenAPIDocumentsEveryDocsAsset(t *testing.T) {
	t.Parallel()
	c := mustContract(t)
	op := c.doc.Paths.Value("/api/docs/{asset}").Get
	p := op.Parameters.GetByInAndName("path", "asset")
	if p == nil {
		t.Fatal("getDocsAsset has no asset parameter")
	}
	var documented []string
	for _, v := range p.Schema.Value.Enum {
		documented = append(documented, fmt.Sprint(v))
	}
	served := api.DocsAssets()
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("the asset enum of /api/docs/{asset} (%v) differs from the files served (%v)", documented, served)
	}
}

// The document is valid OpenAPI 3.1 and follows the conventions written at
// the top of api/openapi.yaml, so that an operation added later is described
// as fully as the others.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	c := mustContract(t) // loads and validates it
	doc := c.doc
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi: %q, want 3.1.x", doc.OpenAPI)
	}
	bearer := doc.Components.SecuritySchemes["bearerAuth"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" || bearer.Value.BearerFormat != "JWT" {
		t.Errorf("bearerAuth security scheme: %+v", bearer)
	}
	tags := map[string]bool{}
	for _, tag := range doc.Tags {
		tags[tag.Name] = true
	}
	problem := "#/components/schemas/Problem"
	ops := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			name := operationKey(method, path)
			if op.Summary == "" {
				t.Errorf("%s: no summary", name)
			}
			if len(op.Tags) != 1 || !tags[op.Tags[0]] {
				t.Errorf("%s: tags %v: give it one of the tags declared at the top", name, op.Tags)
			}
			if op.Security == nil {
				t.Errorf("%s: no security: say who may call it ([] for anyone)", name)
			}
			required, optional := authOf(op)
			has := func(code int) bool { return op.Responses.Status(code) != nil }
			if !has(http.StatusInternalServerError) {
				t.Errorf("%s: does not list 500", name)
			}
			if !has(http.StatusBadRequest) { // every path and query is checked to be UTF-8 text
				t.Errorf("%s: does not list 400", name)
			}
			if (required || optional) && !has(http.StatusUnauthorized) {
				t.Errorf("%s: takes a token but does not list 401", name)
			}
			if method != http.MethodGet && method != http.MethodHead && (op.RequestBody != nil || !strings.HasPrefix(path, api.ConduitBase+"/")) {
				// A body is checked whether the operation takes one or not
				// (one that takes none refuses any but {}), but on the
				// Conduit surface, where one that takes none ignores it.
				for _, code := range []int{400, 413, 415, 422} {
					if !has(code) {
						t.Errorf("%s: a %s checks its body, but does not list %d", name, method, code)
					}
				}
			}
			ok := false
			for code, resp := range op.Responses.Map() {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Errorf("%s: response %q: list each status, not a range or default", name, code)
					continue
				}
				ok = ok || n >= 200 && n < 300
				if method == http.MethodHead {
					if len(resp.Value.Content) != 0 {
						t.Errorf("%s %s: a HEAD response has no body", name, code)
					}
					continue
				}
				if n >= 400 && strings.HasPrefix(path, api.ConduitBase+"/") {
					// The Conduit surface's errors are its own shape, and
					// problem details for what the layers below it refuse.
					mt, pd := resp.Value.Content.Get("application/json"), resp.Value.Content.Get("application/problem+json")
					if len(resp.Value.Content) != 2 || mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/ConduitErrors" ||
						pd == nil || pd.Schema == nil || pd.Schema.Ref != problem {
						t.Errorf("%s %s: Conduit errors are application/json with ConduitErrors, and application/problem+json with Problem", name, code)
					}
					continue
				}
				if n >= 400 && !(name == "GET /readyz" && n == http.StatusServiceUnavailable) { // a 503 of /readyz is its report
					mt := resp.Value.Content.Get("application/problem+json")
					if len(resp.Value.Content) != 1 || mt == nil || mt.Schema == nil || mt.Schema.Ref != problem {
						t.Errorf("%s %s: errors are application/problem+json with the Problem schema", name, code)
					}
				}
			}
			if !ok {
				t.Errorf("%s: no 2xx response", name)
			}
		}
	}
	if ops < 30 {
		t.Errorf("only %d operations", ops)
	}
}

// authOf tells whether an operation requires a bearer token, or takes one
// optionally (security [{}, {bearerAuth: []}]).
func authOf(op *openapi3.Operation) (required, optional bool) {
	if op.Security == nil || len(*op.Security) == 0 {
		return false, false
	}
	anonymous, bearer := false, false
	for _, req := range *op.Security {
		if len(req) == 0 {
			anonymous = true
		}
		if _, ok := req["bearerAuth"]; ok {
			bearer = true
		}
		if _, ok := req["conduitToken"]; ok {
			bearer = true
		}
	}
	return bearer && !anonymous, bearer && anonymous
}

// recordingTB collects what checkContract reports instead of failing.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Helper() {}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// checkContract itself: it passes exchanges that fit the document and
// reports each kind of disagreement.
func TestContractCheckCatchesDisagreements(t *testing.T) {
	t.Parallel()
	mustContract(t)
	user := `{"id":"0198a3c2-7d4e-7b1a-9c3f-2e5d8a6b4c1f","username":"johndoe","email":"john@example.com",` +
		`"first_name":"John","last_name":"Doe","bio":"","avatar":"","is_active":true,"is_staff":false,` +
		`"is_superuser":false,"date_joined":"2026-01-31T12:00:00Z"}`
	problem := func(status int) string {
		return fmt.Sprintf(`{"type":"about:blank","title":%q,"status":%d,"detail":"x","request_id":"r"}`, http.StatusText(status), status)
	}
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	problemCT := http.Header{"Content-Type": {"application/problem+json"}}
	unauthorized := http.Header{"Content-Type": {"application/problem+json"}, "Www-Authenticate": {`Bearer realm="inkwell"`}}
	const token = "Bearer eyJ.x.y"
	cases := []struct {
		name         string
		method, path string
		auth         string
		reqBody      string
		status       int
		header       http.Header
		body         string
		want         string // in the report; "" when the exchange fits
	}{
		{"a fitting exchange", "GET", "/api/auth/me/", token, "", 200, jsonCT, user, ""},
		{"the path without its slash", "GET", "/api/auth/me", token, "", 200, jsonCT, user, ""},
		{"a missing field", "GET", "/api/auth/me/", token, "", 200, jsonCT, strings.Replace(user, `"bio":"",`, "", 1), "does not match the document"},
		{"an undocumented field", "GET", "/api/auth/me/", token, "", 200, jsonCT, strings.Replace(user, `"bio":""`, `"bio":"","age":3`, 1), "does not match the document"},
		{"a wrong type", "GET", "/api/auth/me/", token, "", 200, jsonCT, strings.Replace(user, `"is_staff":false`, `"is_staff":"no"`, 1), "does not match the document"},
		{"an undocumented status", "GET", "/api/auth/me/", token, "", 418, problemCT, problem(418), "status 418 is not among"},
		{"a wrong content type", "GET", "/api/auth/me/", token, "", 200, http.Header{"Content-Type": {"text/plain"}}, user, "does not match the document"},
		{"a 401 without WWW-Authenticate", "GET", "/api/auth/me/", "", "", 401, problemCT, problem(401), "does not match the document"},
		{"a 401 with it", "GET", "/api/auth/me/", "", "", 401, unauthorized, problem(401), ""},
		{"no token, yet a 200", "GET", "/api/auth/me/", "", "", 200, jsonCT, user, "calls the request invalid"},
		{"an invalid body, refused", "POST", "/api/auth/register/", "", `{"username":""}`, 422, problemCT, problem(422), ""},
		{"an invalid body, accepted", "POST", "/api/auth/register/", "", `{"username":""}`, 201, jsonCT,
			`{"access_token":"a","refresh_token":"r","token_type":"bearer","expires_in":900}`, "calls the request invalid"},
		{"a bad query parameter, accepted", "GET", "/api/articles/?page_size=1000", "", "", 200, jsonCT, `{"items":[],"count":0}`, "calls the request invalid"},
		{"no such operation, refused", "GET", "/api/nothing-here/", "", "", 404, problemCT, problem(404), ""},
		{"no such operation, answered", "GET", "/api/nothing-here/", "", "", 200, jsonCT, `{}`, "no operation"},
		{"an error that is no problem details", "GET", "/api/nothing-here/", "", "", 404, problemCT, `{"error":"x"}`, "not problem details"},
		{"a wrong method, refused", "PUT", "/api/auth/me/", token, "", 405, withAllow(problemCT, "GET, HEAD, PATCH, DELETE"), problem(405), ""},
		{"a 405 without Allow", "PUT", "/api/auth/me/", token, "", 405, problemCT, problem(405), "Allow header"},
		{"a 405 whose Allow is not the document's", "PUT", "/api/auth/me/", token, "", 405, withAllow(problemCT, "GET"), problem(405), "Allow header"},
		{"a wrong method, answered", "PUT", "/api/auth/me/", token, "", 200, jsonCT, user, "did not answer 405"},
		{"a HEAD where the document has a GET", "HEAD", "/api/auth/me/", token, "", 200, jsonCT, "", ""},
		{"a HEAD with a body", "HEAD", "/api/auth/me/", token, "", 200, jsonCT, user, "a HEAD answered with a body"},
		{"a HEAD of an undocumented status", "HEAD", "/api/auth/me/", token, "", 418, problemCT, "", "status 418 is not among"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.reqBody != "" {
				body = strings.NewReader(tc.reqBody)
			}
			req, err := http.NewRequest(tc.method, "http://127.0.0.1:8000"+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.reqBody != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := &recordingTB{TB: t}
			checkContract(rec, req, []byte(tc.reqBody), tc.status, tc.header, []byte(tc.body))
			report := strings.Join(rec.errs, "\n")
			switch {
			case tc.want == "" && report != "":
				t.Errorf("reported a fitting exchange:\n%s", report)
			case tc.want != "" && !strings.Contains(report, tc.want):
				t.Errorf("report %q, want one saying %q", report, tc.want)
			}
		})
	}
}

// withAllow is h with an Allow header.
func withAllow(h http.Header, allow string) http.Header {
	h = h.Clone()
	h.Set("Allow", allow)
	return h
}
