package api_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"inkwell/api"
	"inkwell/domain"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/comments"
	"inkwell/readmodels/follows"
	"inkwell/readmodels/users"
)

const staffID = "0190f3f5-0000-7000-8000-00000000005f"

// offsetServer is a fake server whose every paged list records the window
// it is asked for (in *got) and answers an empty page.
func offsetServer(t testing.TB, got *[]readmodels.Page) (*fakeServer, string) {
	var staffToken string
	f := newFakeServer(t, func(f *fakeServer) {
		f.deps.Comments, f.deps.Follows = f.reads, f.reads
		var u domain.User
		u.Apply(domain.Record{Version: 1, Seq: 1, Event: &domain.UserRegistered{UserID: staffID, Username: "staff", IsActive: true, IsStaff: true}})
		f.users[staffID] = &u
		staffToken = f.issue(staffID)
		f.reads.ArticleIDFn = func(context.Context, string) (string, error) { return articleID, nil }
		f.reads.ListArticlesFn = func(_ context.Context, fl articles.Filter) (readmodels.ListPage[articles.View], error) {
			*got = append(*got, fl.Page)
			return readmodels.ListPage[articles.View]{CountExact: true}, nil
		}
		f.reads.FeedFn = func(_ context.Context, _ string, p readmodels.Page) (readmodels.ListPage[follows.FeedEntry], error) {
			*got = append(*got, p)
			return readmodels.ListPage[follows.FeedEntry]{CountExact: true}, nil
		}
		f.reads.ArticlesByIDsFn = func(context.Context, domain.Actor, []string) ([]articles.View, error) { return nil, nil }
		f.reads.ProfilesByIDsFn = func(context.Context, domain.Actor, []string) (map[string]follows.Profile, error) {
			return map[string]follows.Profile{}, nil
		}
		f.reads.ListCommentsFn = func(_ context.Context, fl comments.Filter) (readmodels.ListPage[comments.Comment], error) {
			*got = append(*got, fl.Page)
			return readmodels.ListPage[comments.Comment]{CountExact: true}, nil
		}
		f.reads.ListCategoriesFn = func(_ context.Context, p readmodels.Page) (readmodels.ListPage[articles.Category], error) {
			*got = append(*got, p)
			return readmodels.ListPage[articles.Category]{CountExact: true}, nil
		}
		f.reads.ListTagsFn = func(_ context.Context, _ string, p readmodels.Page) (readmodels.ListPage[articles.Tag], error) {
			*got = append(*got, p)
			return readmodels.ListPage[articles.Tag]{CountExact: true}, nil
		}
		f.reads.ListUsersFn = func(_ context.Context, fl users.Filter) (readmodels.ListPage[users.User], error) {
			*got = append(*got, fl.Page)
			return readmodels.ListPage[users.User]{CountExact: true}, nil
		}
	})
	return f, staffToken
}

// pagedLists are the paged lists of both surfaces, each with the query it
// is always sent with and whose token it needs ("" anonymous, "writer",
// "staff").
var pagedLists = []struct {
	path, query, who string
	conduit          bool
}{
	{"/api/articles/", "", "", false},
	{"/api/articles/", "ordering=title&author=writer&is_published=true&search=go", "writer", false},
	{"/api/articles/", "ordering=-published_at&category=news&tag=go&published_after=2026-01-01", "staff", false},
	{"/api/articles/", "favorited=writer&ordering=created_at", "", false},
	{"/api/article/", "", "", false},
	{"/api/articles/feed/", "", "writer", false},
	{"/api/articles/hello/comments/", "", "", false},
	{"/api/article/hello/comments/", "", "", false},
	{"/api/categories/", "", "", false},
	{"/api/tags/", "search=g", "", false},
	{"/api/users/", "search=doe&is_active=true&ordering=-date_joined", "staff", false},
	{"/conduit/api/articles", "", "", true},
	{"/conduit/api/articles", "tag=go&author=writer&favorited=writer", "writer", true},
	{"/conduit/api/articles/feed", "", "writer", true},
}

// conduitProblem is a Conduit error body.
type conduitProblem struct {
	Errors map[string][]string `json:"errors"`
}

