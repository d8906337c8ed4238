// Package follows is the follows read model: public profiles, who follows
// whom, and each user's feed (the published articles of the authors they
// follow, newest first), with the queries the API asks of them.
package follows

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// ReadModel is the follows read model, a projections.Projection.
type ReadModel struct {
	readmodels.Described[ReadModel]
}

// Describe implements readmodels.Describer.
// Version 2 counts each author's published articles (author_counts), from
// which a feed is counted; version 3 keys the feed in its pages' order
// (viewer_id, published_at, article_id) and stores the tables WITHOUT ROWID
// on SQLite.
func (ReadModel) Describe() readmodels.Description {
	return readmodels.Description{Name: "follows", Version: 3, Schema: schema,
		Tables:         []string{"profiles", "follows", "followings", "follow_articles", "author_articles", "author_counts", "feed"},
		AggregateTypes: []string{domain.AggregateUser, domain.AggregateArticle, domain.AggregateFollow}}
}

//go:embed schema.sql
var schema string

// Store answers the queries of the follows read model in a database.
type Store struct{ *projections.DB }

// NewStore returns the queries of the follows read model in db.
func NewStore(db *projections.DB) *Store { return &Store{DB: db} }

// Apply implements Projection. It writes each event's rows as it goes, in
// log order (a fan-out depends on the follows before it): most events of
// the log (an article's edits, a session) write nothing here, and each of
// the others a few statements, each by a primary key.
//
// Article creations in a row are applied together (see created).
func (ReadModel) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	a := applier{tx: tx}
	var run []domain.Record // article creations in a row, not yet applied
	for _, r := range recs {
		if _, ok := r.Event.(*domain.ArticleCreated); ok {
			if !r.Erased { // an erased author's articles never show
				run = append(run, r)
			}
			continue
		}
		if err := a.created(ctx, run); err != nil {
			return err
		}
		run = run[:0]
		if err := a.apply(ctx, r); err != nil {
			return fmt.Errorf("event %d (%s): %w", r.Seq, r.Type, err)
		}
	}
	return a.created(ctx, run)
}

// applier applies events in one transaction.
type applier struct{ tx *projections.Tx }

func (a applier) exec(ctx context.Context, q string, args ...any) error {
	if _, err := a.tx.ExecContext(ctx, a.tx.Rebind(q), args...); err != nil {
		return err
	}
	return nil
}

// t replaces each %s of q with the physical name of the tables named.
func (a applier) t(q string, tables ...string) string {
	names := make([]any, len(tables))
	for i, n := range tables {
		names[i] = a.tx.T(n)
	}
	return fmt.Sprintf(q, names...)
}

func (a applier) apply(ctx context.Context, r domain.Record) error {
	if r.Erased {
		// An erased user's registration and articles never show (their
		// articles are deleted by the erasure's cascade).
		return nil
	}
	id := r.Stream.ID
	switch e := r.Event.(type) {
	case *domain.UserRegistered:
		return a.exec(ctx, a.t("INSERT INTO %s (id, username, bio, avatar) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET username = excluded.username, bio = excluded.bio, avatar = excluded.avatar", "profiles"),
			id, e.Username, e.Bio, e.Avatar)
	case *domain.UserProfileUpdated:
		for col, v := range map[string]*string{"bio": e.Bio, "avatar": e.Avatar} {
			if v != nil {
				if err := a.exec(ctx, a.t("UPDATE %s SET "+col+" = ? WHERE id = ?", "profiles"), *v, id); err != nil {
					return err
				}
			}
		}
	case *domain.UserDeleted, *domain.UserErased:
		if _, erased := r.Event.(*domain.UserErased); erased {
			a.tx.ScrubAfterCommit()
		}
		return a.removeUser(ctx, id)
	case *domain.ArticleUpdated:
		if e.IsPublished != nil || e.PublishedAt != nil {
			return a.changeArticle(ctx, id, e.IsPublished, e.PublishedAt, false)
		}
	case *domain.ArticlePublished:
		yes := true
		return a.changeArticle(ctx, id, &yes, &e.PublishedAt, false)
	case *domain.ArticleUnpublished:
		no := false
		return a.changeArticle(ctx, id, &no, nil, false)
	case *domain.ArticleDeleted:
		no := false
		return a.changeArticle(ctx, id, &no, nil, true)
	case *domain.FollowAdded:
		return a.follow(ctx, e.FollowerID, e.FolloweeID, r.OccurredAt)
	case *domain.FollowRemoved:
		return a.unfollow(ctx, e.FollowerID, e.FolloweeID)
	}
	return nil
}

func dbTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := readmodels.DBTime(*t)
	return &u
}

