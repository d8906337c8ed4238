package articles_test

import (
	"context"
	"fmt"
	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	alice = "00000000-0000-7000-8000-00000000a11c"
	bob   = "00000000-0000-7000-8000-000000000b0b"
	news  = "00000000-0000-7000-8000-0000000000c1"
	tech  = "00000000-0000-7000-8000-0000000000c2"
	tagGo = "00000000-0000-7000-8000-0000000000f1"
	tagDB = "00000000-0000-7000-8000-0000000000f2"
)

func artID(n int) string { return fmt.Sprintf("00000000-0000-7000-8000-%012d", n) }

// blog builds a small blog: two authors, two categories, two tags, six articles.
func blog() *projectionstest.LogBuilder {
	l := projectionstest.NewLog()
	l.Add(domain.UserStream(alice), &domain.UserRegistered{UserID: alice, Username: "Alice", FirstName: "Alice", LastName: "A"})
	l.Add(domain.UserStream(bob), &domain.UserRegistered{UserID: bob, Username: "bob", FirstName: "Bob", LastName: "B"})
	l.Add(domain.CategoryStream(news), &domain.CategoryCreated{CategoryID: news, Name: "News", Slug: "news", CreatedAt: l.At})
	l.Add(domain.CategoryStream(tech), &domain.CategoryCreated{CategoryID: tech, Name: "Tech", Slug: "tech", CreatedAt: l.At})
	l.Add(domain.TagStream(tagGo), &domain.TagCreated{TagID: tagGo, Name: "Go", Slug: "go", CreatedAt: l.At})
	l.Add(domain.TagStream(tagDB), &domain.TagCreated{TagID: tagDB, Name: "Databases", Slug: "databases", CreatedAt: l.At})
	type art struct {
		title, author, cat string
		tags               []string
		published          bool
		content            string
	}
	arts := []art{
		{"Zebra crossings", alice, news, []string{tagGo}, true, "Stripes on the road 100%"},
		{"apples and Go", alice, tech, []string{tagGo, tagDB}, true, "Why gophers eat apples"},
		{"Draft by Alice", alice, "", nil, false, "unfinished thoughts"},
		{"Bob's SQL notes", bob, tech, []string{tagDB}, true, "SELECT words FROM brain"},
		{"Draft by Bob", bob, news, nil, false, "secret plan"},
		{"middle_name", bob, "", nil, true, "underscores_are_literal"},
	}
	for i, a := range arts {
		var pub *time.Time
		if a.published {
			t := l.At.Add(time.Duration(i) * time.Hour)
			pub = &t
		}
		tags := a.tags
		if tags == nil {
			tags = []string{}
		}
		l.Add(domain.ArticleStream(artID(i+1)), &domain.ArticleCreated{ArticleID: artID(i + 1), Title: a.title,
			Slug: domain.Slugify(a.title, "a"), Content: a.content, Excerpt: domain.Excerpt(a.content), ExcerptAuto: true,
			AuthorID: a.author, CategoryID: a.cat, Tags: tags, IsPublished: a.published, PublishedAt: pub, CreatedAt: l.At})
	}
	return l
}

func titles(vs []articles.View) []string {
	return projectionstest.Pluck(vs, func(v articles.View) string { return v.Title })
}

