package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"inkwell/api"
	"inkwell/api/mock"
	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/queries"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
)

// The handlers' own work, tested without a log or a database: status codes,
// what reaches the read models and commands from a request, and the shape
// of what goes back. The end-to-end suites (cmd/inkwell) show the rest.

const (
	writerID  = "0190f3f5-0000-7000-8000-000000000001"
	articleID = "0190f3f5-0000-7000-8000-0000000000a1"
)

// fakeServer is an API server over fakes, with an access token of a writer.
type fakeServer struct {
	t     testing.TB
	reads *mock.ReadModels
	cmds  *commands.Handlers
	// deps is what the server takes beside the fakes; configure may set
	// more of it (a logger, an observer, an idempotency store, a timeout).
	deps   api.Deps
	srv    http.Handler
	tokens *auth.Tokens
	writer domain.User
	token  string
	users  map[string]*domain.User // id → account that authentication answers, with its session
	ended  atomic.Bool             // every session has ended: authentication answers none
}

func newFakeServer(t testing.TB, configure func(*fakeServer)) *fakeServer {
	t.Helper()
	keys, _, err := auth.LoadOrGenerateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{t: t, reads: &mock.ReadModels{}, cmds: &commands.Handlers{}, users: map[string]*domain.User{}}
	f.tokens = auth.NewTokens(keys, auth.DefaultTokenConfig(), nil)
	f.writer.Apply(domain.Record{Version: 1, Seq: 1, Event: &domain.UserRegistered{
		UserID: writerID, Username: "writer", Email: "writer@example.com", FirstName: "Wri", IsActive: true,
		DateJoined: time.Date(2026, 1, 2, 3, 4, 5, 6789, time.UTC)}})
	f.users[writerID] = &f.writer
	f.token = f.issue(writerID)
	f.reads.WaitForFn = func(context.Context, string, uint64) error { return nil }
	f.deps = api.Deps{Tokens: f.tokens, Keys: keys}
	if configure != nil {
		configure(f)
	}
	qs := &queries.Queries{
		Authenticate: mock.Handler[queries.Authenticate, *domain.User](func(_ context.Context, q queries.Authenticate) (*domain.User, error) {
			u := f.users[q.UserID]
			if u == nil || q.SessionID != sessionOf(q.UserID) || f.ended.Load() {
				return nil, domain.ErrSessionEnded
			}
			return u, nil
		}),
	}
	d := f.deps
	d.Commands, d.Queries, d.ReadModels = f.cmds, qs, f.reads
	d.Users, d.Articles, d.Categories, d.Tags, d.AdminUsers, d.Personal = f.reads, f.reads, f.reads, f.reads, f.reads, f.reads
	f.srv = api.NewServer(d).Handler()
	return f
}

// sessionOf is the session the fake server's tokens of account id name.
func sessionOf(id string) string { return strings.Replace(id, "-8000-", "-9000-", 1) }

// issue returns an access token of the account id.
func (f *fakeServer) issue(id string) string {
	f.t.Helper()
	access, err := f.tokens.IssueAccess(id, sessionOf(id), auth.Profile{})
	if err != nil {
		f.t.Fatal(err)
	}
	return access.Token
}

// addUser registers another account with authentication and returns an
// access token of it.
func (f *fakeServer) addUser(id, username string) string {
	var u domain.User
	u.Apply(domain.Record{Version: 1, Seq: 1, Event: &domain.UserRegistered{UserID: id, Username: username, IsActive: true}})
	f.users[id] = &u
	return f.issue(id)
}

// do sends a request (with the writer's token when authenticated) and
// returns the recorded answer.
func (f *fakeServer) do(method, target, body string, authenticated bool) *httptest.ResponseRecorder {
	token := ""
	if authenticated {
		token = f.token
	}
	return f.serve(f.request(method, target, body, token))
}

// request is a request with body as JSON (if any) and the bearer token (if
// any).
func (f *fakeServer) request(method, target, body, token string) *http.Request {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func (f *fakeServer) serve(req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", rec.Code, err, rec.Body)
	}
	return v
}

func article() articles.View {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return articles.View{
		ID: articleID, Number: 7, Title: "Hello", Slug: "hello", Content: "Some words.",
		Author:   articles.AuthorRef{ID: writerID, Username: "writer"},
		Category: &articles.CategoryRef{ID: "0190f3f5-0000-7000-8000-0000000000c1", Number: 1, Name: "News", Slug: "news"},
		Tags:     []articles.TagRef{}, IsPublished: true, PublishedAt: &at, CreatedAt: at, UpdatedAt: at,
		WordCount: 2, ReadingTime: 1, Version: 3,
	}
}