// article is a published article as the feeds hold it.
type article struct {
	id, author  string
	publishedAt time.Time
}

// changeArticle applies a change of an article's publication (published
// and publishedAt, each nil when unchanged), or its deletion.
func (a applier) changeArticle(ctx context.Context, id string, published *bool, publishedAt *time.Time, deleted bool) error {
	var row struct {
		AuthorID    string     `db:"author_id"`
		IsPublished bool       `db:"is_published"`
		PublishedAt *time.Time `db:"published_at"`
	}
	err := a.tx.GetContext(ctx, &row, a.tx.Rebind(a.t("SELECT author_id, is_published, published_at FROM %s WHERE id = ?", "follow_articles")), id)
	if readmodels.IsNoRows(err) {
		return nil // never made (an erased author's) or gone
	} else if err != nil {
		return err
	}
	was := row.IsPublished && row.PublishedAt != nil
	var before article
	if was {
		before = article{id, row.AuthorID, *row.PublishedAt}
	}
	readmodels.SetIf(&row.IsPublished, published)
	if publishedAt != nil {
		t := *publishedAt
		row.PublishedAt = &t
	}
	is := row.IsPublished && row.PublishedAt != nil && !deleted
	if was && (!is || !row.PublishedAt.Equal(before.publishedAt)) {
		if err := a.unpublish(ctx, before); err != nil {
			return err
		}
	}
	if deleted {
		return a.exec(ctx, a.t("DELETE FROM %s WHERE id = ?", "follow_articles"), id)
	}
	if err := a.exec(ctx, a.t("UPDATE %s SET is_published = ?, published_at = ? WHERE id = ?", "follow_articles"), row.IsPublished, dbTime(row.PublishedAt), id); err != nil {
		return err
	}
	if is && (!was || !row.PublishedAt.Equal(before.publishedAt)) {
		return a.publish(ctx, article{id, row.AuthorID, *row.PublishedAt})
	}
	return nil
}

// publish adds a published article to its author's and to the feed of
// each of the author's followers (fan-out on write).
func (a applier) publish(ctx context.Context, art article) error {
	at := readmodels.DBTime(art.publishedAt)
	if err := a.exec(ctx, a.t("INSERT INTO %s (author_id, published_at, id) VALUES (?, ?, ?)", "author_articles"), art.author, at, art.id); err != nil {
		return err
	}
	if a.tx.CountsLater() {
		return nil // CountAll counts it and fans it out
	}
	if err := a.count(ctx, art.author, 1); err != nil {
		return err
	}
	return a.exec(ctx, a.t("INSERT INTO %s (viewer_id, author_id, article_id, published_at) SELECT follower_id, ?, ?, ? FROM %s WHERE followee_id = ?", "feed", "follows"),
		art.author, art.id, at, art.author)
}

// count adds delta to the number of author's published articles, kept
// beside author_articles (one row each) so that a feed is counted from its
// authors' counts rather than by reading its rows.
func (a applier) count(ctx context.Context, author string, delta int64) error {
	return a.exec(ctx, a.t("INSERT INTO %s AS c (author_id, n) VALUES (?, ?) ON CONFLICT (author_id) DO UPDATE SET n = c.n + excluded.n", "author_counts"), author, delta)
}

