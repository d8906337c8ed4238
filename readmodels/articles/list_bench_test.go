package articles_test

import (
	"context"
	"fmt"
	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"os"
	"strconv"
	"testing"
	"time"
)

// listSizes are the numbers of articles BenchmarkListArticles lists from:
// $INKWELL_BENCH_LIST_SIZES (comma-separated), or 1,000 and 100,000.
func listSizes(b *testing.B) []int {
	v := os.Getenv("INKWELL_BENCH_LIST_SIZES")
	if v == "" {
		return []int{1000, 100000}
	}
	var out []int
	for _, f := range splitComma(v) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			b.Fatalf("INKWELL_BENCH_LIST_SIZES=%q: %q is not a positive number", v, f)
		}
		out = append(out, n)
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}

// listBlog applies a blog of n articles to the articles read model: 100
// authors, 20 categories, 50 tags, nine in ten articles published.
func listBlog(b *testing.B, db *projections.DB, n int) {
	b.Helper()
	l := projectionstest.NewLog()
	id := func(kind, i int) string { return fmt.Sprintf("0190%04x-0000-7000-8000-%012d", kind, i) }
	for i := range 100 {
		l.Add(domain.UserStream(id(1, i)), &domain.UserRegistered{UserID: id(1, i), Username: fmt.Sprint("author", i)})
	}
	for i := range 20 {
		l.Add(domain.CategoryStream(id(2, i)), &domain.CategoryCreated{CategoryID: id(2, i), Name: fmt.Sprint("Category ", i), Slug: fmt.Sprint("category-", i), CreatedAt: l.At})
	}
	for i := range 50 {
		l.Add(domain.TagStream(id(3, i)), &domain.TagCreated{TagID: id(3, i), Name: fmt.Sprint("tag", i), Slug: fmt.Sprint("tag", i), CreatedAt: l.At})
	}
	for i := range n {
		var pub *time.Time
		if i%10 != 0 {
			t := l.At.Add(time.Duration(i%977) * time.Minute)
			pub = &t
		}
		l.Add(domain.ArticleStream(id(4, i)), &domain.ArticleCreated{ArticleID: id(4, i), Title: fmt.Sprintf("Article %x", i*7919%n),
			Slug: fmt.Sprint("article-", i), Content: "words of the article", AuthorID: id(1, i%100), CategoryID: id(2, i%20),
			Tags: []string{id(3, i%50)}, IsPublished: pub != nil, PublishedAt: pub, CreatedAt: l.At})
	}
	projectionstest.MustEnsure(b, db, articles.ReadModel{})
	projectionstest.ApplyAll(b, db, articles.ReadModel{}, l.Recs, 5000)
}

// BenchmarkListArticles reads the first page of 20 of article lists, a page
// deep in them after a cursor, and the deepest page an offset may reach
// (max-offset: readmodels.MaxOffset), from read models of each size: the
// time per list should not grow with the size (compare the sizes' ns/op),
// and the deepest offset should cost about what the first page does.
//
//	go test -run '^$' -bench BenchmarkListArticles -benchtime 2000x ./readmodels/articles
func BenchmarkListArticles(b *testing.B) {
	ctx := context.Background()
	dialects := map[string]func(testing.TB) *projections.DB{"sqlite": projectionstest.MustOpenSQLite}
	if os.Getenv("INKWELL_TEST_DATABASE_URL") != "" {
		dialects["postgres"] = projectionstest.MustOpenPostgres
	}
	staff := domain.Actor{ID: "s", Staff: true}
	author := domain.Actor{ID: fmt.Sprintf("0190%04x-0000-7000-8000-%012d", 1, 7)}
	lists := []struct {
		name string
		f    articles.Filter
	}{
		{"anonymous", articles.Filter{}},
		{"anonymous,title", articles.Filter{Ordering: "title"}},
		{"anonymous,-published_at", articles.Filter{Ordering: "-published_at"}},
		{"anonymous,updated_at", articles.Filter{Ordering: "updated_at"}},
		{"author", articles.Filter{Viewer: author}},
		{"staff", articles.Filter{Viewer: staff}},
		{"category", articles.Filter{Category: "category-3"}},
		{"by-author", articles.Filter{Author: "author7"}},
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		open := dialects[dialect]
		if open == nil {
			continue
		}
		for _, size := range listSizes(b) {
			b.Run(fmt.Sprintf("%s/%d", dialect, size), func(b *testing.B) {
				db := open(b)
				listBlog(b, db, size)
				for _, l := range lists {
					for _, depth := range []string{"", "/deep", "/max-offset"} {
						name := l.name + depth
						b.Run(name, func(b *testing.B) {
							f := l.f
							f.Page = readmodels.Page{Limit: 20}
							switch depth {
							case "/max-offset":
								// The deepest page a page number or offset may
								// reach: readmodels.MaxOffset down, or the last
								// page of a shorter list.
								first, err := articles.NewStore(db).ListArticles(ctx, f)
								if err != nil || !first.CountExact {
									b.Fatalf("list: %v (count exact: %v)", err, first.CountExact)
								}
								f.Page.Offset = min(readmodels.MaxOffset, (first.Count-1)/20*20)
							case "/deep":
								// A cursor half-way down the list.
								f.Page.Limit = 100
								for range size / 200 {
									page, err := articles.NewStore(db).ListArticles(ctx, f)
									if err != nil || page.Next == "" {
										break
									}
									f.Page.Cursor = page.Next
								}
								f.Page.Limit = 20
							}
							b.ResetTimer()
							for range b.N {
								page, err := articles.NewStore(db).ListArticles(ctx, f)
								if err != nil || len(page.Items) == 0 {
									b.Fatalf("list: %v (%d items)", err, len(page.Items))
								}
							}
						})
					}
				}
			})
		}
	}
}