func TestArticleQueries(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		projectionstest.MustEnsure(t, db, articles.ReadModel{})
		projectionstest.ApplyAll(t, db, articles.ReadModel{}, blog().Recs, 4)

		all := readmodels.Page{Limit: 100}
		yes, no := true, false
		after := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
		asStaff := domain.Actor{ID: "s", Staff: true}
		asAlice := domain.Actor{ID: alice}
		cases := []struct {
			name  string
			f     articles.Filter
			want  []string
			count int
		}{
			{"anonymous sees published, newest first", articles.Filter{Page: all},
				[]string{"middle_name", "Bob's SQL notes", "apples and Go", "Zebra crossings"}, 4},
			{"an author also sees their drafts", articles.Filter{Viewer: asAlice, Ordering: "created_at", Page: all},
				[]string{"Zebra crossings", "apples and Go", "Draft by Alice", "Bob's SQL notes", "middle_name"}, 5},
			{"staff sees everything", articles.Filter{Viewer: asStaff, Ordering: "created_at", Page: all},
				[]string{"Zebra crossings", "apples and Go", "Draft by Alice", "Bob's SQL notes", "Draft by Bob", "middle_name"}, 6},
			{"title order ignores case", articles.Filter{Ordering: "title", Page: all},
				[]string{"apples and Go", "Bob's SQL notes", "middle_name", "Zebra crossings"}, 4},
			{"title descending", articles.Filter{Ordering: "-title", Page: all},
				[]string{"Zebra crossings", "middle_name", "Bob's SQL notes", "apples and Go"}, 4},
			// Ties (the drafts here) break by id, in the ordering's direction.
			{"published_at puts drafts last both ways", articles.Filter{Viewer: asStaff, Ordering: "-published_at", Page: all},
				[]string{"middle_name", "Bob's SQL notes", "apples and Go", "Zebra crossings", "Draft by Bob", "Draft by Alice"}, 6},
			{"published_at ascending", articles.Filter{Viewer: asStaff, Ordering: "published_at", Page: all},
				[]string{"Zebra crossings", "apples and Go", "Bob's SQL notes", "middle_name", "Draft by Alice", "Draft by Bob"}, 6},
			{"page 2 of size 2", articles.Filter{Ordering: "title", Page: readmodels.Page{Limit: 2, Offset: 2}},
				[]string{"middle_name", "Zebra crossings"}, 4},
			{"past the end", articles.Filter{Page: readmodels.Page{Limit: 2, Offset: 10}}, []string{}, 4},
			{"category by slug", articles.Filter{Category: "tech", Ordering: "title", Page: all}, []string{"apples and Go", "Bob's SQL notes"}, 2},
			{"category by number", articles.Filter{Category: "1", Page: all}, []string{"Zebra crossings"}, 1},
			{"category by id", articles.Filter{Category: tech, Ordering: "title", Page: all}, []string{"apples and Go", "Bob's SQL notes"}, 2},
			{"unknown category", articles.Filter{Category: "nope", Page: all}, []string{}, 0},
			{"tag by slug", articles.Filter{Tag: "databases", Ordering: "title", Page: all}, []string{"apples and Go", "Bob's SQL notes"}, 2},
			{"tag by name, any case", articles.Filter{Tag: "GO", Ordering: "title", Page: all}, []string{"apples and Go", "Zebra crossings"}, 2},
			{"tag by number", articles.Filter{Tag: "2", Ordering: "title", Page: all}, []string{"apples and Go", "Bob's SQL notes"}, 2},
			{"author by username, any case", articles.Filter{Author: "ALICE", Ordering: "title", Page: all}, []string{"apples and Go", "Zebra crossings"}, 2},
			{"author by id", articles.Filter{Author: bob, Ordering: "title", Page: all}, []string{"Bob's SQL notes", "middle_name"}, 2},
			{"drafts only, as staff", articles.Filter{Viewer: asStaff, IsPublished: &no, Ordering: "title", Page: all}, []string{"Draft by Alice", "Draft by Bob"}, 2},
			{"published only, as Alice", articles.Filter{Viewer: asAlice, IsPublished: &yes, Page: all}, []string{"middle_name", "Bob's SQL notes", "apples and Go", "Zebra crossings"}, 4},
			{"published after", articles.Filter{PublishedAfter: &after, Ordering: "published_at", Page: all}, []string{"Bob's SQL notes", "middle_name"}, 2},
			{"published before", articles.Filter{PublishedBefore: &after, Ordering: "published_at", Page: all}, []string{"Zebra crossings", "apples and Go"}, 2},
			{"search the title, any case", articles.Filter{Search: "ZEBRA", Page: all}, []string{"Zebra crossings"}, 1},
			{"search the content", articles.Filter{Search: "gophers", Page: all}, []string{"apples and Go"}, 1},
			{"search takes % literally", articles.Filter{Search: "100%", Page: all}, []string{"Zebra crossings"}, 1},
			{"search takes _ literally", articles.Filter{Search: "s_a", Page: all}, []string{"middle_name"}, 1},
			{"search does not find others' drafts", articles.Filter{Search: "secret", Page: all}, []string{}, 0},
			{"filters combine", articles.Filter{Tag: "go", Category: "news", Author: "alice", Page: all}, []string{"Zebra crossings"}, 1},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				page, err := articles.NewStore(db).ListArticles(ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				got, count := page.Items, page.Count
				if !reflect.DeepEqual(titles(got), tc.want) || count != tc.count {
					t.Fatalf("got %q (count %d), want %q (count %d)", titles(got), count, tc.want, tc.count)
				}
			})
		}
		if _, err := articles.NewStore(db).ListArticles(ctx, articles.Filter{Ordering: "views", Page: all}); domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("unknown ordering: %v", err)
		}

		v, err := articles.NewStore(db).ArticleByRef(ctx, domain.Actor{}, "apples-and-go")
		if err != nil {
			t.Fatal(err)
		}
		if v.Number != 2 || v.Author.Username != "Alice" || v.Category == nil || v.Category.Slug != "tech" ||
			len(v.Tags) != 2 || v.Tags[0].Name != "Go" || v.Tags[1].Slug != "databases" || v.WordCount != 4 || v.ReadingTime != 1 {
			t.Fatalf("detail view %+v", v)
		}
		if _, err := articles.NewStore(db).ArticleByRef(ctx, domain.Actor{ID: alice}, artID(5)); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("another's draft: %v", err)
		}
		if _, err := articles.NewStore(db).ArticleByRef(ctx, domain.Actor{ID: bob}, "5"); err != nil {
			t.Fatalf("own draft by number: %v", err)
		}
	})
}

