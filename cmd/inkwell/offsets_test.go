package main_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"inkwell/api"
)

// Every paged list of both surfaces, on both dialects, serves a page that
// skips up to api.MaxOffset items and refuses a deeper one with 422 naming
// page or offset (never a 500), as the API document says.
func TestPagesListsSkipAtMostMaxOffset(t *testing.T) {
	t.Parallel()
	onBothDialects(t, func(t *testing.T, s *server) {
		tok := s.registerUser(t, "pager").AccessToken
		admin := s.createAdmin(t, "pageadmin").AccessToken
		reader := s.registerUser(t, "pagereader").AccessToken
		var ref string
		for i := range 4 {
			a := s.createArticle(t, tok, map[string]any{"title": fmt.Sprint("Paged ", i), "is_published": true})
			ref = a["slug"].(string)
			expect(t, s.request(t, "POST", "/api/articles/"+ref+"/favorite/", tok, nil), http.StatusOK)
			expect(t, s.request(t, "POST", "/api/articles/paged-0/comments/", reader, map[string]any{"body": fmt.Sprint("Comment ", i)}), http.StatusCreated)
			expect(t, s.request(t, "POST", "/api/categories/", admin, map[string]any{"name": fmt.Sprint("Pages ", i)}), http.StatusCreated)
			expect(t, s.request(t, "POST", "/api/tags/", tok, map[string]any{"name": fmt.Sprint("paging", i)}), http.StatusCreated)
		}
		s.createArticle(t, tok, map[string]any{"title": "A draft"})
		expect(t, s.request(t, "POST", "/api/profiles/pager/follow/", reader, nil), http.StatusOK)
		ref = "paged-0"
		lists := []struct {
			path, token string
			conduit     bool
		}{
			{"/api/articles/", "", false},
			{"/api/articles/?ordering=-published_at", admin, false},
			{"/api/articles/?ordering=title&search=paged", tok, false},
			{"/api/articles/?ordering=-published_at,title", tok, false},
			{"/api/articles/?favorited=pager", "", false},
			{"/api/article/?author=pager", "", false},
			{"/api/articles/feed/", reader, false},
			{"/api/articles/" + ref + "/comments/", "", false},
			{"/api/categories/", "", false},
			{"/api/tags/", "", false},
			{"/api/users/", admin, false},
			{"/conduit/api/articles", "", true},
			{"/conduit/api/articles?author=pager", tok, true},
			{"/conduit/api/articles/feed", reader, true},
		}
		max := strconv.Itoa(api.MaxOffset)
		for _, l := range lists {
			with := func(window string) string {
				if strings.Contains(l.path, "?") {
					return l.path + "&" + window
				}
				return l.path + "?" + window
			}
			served := []string{"offset=" + max, "limit=100&offset=" + max}
			refused := map[string]string{"offset=" + strconv.Itoa(api.MaxOffset+1): "offset", "offset=18446744073709551616": "offset"}
			if !l.conduit {
				served = append(served, "page=51", "page=11&page_size=100")
				refused["page=52"] = "page"
				refused["page=1000000000&page_size=100"] = "page"
			}
			// Below the bound, a page by offset is the items of the longer
			// page from the start, as before.
			items := func(window string) []json.RawMessage {
				var page struct {
					Items    []json.RawMessage `json:"items"`
					Articles []json.RawMessage `json:"articles"`
				}
				expect(t, s.request(t, "GET", with(window), l.token, nil), http.StatusOK).JSON(t, &page)
				return append(page.Items, page.Articles...)
			}
			whole := items("limit=4")
			if len(whole) < 3 {
				t.Errorf("GET %s: %d items, want at least 3", with("limit=4"), len(whole))
				continue
			}
			for _, w := range []string{"limit=2&offset=1", "page=2&page_size=2"} {
				start := 1
				if strings.HasPrefix(w, "page") {
					start = 2
				}
				got, want := items(w), whole[start:min(start+2, len(whole))]
				if l.conduit && strings.HasPrefix(w, "page") {
					continue // Conduit takes no page: the first page
				}
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("GET %s:\n%s\nwant\n%s", with(w), got, want)
				}
			}
			for _, w := range served {
				r := s.request(t, "GET", with(w), l.token, nil)
				if r.Status != http.StatusOK {
					t.Errorf("GET %s: %d, want 200: %s", with(w), r.Status, r.Body)
				}
			}
			for w, field := range refused {
				r := s.request(t, "GET", with(w), l.token, nil)
				if r.Status != http.StatusUnprocessableEntity {
					t.Errorf("GET %s: %d, want 422: %s", with(w), r.Status, r.Body)
					continue
				}
				if errs, _ := r.Map(t)["errors"].(map[string]any); errs[field] == nil || !strings.Contains(string(r.Body), "at most "+max+" items") {
					t.Errorf("GET %s: the problem does not name %s and the bound: %s", with(w), field, r.Body)
				}
			}
		}
	})
}