// unpublish takes an article out of its author's and out of every feed.
func (a applier) unpublish(ctx context.Context, art article) error {
	res, err := a.tx.ExecContext(ctx, a.tx.Rebind(a.t("DELETE FROM %s WHERE author_id = ? AND published_at = ? AND id = ?", "author_articles")),
		art.author, readmodels.DBTime(art.publishedAt), art.id)
	if err != nil {
		return err
	}
	if a.tx.CountsLater() {
		return nil // neither counted nor fanned out yet: see CountAll
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n > 0 {
		if err := a.count(ctx, art.author, -n); err != nil {
			return err
		}
	}
	return a.exec(ctx, a.t("DELETE FROM %s WHERE viewer_id IN (SELECT follower_id FROM %s WHERE followee_id = ?) AND published_at = ? AND article_id = ?", "feed", "follows"),
		art.author, readmodels.DBTime(art.publishedAt), art.id)
}

// follow records a follow of two users who are there (one recorded after
// either's deletion is not kept) and fills the follower's feed with the
// followee's published articles.
func (a applier) follow(ctx context.Context, follower, followee string, at time.Time) error {
	var n int
	if err := a.tx.GetContext(ctx, &n, a.tx.Rebind(a.t("SELECT COUNT(*) FROM %s WHERE id IN (?, ?)", "profiles")), follower, followee); err != nil {
		return err
	}
	if n != 2 {
		return nil
	}
	var held int
	if err := a.tx.GetContext(ctx, &held, a.tx.Rebind(a.t("SELECT COUNT(*) FROM %s WHERE followee_id = ? AND follower_id = ?", "follows")), followee, follower); err != nil {
		return err
	}
	if held > 0 {
		return nil
	}
	if err := a.exec(ctx, a.t("INSERT INTO %s (followee_id, follower_id, created_at) VALUES (?, ?, ?)", "follows"), followee, follower, readmodels.DBTime(at)); err != nil {
		return err
	}
	if err := a.exec(ctx, a.t("INSERT INTO %s (follower_id, followee_id) VALUES (?, ?)", "followings"), follower, followee); err != nil {
		return err
	}
	if a.tx.CountsLater() {
		return nil // CountAll fills the feeds
	}
	return a.exec(ctx, a.t("INSERT INTO %s (viewer_id, author_id, article_id, published_at) SELECT ?, author_id, id, published_at FROM %s WHERE author_id = ?", "feed", "author_articles"),
		follower, followee)
}

// unfollow ends a follow and empties the follower's feed of the followee.
func (a applier) unfollow(ctx context.Context, follower, followee string) error {
	if err := a.exec(ctx, a.t("DELETE FROM %s WHERE followee_id = ? AND follower_id = ?", "follows"), followee, follower); err != nil {
		return err
	}
	if err := a.exec(ctx, a.t("DELETE FROM %s WHERE follower_id = ? AND followee_id = ?", "followings"), follower, followee); err != nil {
		return err
	}
	// By the key of each of the followee's articles, rather than by a scan
	// of the whole feed for the followee's: the cost of an unfollow is that
	// of the follow.
	return a.exec(ctx, a.t("DELETE FROM %s WHERE viewer_id = ? AND (published_at, article_id) IN (SELECT published_at, id FROM %s WHERE author_id = ?)", "feed", "author_articles"),
		follower, followee)
}

// CountAll implements projections.Counter. A rebuild fills the tables
// before their indexes without the rows that follow from others
// (Tx.CountsLater): each author's count of published articles, and the
// feeds, which are every follow joined with the followee's published
// articles. It adds them here, once, in two statements, rather than a
// fan-out to every follower for each article published on the way (in the
// order of the feed's key: each row goes at the end of the table).
func (ReadModel) CountAll(ctx context.Context, tx *projections.Tx) error {
	a := applier{tx: tx}
	if err := a.exec(ctx, a.t("INSERT INTO %s (author_id, n) SELECT author_id, COUNT(*) FROM %s GROUP BY author_id", "author_counts", "author_articles")); err != nil {
		return fmt.Errorf("count published articles: %w", err)
	}
	if err := a.exec(ctx, a.t("INSERT INTO %s (viewer_id, published_at, article_id, author_id) SELECT f.follower_id, p.published_at, p.id, p.author_id FROM %s f JOIN %s p ON p.author_id = f.followee_id ORDER BY f.follower_id, p.published_at, p.id",
		"feed", "follows", "author_articles")); err != nil {
		return fmt.Errorf("fill the feeds: %w", err)
	}
	return nil
}

// removeUser takes a deleted user's profile, follows (both ways) and feed
// out, and their articles out of their followers' feeds (the articles
// themselves go with the deletion's cascade).
func (a applier) removeUser(ctx context.Context, id string) error {
	for _, q := range []struct {
		sql    string
		tables []string
		args   []any
	}{
		// Their followers: their articles leave those feeds, and the follows go.
		{"DELETE FROM %s WHERE viewer_id IN (SELECT follower_id FROM %s WHERE followee_id = ?) AND author_id = ?", []string{"feed", "follows"}, []any{id, id}},
		{"DELETE FROM %s WHERE follower_id IN (SELECT follower_id FROM %s WHERE followee_id = ?) AND followee_id = ?", []string{"followings", "follows"}, []any{id, id}},
		{"DELETE FROM %s WHERE followee_id = ?", []string{"follows"}, []any{id}},
		// Whom they followed, and their feed.
		{"DELETE FROM %s WHERE followee_id IN (SELECT followee_id FROM %s WHERE follower_id = ?) AND follower_id = ?", []string{"follows", "followings"}, []any{id, id}},
		{"DELETE FROM %s WHERE follower_id = ?", []string{"followings"}, []any{id}},
		{"DELETE FROM %s WHERE viewer_id = ?", []string{"feed"}, []any{id}},
		{"DELETE FROM %s WHERE id = ?", []string{"profiles"}, []any{id}},
	} {
		if err := a.exec(ctx, a.t(q.sql, q.tables...), q.args...); err != nil {
			return err
		}
	}
	return nil
}
