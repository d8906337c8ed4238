package follows_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
	"inkwell/readmodels/follows"
)

// feedBlog makes a read model where one reader follows authors authors of
// perAuthor published articles each, and one more author has followers
// followers: the feed of the reader has authors*perAuthor rows.
func feedBlog(b *testing.B, db *projections.DB, authors, perAuthor, followers int) (reader, popular string) {
	b.Helper()
	projectionstest.MustEnsure(b, db, follows.ReadModel{})
	l := projectionstest.NewLog()
	user := func(i int) string { return fmt.Sprintf("00000000-0000-7000-8000-%012d", 500000000+i) }
	reader, popular = user(0), user(1)
	for i := 0; i < 2+authors+followers; i++ {
		l.Add(domain.UserStream(user(i)), &domain.UserRegistered{UserID: user(i), Username: fmt.Sprint("u", i)})
	}
	for a := 0; a < authors; a++ {
		l.Add(domain.FollowStream(reader, user(2+a)), &domain.FollowAdded{FollowerID: reader, FolloweeID: user(2 + a), At: l.At})
	}
	for f := 0; f < followers; f++ {
		l.Add(domain.FollowStream(user(2+authors+f), popular), &domain.FollowAdded{FollowerID: user(2 + authors + f), FolloweeID: popular, At: l.At})
	}
	n := 0
	for k := 0; k < perAuthor; k++ {
		for a := 0; a < authors; a++ {
			n++
			t := l.At.Add(time.Duration(n) * time.Second)
			id := fmt.Sprintf("00000000-0000-7000-9000-%012d", n)
			l.Add(domain.ArticleStream(id), &domain.ArticleCreated{ArticleID: id, AuthorID: user(2 + a), Tags: []string{}, CreatedAt: t, IsPublished: true, PublishedAt: &t})
		}
	}
	projectionstest.ApplyAll(b, db, follows.ReadModel{}, l.Recs, 5000)
	return reader, popular
}

// BenchmarkFeed compares the fan-out feed with what a bounded merge of the
// followed authors' indexes would read for the same page, and measures the
// cost of the fan-out itself (publishing to many followers).
//
//	go test -run '^$' -bench Feed -benchtime 200x ./readmodels/follows
func BenchmarkFeed(b *testing.B) {
	ctx := context.Background()
	for _, size := range []struct{ authors, perAuthor, followers int }{{10, 100, 1000}, {500, 200, 10000}} {
		db := projectionstest.MustOpenSQLite(b)
		reader, popular := feedBlog(b, db, size.authors, size.perAuthor, size.followers)
		s := follows.NewStore(db)
		name := fmt.Sprintf("follows=%d,feed=%d", size.authors, size.authors*size.perAuthor)
		first, err := s.Feed(ctx, reader, readmodels.Page{Limit: 20})
		if err != nil || first.Next == "" {
			b.Fatal(err)
		}
		b.Run(name+"/fan-out page", func(b *testing.B) {
			for range b.N {
				if _, err := s.Feed(ctx, reader, readmodels.Page{Limit: 20, Cursor: first.Next}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/bounded merge page", func(b *testing.B) {
			var authors []string
			if err := db.Select(&authors, db.Rebind("SELECT followee_id FROM followings WHERE follower_id = ?"), reader); err != nil {
				b.Fatal(err)
			}
			for range b.N {
				var all []time.Time
				for _, a := range authors {
					var ts []time.Time
					if err := db.SelectContext(ctx, &ts, db.Rebind("SELECT published_at FROM author_articles WHERE author_id = ? ORDER BY published_at DESC, id DESC LIMIT 21"), a); err != nil {
						b.Fatal(err)
					}
					all = append(all, ts...)
				}
				slices.SortFunc(all, func(x, y time.Time) int { return y.Compare(x) })
			}
		})
		b.Run(fmt.Sprintf("%s/publish to %d followers", name, size.followers), func(b *testing.B) {
			publish(b, db, popular)
		})
		b.Run(name+"/publish to 1 follower", func(b *testing.B) {
			publish(b, db, fmt.Sprintf("00000000-0000-7000-8000-%012d", 500000002))
		})
	}
}

// nextSeq is the log sequence of the next publication: past every batch
// applied before (an earlier sequence would be skipped as applied).
var nextSeq uint64 = 1 << 40

// publish applies b.N publications by author, one a transaction.
func publish(b *testing.B, db *projections.DB, popular string) {
	ctx := context.Background()
	base := time.Now().UnixNano()
	for i := range b.N {
		id := fmt.Sprintf("00000000-0000-7000-a000-%012d", (base+int64(i))%1_000_000_000_000)
		t := time.Date(2027, 1, 1, 0, 0, i, 0, time.UTC)
		nextSeq++
		rec := domain.Record{Seq: nextSeq, Version: 1, Type: "article.created", Stream: domain.ArticleStream(id), OccurredAt: t,
			Event: &domain.ArticleCreated{ArticleID: id, AuthorID: popular, Tags: []string{}, CreatedAt: t, IsPublished: true, PublishedAt: &t}}
		if _, err := projections.ApplyBatch(ctx, db, follows.ReadModel{}, []domain.Record{rec}, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
