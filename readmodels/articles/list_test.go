package articles_test

import (
	"cmp"
	"context"
	"fmt"
	"inkwell/domain"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/users"
	"slices"
	"strings"
	"testing"
	"time"
)

// randomBlog applies n steps of a random history to the articles and users
// read models and returns its records.
func randomBlog(t testing.TB, db *projections.DB, seed uint64, n int) []domain.Record {
	t.Helper()
	recs := projectionstest.RandomHistory(seed, n)
	for _, p := range readModels {
		projectionstest.MustEnsure(t, db, p)
		projectionstest.ApplyAll(t, db, p, recs, 37)
	}
	return recs
}

// readModels are the read models an article's rows are made of: its own,
// and the users one (its authors' names).
var readModels = []projections.Projection{users.ReadModel{}, articles.ReadModel{}}

// refArticle is what the reference needs of an article, read plainly.
type refArticle struct {
	ID          string     `db:"id"`
	Title       string     `db:"title"`
	Excerpt     string     `db:"excerpt"`
	Content     string     `db:"content"`
	AuthorID    string     `db:"author_id"`
	CategoryID  *string    `db:"category_id"`
	IsPublished bool       `db:"is_published"`
	PublishedAt *time.Time `db:"published_at"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
	tags        []string
}

func readArticles(t testing.TB, db *projections.DB) []refArticle {
	t.Helper()
	arts := projectionstest.MustSelect[refArticle](t, db, "SELECT id, title, excerpt, content, author_id, category_id, is_published, published_at, created_at, updated_at FROM articles")
	links := projectionstest.MustSelect[struct {
		ArticleID string `db:"article_id"`
		TagID     string `db:"tag_id"`
	}](t, db, "SELECT article_id, tag_id FROM article_tags")
	byID := map[string]*refArticle{}
	for i := range arts {
		byID[arts[i].ID] = &arts[i]
	}
	for _, l := range links {
		byID[l.ArticleID].tags = append(byID[l.ArticleID].tags, l.TagID)
	}
	return arts
}

// reference selects and orders articles as the API documents it, the
// simple way: every article, filtered and sorted in Go.
func reference(arts []refArticle, f articles.Filter) []string {
	var out []refArticle
	for _, a := range arts {
		visible := f.Viewer.IsStaff() || a.IsPublished || (!f.Viewer.IsAnonymous() && a.AuthorID == f.Viewer.ID)
		switch {
		case !visible,
			f.IsPublished != nil && a.IsPublished != *f.IsPublished,
			f.Category != "" && (a.CategoryID == nil || *a.CategoryID != f.Category),
			f.Author != "" && a.AuthorID != f.Author,
			f.Tag != "" && !slices.Contains(a.tags, f.Tag),
			f.Search != "" && !strings.Contains(strings.ToLower(a.Title+"\n"+a.Excerpt+"\n"+a.Content), f.Search):
			continue
		}
		out = append(out, a)
	}
	projectionstest.SortByOrdering(out, cmp.Or(f.Ordering, "-created_at"), func(x, y refArticle, field string) (int, bool) {
		switch field {
		case "created_at":
			return x.CreatedAt.Compare(y.CreatedAt), false
		case "updated_at":
			return x.UpdatedAt.Compare(y.UpdatedAt), false
		case "title":
			return strings.Compare(strings.ToLower(x.Title), strings.ToLower(y.Title)), false
		}
		switch { // published_at
		case x.PublishedAt == nil && y.PublishedAt == nil:
			return 0, false
		case x.PublishedAt == nil:
			return 1, true // drafts with no date last, both ways
		case y.PublishedAt == nil:
			return -1, true
		}
		return x.PublishedAt.Compare(*y.PublishedAt), false
	}, func(a refArticle) string { return a.ID })
	ids := []string{}
	for _, a := range out {
		ids = append(ids, a.ID)
	}
	return ids
}

func ids(vs []articles.View) []string {
	return projectionstest.Pluck(vs, func(v articles.View) string { return v.ID })
}

// TestListsAgreeWithTheReference holds every list (each viewer, filter and
// ordering) to the simple reference, read page by page with offsets and
// with cursors, and its count to the number of articles it selects.
func TestListsAgreeWithTheReference(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		randomBlog(t, db, 11, 900)
		arts := readArticles(t, db)
		// The author with the most drafts, a category and a tag with articles.
		drafts, cats, tags := map[string]int{}, map[string]int{}, map[string]int{}
		for _, a := range arts {
			if !a.IsPublished {
				drafts[a.AuthorID]++
			}
			if a.CategoryID != nil {
				cats[*a.CategoryID]++
			}
			for _, tg := range a.tags {
				tags[tg]++
			}
		}
		most := func(m map[string]int) string {
			best := ""
			for k, n := range m {
				if best == "" || n > m[best] || (n == m[best] && k < best) {
					best = k
				}
			}
			return best
		}
		author, cat, tag := most(drafts), most(cats), most(tags)
		if author == "" || cat == "" || tag == "" || len(arts) < 50 {
			t.Fatalf("the random blog is too small: %d articles", len(arts))
		}
		yes, no := true, false
		viewers := map[string]domain.Actor{"anonymous": {}, "an author": {ID: author}, "staff": {ID: "s", Staff: true}}
		filters := map[string]articles.Filter{
			"all":                {},
			"published":          {IsPublished: &yes},
			"drafts":             {IsPublished: &no},
			"a category":         {Category: cat},
			"the author":         {Author: author},
			"a tag":              {Tag: tag},
			"a category, drafts": {Category: cat, IsPublished: &no},
			"a search":           {Search: "the"},
			"category and tag":   {Category: cat, Tag: tag},
		}
		orderings := []string{"", "created_at", "title", "-title", "published_at", "-published_at", "updated_at", "-updated_at", "title,-published_at"}
		for vname, viewer := range viewers {
			for fname, f := range filters {
				for _, ordering := range orderings {
					f := f
					f.Viewer, f.Ordering = viewer, ordering
					want := reference(arts, f)
					what := fmt.Sprintf("%s, %s, ordering %q", vname, fname, ordering)
					projectionstest.CheckPages(t, what, want, 9, func(limit, offset int, cursor string) (projectionstest.Page, error) {
						f.Page = readmodels.Page{Limit: limit, Offset: offset, Cursor: cursor}
						l, err := articles.NewStore(db).ListArticles(ctx, f)
						return projectionstest.Page{IDs: ids(l.Items), Count: l.Count, Exact: l.CountExact, Next: l.Next}, err
					})
				}
			}
		}

		// A cursor of one ordering is refused with another, as is a forged one.
		page, err := articles.NewStore(db).ListArticles(ctx, articles.Filter{Ordering: "title", Page: readmodels.Page{Limit: 2}})
		if err != nil || page.Next == "" {
			t.Fatalf("first page: %v, next %q", err, page.Next)
		}
		for _, bad := range []articles.Filter{
			{Ordering: "-title", Page: readmodels.Page{Limit: 2, Cursor: page.Next}},
			{Ordering: "title", Page: readmodels.Page{Limit: 2, Cursor: "eyJvIjoidGl0bGUiLCJrIjpbMSwyXX0"}},
			{Ordering: "title", Page: readmodels.Page{Limit: 2, Cursor: "%%%"}},
		} {
			if _, err := articles.NewStore(db).ListArticles(ctx, bad); domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("cursor %q with %q: %v, want EINVALID", bad.Page.Cursor, bad.Ordering, err)
			}
		}
	})
}

// TestCountsPastTheBoundSaySo counts a search that matches more than
// CountBound articles: the count is the bound, and not exact.
func TestCountsPastTheBoundSaySo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := projectionstest.MustOpenSQLite(t)
	l := projectionstest.NewLog()
	l.Add(domain.UserStream(alice), &domain.UserRegistered{UserID: alice, Username: "Alice"})
	for i := 1; i <= readmodels.CountBound+5; i++ {
		l.Add(domain.ArticleStream(artID(i)), &domain.ArticleCreated{ArticleID: artID(i), Title: fmt.Sprint("note ", i),
			Slug: fmt.Sprint("note-", i), Content: "x", AuthorID: alice, Tags: []string{}, IsPublished: true, PublishedAt: &l.At, CreatedAt: l.At})
	}
	projectionstest.MustEnsure(t, db, articles.ReadModel{})
	projectionstest.ApplyAll(t, db, articles.ReadModel{}, l.Recs, 5000)
	page, err := articles.NewStore(db).ListArticles(ctx, articles.Filter{Search: "note", Page: readmodels.Page{Limit: 3}})
	if err != nil || page.Count != readmodels.CountBound || page.CountExact || len(page.Items) != 3 {
		t.Fatalf("search past the bound: count %d exact %v, %d items, %v", page.Count, page.CountExact, len(page.Items), err)
	}
	page, err = articles.NewStore(db).ListArticles(ctx, articles.Filter{Page: readmodels.Page{Limit: 3}})
	if err != nil || page.Count != readmodels.CountBound+5 || !page.CountExact {
		t.Fatalf("kept count: %d exact %v, %v", page.Count, page.CountExact, err)
	}
}

// TestCategoryAndTagListsByCursor reads the category and tag lists by
// offsets and by cursors: the same names in the same order, and counts that
// are the number of rows.
func TestCategoryAndTagListsByCursor(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		randomBlog(t, db, 15, 1500)
		var cats, tags int
		if err := db.Get(&cats, "SELECT COUNT(*) FROM categories"); err != nil {
			t.Fatal(err)
		}
		if err := db.Get(&tags, "SELECT COUNT(*) FROM tags"); err != nil {
			t.Fatal(err)
		}
		if cats < 5 || tags < 5 {
			t.Fatalf("the random blog has %d categories and %d tags", cats, tags)
		}
		type page struct {
			names []string
			count int
			exact bool
			next  string
		}
		lists := map[string]func(p readmodels.Page) (page, error){
			"categories": func(p readmodels.Page) (page, error) {
				l, err := articles.NewStore(db).ListCategories(ctx, p)
				var names []string
				for _, c := range l.Items {
					names = append(names, c.ID)
				}
				return page{names, l.Count, l.CountExact, l.Next}, err
			},
			"tags": func(p readmodels.Page) (page, error) {
				l, err := articles.NewStore(db).ListTags(ctx, "", p)
				var names []string
				for _, c := range l.Items {
					names = append(names, c.ID)
				}
				return page{names, l.Count, l.CountExact, l.Next}, err
			},
		}
		for name, list := range lists {
			want := map[string]int{"categories": cats, "tags": tags}[name]
			whole, err := list(readmodels.Page{Limit: 1000})
			if err != nil || whole.count != want || !whole.exact || len(whole.names) != want || whole.next != "" {
				t.Fatalf("%s: whole list %d items, count %d (exact %v), next %q, %v; want %d", name, len(whole.names), whole.count, whole.exact, whole.next, err, want)
			}
			// By lower-cased name, then id.
			rows := projectionstest.MustSelect[struct{ ID, Name string }](t, db, "SELECT id, name FROM "+name)
			slices.SortFunc(rows, func(x, y struct{ ID, Name string }) int {
				return cmp.Or(strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name)), strings.Compare(x.ID, y.ID))
			})
			for i, r := range rows {
				if whole.names[i] != r.ID {
					t.Fatalf("%s: item %d is %s, want %s (%q)", name, i, whole.names[i], r.ID, r.Name)
				}
			}
			var got []string
			p := readmodels.Page{Limit: 2}
			for range want {
				pg, err := list(p)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, pg.names...)
				if pg.next == "" {
					break
				}
				p.Cursor = pg.next
			}
			if !slices.Equal(got, whole.names) {
				t.Fatalf("%s by cursor %q, want %q", name, got, whole.names)
			}
		}
	})
}

// Queries are prepared once (on SQLite) and read the views: after a
// rebuild swaps a new generation in, the same prepared list reads it.
func TestPreparedQueriesFollowASwap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := eventstoretest.MustOpen(t)
	db := projectionstest.MustOpenSQLite(t)
	app := projectionstest.NewAppender(store)
	w := projectionstest.NewWorkload(16, projectionstest.RandomMix)
	staff := articles.Filter{Viewer: domain.Actor{ID: "s", Staff: true}, Page: readmodels.Page{Limit: 100}}
	list := func(db *projections.DB) []string {
		page, err := articles.NewStore(db).ListArticles(ctx, staff)
		if err != nil {
			t.Fatal(err)
		}
		return ids(page.Items)
	}
	projectionstest.AppendSteps(t, app, w, 200)
	projectionstest.MustRebuild(t, db, store, 10000, readModels...)
	before := list(db)
	projectionstest.AppendSteps(t, app, w, 600)
	projectionstest.MustRebuild(t, db, store, 10000, readModels...)
	fresh := projectionstest.MustOpenSQLite(t)
	projectionstest.MustRebuild(t, fresh, store, 10000, readModels...)
	after, want := list(db), list(fresh)
	if slices.Equal(after, before) || !slices.Equal(after, want) {
		t.Fatalf("after the swap the list is\n %q\nwant\n %q\n(before it: %q)", after, want, before)
	}
}
