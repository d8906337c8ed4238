package projections_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
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
	l := newLog()
	id := func(kind, i int) string { return fmt.Sprintf("0190%04x-0000-7000-8000-%012d", kind, i) }
	for i := range 100 {
		l.add(domain.UserStream(id(1, i)), &domain.UserRegistered{UserID: id(1, i), Username: fmt.Sprint("author", i)})
	}
	for i := range 20 {
		l.add(domain.CategoryStream(id(2, i)), &domain.CategoryCreated{CategoryID: id(2, i), Name: fmt.Sprint("Category ", i), Slug: fmt.Sprint("category-", i), CreatedAt: l.at})
	}
	for i := range 50 {
		l.add(domain.TagStream(id(3, i)), &domain.TagCreated{TagID: id(3, i), Name: fmt.Sprint("tag", i), Slug: fmt.Sprint("tag", i), CreatedAt: l.at})
	}
	for i := range n {
		var pub *time.Time
		if i%10 != 0 {
			t := l.at.Add(time.Duration(i%977) * time.Minute)
			pub = &t
		}
		l.add(domain.ArticleStream(id(4, i)), &domain.ArticleCreated{ArticleID: id(4, i), Title: fmt.Sprintf("Article %x", i*7919%n),
			Slug: fmt.Sprint("article-", i), Content: "words of the article", AuthorID: id(1, i%100), CategoryID: id(2, i%20),
			Tags: []string{id(3, i%50)}, IsPublished: pub != nil, PublishedAt: pub, CreatedAt: l.at})
	}
	mustEnsure(b, db, readmodels.Articles{})
	applyAll(b, db, readmodels.Articles{}, l.recs, 5000)
}

// BenchmarkListArticles reads the first page of 20 of article lists, and a
// page deep in them after a cursor, from read models of each size: the
// time per list should not grow with the size (compare the sizes' ns/op).
//
//	go test -run '^$' -bench BenchmarkListArticles -benchtime 2000x ./projections
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
		f    readmodels.ArticleFilter
	}{
		{"anonymous", readmodels.ArticleFilter{}},
		{"anonymous,title", readmodels.ArticleFilter{Ordering: "title"}},
		{"anonymous,-published_at", readmodels.ArticleFilter{Ordering: "-published_at"}},
		{"anonymous,updated_at", readmodels.ArticleFilter{Ordering: "updated_at"}},
		{"author", readmodels.ArticleFilter{Viewer: author}},
		{"staff", readmodels.ArticleFilter{Viewer: staff}},
		{"category", readmodels.ArticleFilter{Category: "category-3"}},
		{"by-author", readmodels.ArticleFilter{Author: "author7"}},
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
					for _, deep := range []bool{false, true} {
						name := l.name
						if deep {
							name += "/deep"
						}
						b.Run(name, func(b *testing.B) {
							f := l.f
							f.Page = readmodels.Page{Limit: 20}
							if deep {
								// A cursor half-way down the list.
								f.Page.Limit = 100
								for range size / 200 {
									page, err := readmodels.NewStore(db).ListArticles(ctx, f)
									if err != nil || page.Next == "" {
										break
									}
									f.Page.Cursor = page.Next
								}
								f.Page.Limit = 20
							}
							b.ResetTimer()
							for range b.N {
								page, err := readmodels.NewStore(db).ListArticles(ctx, f)
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
