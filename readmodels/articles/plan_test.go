package articles_test

import (
	"inkwell/projections/projectionstest"

	"context"
	"fmt"
	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"regexp"
	"strings"
	"testing"
)

// TestListQueriesReadInIndexOrder runs the planner on every list query the
// documented orderings make, for each viewer, on the first page and on a
// page after a cursor, and on the lists of one author and of one category
// in the default ordering: none scans the table or sorts.
func TestListQueriesReadInIndexOrder(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		randomBlog(t, db, 12, 1500)
		// The author and the category with the most published articles.
		var author, cat string
		if err := db.Get(&author, db.Rebind("SELECT a.author_id FROM articles a JOIN article_authors u ON u.id = a.author_id WHERE a.is_published = ? GROUP BY a.author_id ORDER BY COUNT(*) DESC, a.author_id LIMIT 1"), true); err != nil {
			t.Fatal(err)
		}
		if err := db.Get(&cat, db.Rebind("SELECT a.category_id FROM articles a JOIN categories c ON c.id = a.category_id WHERE a.is_published = ? GROUP BY a.category_id ORDER BY COUNT(*) DESC, a.category_id LIMIT 1"), true); err != nil {
			t.Fatal(err)
		}
		yes := true
		viewers := map[string]domain.Actor{"anonymous": {}, "an author": {ID: author}, "staff": {ID: "s", Staff: true}}
		type list struct {
			what string
			f    articles.Filter
		}
		var lists []list
		for vname, v := range viewers {
			for _, o := range append([]string{""}, articles.Orderings...) {
				for _, dir := range []string{"", "-"} {
					if o == "" && dir == "-" {
						continue
					}
					lists = append(lists, list{fmt.Sprintf("%s, ordering %q", vname, dir+o), articles.Filter{Viewer: v, Ordering: dir + o}})
				}
			}
			lists = append(lists,
				list{vname + ", published", articles.Filter{Viewer: v, IsPublished: &yes}},
				list{vname + ", one author", articles.Filter{Viewer: v, Author: author}},
				list{vname + ", one category", articles.Filter{Viewer: v, Category: cat}},
			)
		}
		for _, l := range lists {
			f := l.f
			f.Page = readmodels.Page{Limit: 1}
			first, err := articles.NewStore(db).ListArticles(ctx, f)
			if err != nil || first.Next == "" {
				t.Fatalf("%s: %v (next %q): the blog is too small for this test", l.what, err, first.Next)
			}
			for _, cursor := range []string{"", first.Next} {
				f.Page.Cursor = cursor
				qs, args, err := articles.ListQueries(articles.NewStore(db), f)
				if err != nil {
					t.Fatal(err)
				}
				for i, q := range qs {
					projectionstest.CheckPlan(t, db, "articles", fmt.Sprintf("%s (cursor %v), branch %d", l.what, cursor != "", i), l.f.Ordering, q, args[i])
				}
			}
		}
	})
}

// TestFavoritedListReadsInIndexOrder runs the planner on the list of a
// user's favorites (?favorited=), both ways, first page and after a
// cursor, with and without another filter: it reads the user's index on
// article_favorites in order (the user and the cursor in its search) and
// joins each article by key, with no scan and no sort.
func TestFavoritedListReadsInIndexOrder(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		recs := randomBlog(t, db, 12, 1500)
		// Every user favors every third published article: many favorites,
		// many users.
		l := projectionstest.NewLog()
		var users, published []string
		for _, r := range recs {
			switch e := r.Event.(type) {
			case *domain.UserRegistered:
				users = append(users, e.UserID)
			case *domain.ArticleCreated:
				if e.IsPublished {
					published = append(published, e.ArticleID)
				}
			}
		}
		for i, u := range users {
			for j, a := range published {
				if (i+j)%3 == 0 {
					l.Add(domain.FavoriteStream(u, a), &domain.FavoriteAdded{UserID: u, ArticleID: a, At: l.At})
				}
			}
		}
		for i := range l.Recs {
			l.Recs[i].Seq += uint64(len(recs))
		}
		projectionstest.ApplyAll(t, db, articles.ReadModel{}, l.Recs, 500)
		var user string
		if err := db.Get(&user, db.Rebind("SELECT user_id FROM article_favorites WHERE is_published = ? GROUP BY user_id ORDER BY COUNT(*) DESC, user_id LIMIT 1"), true); err != nil {
			t.Fatal(err)
		}
		for _, ordering := range []string{"", "created_at"} {
			for _, f := range []articles.Filter{{Favorited: user}, {Favorited: "someone", Viewer: domain.Actor{ID: user}}, {Favorited: user, Search: "the"}} {
				f.Ordering, f.Page = ordering, readmodels.Page{Limit: 1}
				first, err := articles.NewStore(db).ListArticles(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if f.Favorited == user && first.Next == "" {
					t.Fatalf("%+v: one page only: the blog is too small for this test", f)
				}
				for _, cursor := range []string{"", first.Next} {
					f.Page.Cursor = cursor
					qs, args, err := articles.ListQueries(articles.NewStore(db), f)
					if err != nil || len(qs) != 1 {
						t.Fatalf("%v, %d queries", err, len(qs))
					}
					what := fmt.Sprintf("favorited=%s search %q ordering %q (cursor %v)", f.Favorited, f.Search, ordering, cursor != "")
					cols := []string{"user_id", "is_published"}
					if cursor != "" {
						cols = append(cols, "article_created_at")
					}
					projectionstest.CheckIndexSearch(t, db, "article_favorites", what, qs[0], args[0], cols...)
				}
			}
		}
	})
}

// The statements that derive the favorites once a rebuild's rows are in
// join the favorites with the articles by key: none runs a subquery for
// each favorite (PostgreSQL's plan of NOT IN over a subquery larger than
// work_mem), and SQLite looks an article up by its key.
func TestFavoriteDerivationsJoinByKey(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		projectionstest.MustEnsure(t, db, articles.ReadModel{})
		projectionstest.ApplyAll(t, db, articles.ReadModel{}, favoritesLog().Recs, 5)
		st, err := db.State(ctx, articles.ReadModel{}.Name())
		if err != nil {
			t.Fatal(err)
		}
		arts := fmt.Sprintf("articles_g%d", st.Generation)
		scansArticles := regexp.MustCompile(`^SCAN (a|` + arts + `)( |$)`)
		for _, stmt := range articles.FavoriteDerivations(fmt.Sprintf("article_favorites_g%d", st.Generation), arts) {
			plan := projectionstest.Plan(t, db, stmt, nil)
			for _, step := range plan {
				step = strings.TrimSpace(strings.TrimLeft(step, " ->"))
				if strings.Contains(step, "SubPlan") || scansArticles.MatchString(step) {
					t.Errorf("%q: a subquery or a scan of the articles for each favorite\nquery: %s\nplan:\n  %s", step, stmt, strings.Join(plan, "\n  "))
				}
			}
		}
	})
}
