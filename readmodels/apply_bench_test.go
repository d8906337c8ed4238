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
// a batch of writes as a server under a load of them applies it: 32 events
// a batch, on SQLite, in a read model that holds 2,000 articles by 20
// authors with 10 followers each. ns/op is one event. The writes:
//
//   - create: article creations, each with a category, two tags and a body
//     of a few kilobytes, in each read model that the create's answer waits
//     for, and the personal one, which runs beside them;
//
//   - favorite: favorites of those articles, in the articles read model;
//
//   - comment: comments on them, in the comments read model.
//
//     go test ./readmodels -run '^$' -bench ApplyCreates -count 3
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
	setUpAt := setUp.At
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
	var seq int
	favoriting := func(l *projectionstest.LogBuilder, n int) []domain.Record {
		start := len(l.Recs)
		for range n {
			seq++
			u, art := user((seq/2000)%authors), id(3, seq%2000+int(setUpAt.Unix())) // a pair again after 40,000
			l.Add(domain.FavoriteStream(u, art), &domain.FavoriteAdded{UserID: u, ArticleID: art, AuthorID: user((seq%2000 + int(setUpAt.Unix())) % authors), At: l.At})
		}
		return l.Recs[start:]
	}
	commenting := func(l *projectionstest.LogBuilder, n int) []domain.Record {
		start := len(l.Recs)
		for range n {
			seq++
			c := id(4, seq)
			l.Add(domain.CommentStream(c), &domain.CommentAdded{ArticleID: id(3, seq%2000+int(setUpAt.Unix())), AuthorID: user(seq % authors), Body: content[:300], CreatedAt: l.At})
		}
		return l.Recs[start:]
	}
	for _, w := range []struct {
		name   string
		events func(*projectionstest.LogBuilder, int) []domain.Record
		ps     []projections.Projection
	}{
		{"create", creates, []projections.Projection{articles.ReadModel{}, follows.ReadModel{}, comments.ReadModel{}, personal.ReadModel{}}},
		{"favorite", favoriting, []projections.Projection{articles.ReadModel{}}},
		{"comment", commenting, []projections.Projection{comments.ReadModel{}}},
	} {
		for _, p := range w.ps {
			b.Run(w.name+"/"+p.Name(), func(b *testing.B) {
				db := projectionstest.MustOpenSQLite(b)
				projectionstest.MustEnsure(b, db, p)
				l := *setUp
				l.Recs = append([]domain.Record(nil), setUp.Recs...)
				projectionstest.ApplyAll(b, db, p, l.Recs, 500)
				creates(&l, 2000) // a read model that already holds articles
				projectionstest.ApplyAll(b, db, p, l.Recs[len(setUp.Recs):], batch)
				l.At = l.At.Add(time.Hour)
				recs := w.events(&l, b.N)
				b.ResetTimer()
				projectionstest.ApplyAll(b, db, p, recs, batch)
			})
		}
	}
}