// Every paged list of both surfaces serves a page that skips up to
// MaxOffset items, by page or by offset, as it always did, and refuses a
// deeper one with 422 naming the parameter (and, on Inkwell's lists, the
// cursor to use instead), before any read.
func TestEveryPagedListBoundsItsOffset(t *testing.T) {
	t.Parallel()
	var got []readmodels.Page
	f, staffToken := offsetServer(t, &got)
	tokens := map[string]string{"": "", "writer": f.token, "staff": staffToken}
	max := strconv.Itoa(api.MaxOffset)
	for _, l := range pagedLists {
		target := func(window string) string {
			return l.path + "?" + strings.TrimPrefix(l.query+"&"+window, "&")
		}
		served := []struct {
			window string
			want   readmodels.Page
		}{
			{"offset=" + max, readmodels.Page{Limit: api.DefaultPageSize, Offset: api.MaxOffset}},
			{"limit=100&offset=" + max, readmodels.Page{Limit: 100, Offset: api.MaxOffset}},
		}
		refused := []struct{ window, field string }{
			{"offset=" + strconv.Itoa(api.MaxOffset+1), "offset"},
			{"limit=1&offset=99999999999999999999999", "offset"},
		}
		if !l.conduit {
			served = append(served,
				struct {
					window string
					want   readmodels.Page
				}{"page=51", readmodels.Page{Limit: 20, Offset: 1000}},
				struct {
					window string
					want   readmodels.Page
				}{"page=11&page_size=100", readmodels.Page{Limit: 100, Offset: 1000}},
				struct {
					window string
					want   readmodels.Page
				}{"page=1001&page_size=1", readmodels.Page{Limit: 1, Offset: 1000}},
			)
			refused = append(refused,
				struct{ window, field string }{"page=52", "page"},
				struct{ window, field string }{"page=12&page_size=100", "page"},
				struct{ window, field string }{"page=35&page_size=30", "page"},
				struct{ window, field string }{"page=1000000", "page"},
			)
		}
		for _, c := range served {
			got = nil
			rec := f.serve(f.request("GET", target(c.window), "", tokens[l.who]))
			if rec.Code != http.StatusOK {
				t.Errorf("%s: status %d, want 200: %s", target(c.window), rec.Code, rec.Body)
				continue
			}
			if len(got) != 1 || got[0] != c.want {
				t.Errorf("%s: the read model was asked for %+v, want %+v", target(c.window), got, c.want)
			}
		}
		for _, c := range refused {
			got = nil
			rec := f.serve(f.request("GET", target(c.window), "", tokens[l.who]))
			if rec.Code != http.StatusUnprocessableEntity {
				t.Errorf("%s: status %d, want 422: %s", target(c.window), rec.Code, rec.Body)
				continue
			}
			if len(got) != 0 {
				t.Errorf("%s: refused, but the read model was asked for %+v", target(c.window), got)
			}
			var msg string
			if l.conduit {
				if ms := decode[conduitProblem](t, rec).Errors[c.field]; len(ms) == 1 {
					msg = ms[0]
				}
			} else {
				msg = decode[api.Problem](t, rec).Errors[c.field]
			}
			if !strings.Contains(msg, "at most") || !strings.Contains(msg, max+" items") {
				t.Errorf("%s: the problem of %s is %q: %s", target(c.window), c.field, msg, rec.Body)
			}
			if strings.Contains(msg, "with cursor") == l.conduit || strings.Contains(msg, "/api/articles/") != l.conduit {
				t.Errorf("%s: the problem of %s does not point to what this surface has: %q", target(c.window), c.field, msg)
			}
		}
	}
}

// A page number past the bound names the largest with its page_size.
func TestPageProblemNamesTheLastPage(t *testing.T) {
	t.Parallel()
	var got []readmodels.Page
	f, _ := offsetServer(t, &got)
	for query, want := range map[string]string{
		"page=52":                "must be at most 51 with page_size 20",
		"page=12&page_size=100":  "must be at most 11 with page_size 100",
		"page=35&page_size=30":   "must be at most 34 with page_size 30",
		"page=2000&page_size=1":  "must be at most 1001 with page_size 1",
		"page=9999&page_size=0":  "", // page_size is at fault, and named
		"page=9999&page_size=xy": "",
	} {
		rec := f.do("GET", "/api/categories/?"+query, "", false)
		p := decode[api.Problem](t, rec)
		if rec.Code != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", query, rec.Code)
			continue
		}
		if want == "" {
			if p.Errors["page_size"] == "" || p.Errors["page"] != "" {
				t.Errorf("%s: problems %v, want page_size's only", query, p.Errors)
			}
			continue
		}
		if !strings.HasPrefix(p.Errors["page"], want+": ") {
			t.Errorf("%s: the problem of page is %q, want it to start %q", query, p.Errors["page"], want)
		}
	}
}

// BenchmarkPageByOffset answers, through the handlers, the deepest page an
// offset may reach (from a read model that answers at once) and one past
// it: the refusal costs no more than reading the parameters does.
//
//	go test ./api -run '^$' -bench BenchmarkPageByOffset
func BenchmarkPageByOffset(b *testing.B) {
	var got []readmodels.Page
	f, _ := offsetServer(b, &got)
	for _, c := range []struct {
		name, target string
		status       int
	}{
		{"deepest", "/api/articles/?offset=" + strconv.Itoa(api.MaxOffset), http.StatusOK},
		{"refused", "/api/articles/?offset=" + strconv.Itoa(api.MaxOffset+1), http.StatusUnprocessableEntity},
		{"conduit-deepest", "/conduit/api/articles?offset=" + strconv.Itoa(api.MaxOffset), http.StatusOK},
		{"conduit-refused", "/conduit/api/articles?offset=" + strconv.Itoa(api.MaxOffset+1), http.StatusUnprocessableEntity},
	} {
		b.Run(c.name, func(b *testing.B) {
			for range b.N {
				got = got[:0]
				if rec := f.do("GET", c.target, "", false); rec.Code != c.status {
					b.Fatalf("%s: status %d, want %d", c.target, rec.Code, c.status)
				}
			}
		})
	}
}