// Each kind of domain error has its one status, and the problem body says
// what went wrong; an internal error's cause is not shown.
func TestErrorsMapToTheirStatus(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err    error
		status int
	}{
		{domain.ErrArticleNotFound, http.StatusNotFound},
		{domain.Errorf(domain.EFORBIDDEN, "No."), http.StatusForbidden},
		{domain.Errorf(domain.ECONFLICT, "Taken."), http.StatusConflict},
		{&domain.UnavailableError{Dependency: domain.DependencyDatabase, Err: errors.New("down")}, http.StatusServiceUnavailable},
		{errors.New("a secret cause"), http.StatusInternalServerError},
	} {
		f := newFakeServer(t, func(f *fakeServer) {
			f.reads.ArticleByRefFn = func(context.Context, domain.Actor, string) (articles.View, error) {
				return articles.View{}, c.err
			}
		})
		rec := f.do("GET", "/api/articles/hello/", "", false)
		if rec.Code != c.status {
			t.Errorf("%v: status %d, want %d", c.err, rec.Code, c.status)
			continue
		}
		p := decode[api.Problem](t, rec)
		if p.Status != c.status || p.Detail == "" || strings.Contains(p.Detail, "secret") {
			t.Errorf("%v: problem %+v", c.err, p)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%v: content type %q", c.err, ct)
		}
		if c.status == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
			t.Errorf("a 503 without Retry-After")
		}
	}
}

// An article is answered in its documented shape, with its version as the
// ETag, and the viewer the read model gets is the caller.
func TestArticleGet(t *testing.T) {
	t.Parallel()
	var viewer domain.Actor
	f := newFakeServer(t, func(f *fakeServer) {
		f.reads.ArticleByRefFn = func(_ context.Context, v domain.Actor, ref string) (articles.View, error) {
			viewer = v
			if ref != "hello" {
				return articles.View{}, domain.ErrArticleNotFound
			}
			return article(), nil
		}
	})
	rec := f.do("GET", "/api/articles/hello/", "", true)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if viewer.ID != writerID {
		t.Errorf("the read model was asked for viewer %+v, want the caller", viewer)
	}
	if etag := rec.Header().Get("ETag"); etag != `"3"` {
		t.Errorf("ETag %q, want the article's version", etag)
	}
	got := decode[map[string]any](t, rec)
	for k, want := range map[string]any{
		"id": articleID, "number": 7.0, "title": "Hello", "slug": "hello", "is_published": true,
		"published_at": "2026-03-04T05:06:07Z", "word_count": 2.0, "reading_time": 1.0,
	} {
		if got[k] != want {
			t.Errorf("%s: %v, want %v", k, got[k], want)
		}
	}
	if a, _ := got["author"].(map[string]any); a["username"] != "writer" {
		t.Errorf("author %v", got["author"])
	}
	if c, _ := got["category"].(map[string]any); c["slug"] != "news" {
		t.Errorf("category %v", got["category"])
	}
	if tags, ok := got["tags"].([]any); !ok || len(tags) != 0 {
		t.Errorf("tags %v, want an empty list", got["tags"])
	}
}

// Bad list parameters are refused with 422 naming the parameter, before any
// read; good ones reach the read model as a filter.
func TestArticleListParameters(t *testing.T) {
	t.Parallel()
	var got articles.Filter
	var reads atomic.Int64
	f := newFakeServer(t, func(f *fakeServer) {
		f.reads.ListArticlesFn = func(_ context.Context, flt articles.Filter) (readmodels.ListPage[articles.View], error) {
			reads.Add(1)
			got = flt
			return readmodels.ListPage[articles.View]{Items: []articles.View{article()}, Count: 1, CountExact: true}, nil
		}
	})
	for target, field := range map[string]string{
		"/api/articles/?limit=abc":             "limit",
		"/api/articles/?limit=0":               "limit",
		"/api/articles/?cursor=x&page=2":       "cursor",
		"/api/articles/?is_published=sometime": "is_published",
	} {
		rec := f.do("GET", target, "", false)
		if rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", target, rec.Code)
			continue
		}
		if p := decode[api.Problem](t, rec); p.Errors[field] == "" {
			t.Errorf("%s: the problem does not name %s: %+v", target, field, p)
		}
	}
	if n := reads.Load(); n != 0 {
		t.Fatalf("refused requests read the read model %d times", n)
	}

	rec := f.do("GET", "/api/articles/?limit=5&search=go", "", false)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got.Page.Limit != 5 || got.Search != "go" {
		t.Errorf("the read model got %+v", got)
	}
	page := decode[api.PageResponse[map[string]any]](t, rec)
	if page.Count != 1 || !page.CountExact || len(page.Items) != 1 || page.Next != nil {
		t.Errorf("page %+v", page)
	}
}

