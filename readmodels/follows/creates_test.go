package follows_test

import (
	"testing"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/follows"
)

// Article creations in a row are applied together: the same rows as one
// at a time, whatever the batches, with each author's count and every
// follower's feed.
func TestCreationsInARow(t *testing.T) {
	l := projectionstest.NewLog()
	for _, id := range []string{alice, bob, carol, dave} {
		l.Add(domain.UserStream(id), &domain.UserRegistered{UserID: id, Username: id[len(id)-4:]})
	}
	l.Add(domain.FollowStream(carol, alice), &domain.FollowAdded{FollowerID: carol, FolloweeID: alice, At: l.At})
	l.Add(domain.FollowStream(dave, alice), &domain.FollowAdded{FollowerID: dave, FolloweeID: alice, At: l.At})
	l.Add(domain.FollowStream(carol, bob), &domain.FollowAdded{FollowerID: carol, FolloweeID: bob, At: l.At})
	create := func(n int, author string, published bool) {
		e := &domain.ArticleCreated{ArticleID: artID(n), AuthorID: author, Tags: []string{}, CreatedAt: l.At, IsPublished: published}
		if published {
			at := l.At
			e.PublishedAt = &at
		}
		l.Add(domain.ArticleStream(artID(n)), e)
	}
	create(1, alice, true)
	create(2, alice, true)
	create(3, bob, true)
	create(4, bob, false)  // a draft: in no feed, not counted
	create(5, carol, true) // no followers
	// A follow ends the run: the next creations fan out to dave too.
	l.Add(domain.FollowStream(dave, bob), &domain.FollowAdded{FollowerID: dave, FolloweeID: bob, At: l.At})
	create(6, bob, true)
	create(7, alice, true)

	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		db := projectionstest.ApplyInBatches(t, open, follows.ReadModel{}, l.Recs, 1, 2, 3, 1000)
		counts := projectionstest.MustSelect[struct {
			Author string `db:"author_id"`
			N      int64  `db:"n"`
		}](t, db, "SELECT author_id, n FROM author_counts ORDER BY author_id")
		want := map[string]int64{alice: 3, bob: 2, carol: 1}
		if len(counts) != len(want) {
			t.Fatalf("counts %v, want %v", counts, want)
		}
		for _, c := range counts {
			if want[c.Author] != c.N {
				t.Errorf("author %s: count %d, want %d", c.Author, c.N, want[c.Author])
			}
		}
		feed := projectionstest.MustSelect[struct {
			Viewer  string `db:"viewer_id"`
			Article string `db:"article_id"`
		}](t, db, "SELECT viewer_id, article_id FROM feed ORDER BY viewer_id, article_id")
		wantFeed := map[[2]string]bool{
			{carol, artID(1)}: true, {carol, artID(2)}: true, {carol, artID(3)}: true, {carol, artID(6)}: true, {carol, artID(7)}: true,
			{dave, artID(1)}: true, {dave, artID(2)}: true, {dave, artID(3)}: true, {dave, artID(6)}: true, {dave, artID(7)}: true,
		}
		if len(feed) != len(wantFeed) {
			t.Fatalf("feed rows %v, want %d", feed, len(wantFeed))
		}
		for _, f := range feed {
			if !wantFeed[[2]string{f.Viewer, f.Article}] {
				t.Errorf("feed row %s ← %s, not expected", f.Viewer, f.Article)
			}
		}
	})
}
