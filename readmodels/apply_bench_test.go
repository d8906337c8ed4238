package readmodels_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/comments"
	"inkwell/readmodels/follows"
	"inkwell/readmodels/personal"
)

// BenchmarkApplyCreates measures what a read model's transaction costs for
// a batch of article creations as a server under a load of creates applies
// them: 32 a batch, each with a category, two tags and a body of a few
// kilobytes, by 20 authors with 10 followers each. Each read model that the
// create's answer waits for (and the personal one, which runs beside them)
// is measured alone, on SQLite; ns/op is one event.
//
//	go test ./readmodels -run '^$' -bench ApplyCreates -count 3
func BenchmarkApplyCreates(b *testing.B) {
	const authors, followers, categories, tags, batch = 20, 10, 10, 20, 32
	id := func(kind, i int) string { return fmt.Sprintf("00000000-0000-7000-%04d-%012d", 8000+kind, i) }
	user := func(i int) string { return id(0, i) }
	setUp := projectionstest.NewLog()
	for i := range authors {
		setUp.Add(domain.UserStream(user(i)), &domain.UserRegistered{UserID: user(i), Username: fmt.Sprint("author", i)})
	}
	for i := range authors {
		for f := 1; f <= followers; f++ {
			follower := user((i + f) % authors)
			setUp.Add(domain.FollowStream(follower, user(i)), &domain.FollowAdded{FollowerID: follower, FolloweeID: user(i), At: setUp.At})
		}
	}
	for i := range categories {
		setUp.Add(domain.CategoryStream(id(1, i)), &domain.CategoryCreated{CategoryID: id(1, i), Name: fmt.Sprint("Category ", i), Slug: fmt.Sprint("category-", i), CreatedAt: setUp.At})
	}
	for i := range tags {
		setUp.Add(domain.TagStream(id(2, i)), &domain.TagCreated{TagID: id(2, i), Name: fmt.Sprint("tag", i), Slug: fmt.Sprint("tag", i), CreatedAt: setUp.At})
	}
	content := strings.Repeat("Words of an article that a client sends. ", 60)
	creates := func(l *projectionstest.LogBuilder, n int) []domain.Record {
		start := len(l.Recs)
		for k := range n {
			i := int(l.At.Unix()) + k
			at := l.At
			l.Add(domain.ArticleStream(id(3, i)), &domain.ArticleCreated{ArticleID: id(3, i), Title: fmt.Sprint("Article ", i), Slug: fmt.Sprint("article-", i),
				Content: content, Excerpt: content[:200], AuthorID: user(i % authors), CategoryID: id(1, i%categories),
				Tags: []string{id(2, i%tags), id(2, (i+7)%tags)}, IsPublished: true, PublishedAt: &at, CreatedAt: at})
		}
		return l.Recs[start:]
	}
	for _, p := range []projections.Projection{articles.ReadModel{}, follows.ReadModel{}, comments.ReadModel{}, personal.ReadModel{}} {
		b.Run(p.Name(), func(b *testing.B) {
			db := projectionstest.MustOpenSQLite(b)
			projectionstest.MustEnsure(b, db, p)
			l := *setUp
			l.Recs = append([]domain.Record(nil), setUp.Recs...)
			projectionstest.ApplyAll(b, db, p, l.Recs, 500)
			creates(&l, 2000) // a read model that already holds articles
			projectionstest.ApplyAll(b, db, p, l.Recs[len(setUp.Recs):], batch)
			l.At = l.At.Add(time.Hour)
			recs := creates(&l, b.N)
			b.ResetTimer()
			projectionstest.ApplyAll(b, db, p, recs, batch)
		})
	}
}