// A create needs a caller, a JSON body with known fields only, and answers
// 201 with the article as the read model shows it and where it lives.
func TestArticleCreate(t *testing.T) {
	t.Parallel()
	var created []commands.CreateArticle
	f := newFakeServer(t, func(f *fakeServer) {
		f.cmds.CreateArticle = mock.Handler[commands.CreateArticle, commands.Result](func(_ context.Context, c commands.CreateArticle) (commands.Result, error) {
			created = append(created, c)
			return commands.Result{ID: articleID, Seq: 9, Version: 1}, nil
		})
		f.reads.ArticleByRefFn = func(context.Context, domain.Actor, string) (articles.View, error) {
			return article(), nil
		}
	})
	if rec := f.do("POST", "/api/articles/", `{"title": "Hello"}`, false); rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("without a token: %d, WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	if rec := f.do("POST", "/api/articles/", `{"title": `, true); rec.Code != http.StatusBadRequest {
		t.Errorf("malformed JSON: %d, want 400", rec.Code)
	}
	rec := f.do("POST", "/api/articles/", `{"title": "Hello", "titel": "typo"}`, true)
	if rec.Code != http.StatusUnprocessableEntity || decode[api.Problem](t, rec).Errors["titel"] == "" {
		t.Errorf("an unknown field: %d %s, want 422 naming it", rec.Code, rec.Body)
	}
	if len(created) != 0 {
		t.Fatalf("refused requests reached the command %d times", len(created))
	}

	rec = f.do("POST", "/api/articles/", `{"title": "Hello", "content": "Some words.", "author": 42}`, true)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/articles/"+articleID+"/" {
		t.Errorf("Location %q", loc)
	}
	if len(created) != 1 || created[0].Actor.ID != writerID || created[0].Input.Title != "Hello" {
		t.Fatalf("the command got %+v, want one create by the caller", created)
	}
	if got := decode[map[string]any](t, rec); got["id"] != articleID {
		t.Errorf("answer %v", got)
	}
}

// GET /api/auth/me/ is the caller's account as authentication read it: no
// read model is asked (the fakes' read functions are unset).
func TestMeIsTheAuthenticatedAccount(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	if rec := f.do("GET", "/api/auth/me/", "", false); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", rec.Code)
	}
	rec := f.do("GET", "/api/auth/me/", "", true)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	me := decode[api.UserResponse](t, rec)
	want := api.UserResponse{ID: writerID, Username: "writer", Email: "writer@example.com", FirstName: "Wri",
		IsActive: true, DateJoined: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}
	if me != want {
		t.Errorf("me %+v, want %+v (date_joined to the microsecond, as the read model keeps it)", me, want)
	}
}

// Category lists answer in the page shape, with the cursor of the next page.
func TestCategoryListPage(t *testing.T) {
	t.Parallel()
	next := "abc"
	f := newFakeServer(t, func(f *fakeServer) {
		f.reads.ListCategoriesFn = func(_ context.Context, p readmodels.Page) (readmodels.ListPage[articles.Category], error) {
			if p.Limit != 1 {
				t.Errorf("limit %d, want 1", p.Limit)
			}
			return readmodels.ListPage[articles.Category]{Items: []articles.Category{{ID: "c1", Name: "News", Slug: "news"}}, Count: 2, CountExact: true, Next: next}, nil
		}
	})
	rec := f.do("GET", "/api/categories/?limit=1", "", false)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	page := decode[api.PageResponse[map[string]any]](t, rec)
	if page.Count != 2 || len(page.Items) != 1 || page.Items[0]["slug"] != "news" || page.Next == nil || *page.Next != next {
		t.Errorf("page %+v", page)
	}
}