func TestArticlesProjectionFollowsChanges(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		db := open(t)
		projectionstest.MustEnsure(t, db, articles.ReadModel{})
		l := blog()
		l.Add(domain.ArticleStream(artID(2)), &domain.ArticleUpdated{AuthorID: alice, Title: strp("Apples"), Tags: &[]string{tagDB}, CategoryID: strp("")})
		l.Add(domain.UserStream(alice), &domain.UserRegistered{UserID: alice, Username: "Alice", FirstName: "Alicia", LastName: "A"})
		l.Add(domain.CategoryStream(news), &domain.CategoryDeleted{})
		l.Add(domain.ArticleStream(artID(4)), &domain.ArticleUnpublished{})
		l.Add(domain.ArticleStream(artID(6)), &domain.ArticleDeleted{})
		l.Add(domain.ArticleStream(artID(7)), &domain.ArticleCreated{ArticleID: artID(7), Title: "Late", Slug: "late",
			AuthorID: bob, Tags: []string{}, CreatedAt: l.At})
		// One event at a time and all at once must give the same rows.
		projectionstest.ApplyAll(t, db, articles.ReadModel{}, l.Recs, 1)
		other := open(t)
		projectionstest.MustEnsure(t, other, articles.ReadModel{})
		projectionstest.ApplyAll(t, other, articles.ReadModel{}, l.Recs, len(l.Recs))

		for _, d := range []*projections.DB{db, other} {
			staffView := domain.Actor{ID: "s", Staff: true}
			page, err := articles.NewStore(d).ListArticles(ctx, articles.Filter{Viewer: staffView, Ordering: "created_at", Page: readmodels.Page{Limit: 100}})
			if err != nil {
				t.Fatal(err)
			}
			got, n := page.Items, page.Count
			if n != 6 || !reflect.DeepEqual(titles(got), []string{"Zebra crossings", "Apples", "Draft by Alice", "Bob's SQL notes", "Draft by Bob", "Late"}) {
				t.Fatalf("after changes: %q", titles(got))
			}
			byTitle := map[string]articles.View{}
			for _, v := range got {
				byTitle[v.Title] = v
			}
			if c := byTitle["Zebra crossings"].Category; c != nil {
				t.Fatalf("article of a deleted category still has it: %+v", c)
			}
			if a := byTitle["Apples"]; a.Category != nil || len(a.Tags) != 1 || a.Tags[0].ID != tagDB || a.Author.FirstName != "Alicia" || a.Version != 2 {
				t.Fatalf("updated article %+v", a)
			}
			if byTitle["Bob's SQL notes"].IsPublished {
				t.Fatal("unpublished article is published")
			}
			if byTitle["Late"].Number != 7 {
				t.Fatalf("number of a later article: %d (numbers are never reused)", byTitle["Late"].Number)
			}
			if page, _ := articles.NewStore(d).ListArticles(ctx, articles.Filter{Viewer: staffView, Tag: "go", Page: readmodels.Page{Limit: 10}}); page.Count != 1 {
				t.Fatalf("tag filter after retagging: %d", page.Count)
			}
		}
	})
}

func strp(s string) *string { return &s }

func TestWordCountSplitsLikeFields(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", " ", "one", "  two words ", "tab\tand\nnewline", "nbsp\u00a0split", "em\u2003space", "x\xffy z", "ünïcödé wörds"} {
		if got, want := articles.WordCount(s), len(strings.Fields(s)); got != want {
			t.Errorf("WordCount(%q) = %d, want %d", s, got, want)
		}
	}
}
