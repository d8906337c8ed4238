package follows

import (
	"context"
	"fmt"
	"strings"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// Profile is a user's public profile, as a viewer sees it.
type Profile struct {
	ID       string `db:"id"`
	Username string `db:"username"`
	Bio      string `db:"bio"`
	Avatar   string `db:"avatar"`
	// Following reports whether the viewer follows the user.
	Following bool `db:"-"`
}

// ProfileByUsername returns the profile of the user with the given username
// (in any case) or id, with Following for viewer. Returns ENOTFOUND if
// there is none (or it was deleted).
func (db *Store) ProfileByUsername(ctx context.Context, viewer domain.Actor, ref string) (Profile, error) {
	cond := "LOWER(p.username) = LOWER(?)"
	if readmodels.IsUUID(ref) {
		cond = "p.id = ?"
	}
	p, err := readmodels.Get[Profile](ctx, db.DB, domain.ErrUserNotFound, "profile", "SELECT p.id, p.username, p.bio, p.avatar FROM profiles p WHERE "+cond+" LIMIT 1", ref)
	if err != nil {
		return p, err
	}
	on, err := db.FollowingAmong(ctx, viewer, []string{p.ID})
	p.Following = on[p.ID]
	return p, err
}

// ProfilesByIDs returns the profiles of the users ids (those there are), by
// id, with Following for viewer: two lookups by key for all of them (the
// authors of a page of articles).
func (db *Store) ProfilesByIDs(ctx context.Context, viewer domain.Actor, ids []string) (map[string]Profile, error) {
	out := map[string]Profile{}
	if len(ids) == 0 {
		return out, nil
	}
	q, args, err := projections.InQuery("SELECT p.id, p.username, p.bio, p.avatar FROM profiles p WHERE p.id IN (?)", ids)
	if err != nil {
		return nil, err
	}
	var ps []Profile
	if err := db.SelectContext(ctx, &ps, db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	on, err := db.FollowingAmong(ctx, viewer, ids)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		p.Following = on[p.ID]
		out[p.ID] = p
	}
	return out, nil
}

// FollowingAmong returns which of ids the viewer follows: one lookup by
// key for all of them (the authors of a page of articles, say).
func (db *Store) FollowingAmong(ctx context.Context, viewer domain.Actor, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if viewer.IsAnonymous() || len(ids) == 0 {
		return out, nil
	}
	args := []any{viewer.ID}
	for _, id := range ids {
		args = append(args, id)
	}
	q := "SELECT followee_id FROM followings WHERE follower_id = ? AND followee_id IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")"
	var held []string
	if err := db.SelectContext(ctx, &held, db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("following: %w", err)
	}
	for _, id := range held {
		out[id] = true
	}
	return out, nil
}

// FeedEntry is an article of a feed: which, and its sort keys.
type FeedEntry struct {
	ArticleID   string    `db:"article_id"`
	PublishedAt time.Time `db:"published_at"`
}

var feedKeys = []readmodels.SortKey[FeedEntry]{
	{Expr: "published_at", Desc: true, Kind: readmodels.KeyTime, Value: func(e *FeedEntry) any { return e.PublishedAt.UTC() }},
	{Expr: "article_id", Desc: true, Kind: readmodels.KeyText, Value: func(e *FeedEntry) any { return e.ArticleID }},
}

// feedOrdering names the feed's one order in its cursors.
const feedOrdering = "-published_at"

// planFeed builds the query of a page of viewerID's feed. Returns EINVALID
// for a cursor not of a feed.
func (db *Store) planFeed(viewerID string, page readmodels.Page) (readmodels.List[FeedEntry], error) {
	var cur []any
	if page.Cursor != "" {
		var err error
		if cur, err = readmodels.DecodeCursor(page.Cursor, feedOrdering, feedKeys); err != nil {
			return readmodels.List[FeedEntry]{}, err
		}
	}
	b := readmodels.Branch{}.And("viewer_id = ?", viewerID)
	return readmodels.PlanList(db.DB, feedOrdering, feedKeys, []readmodels.Branch{b}, cur, "SELECT article_id, published_at FROM feed", page), nil
}

// feedCount counts viewerID's feed, exact up to readmodels.CountBound as
// every list's count: the sum of the published articles of the authors
// they follow (author_counts), which reads a row per author followed, not
// the feed's rows.
func (db *Store) feedCount(ctx context.Context, viewerID string) (int, bool, error) {
	var n int64
	q := "SELECT COALESCE(SUM(c.n), 0) FROM followings f JOIN author_counts c ON c.author_id = f.followee_id WHERE f.follower_id = ?"
	if err := db.GetContext(ctx, &n, db.Rebind(q), viewerID); err != nil {
		return 0, false, err
	}
	if n > readmodels.CountBound {
		return readmodels.CountBound, false, nil
	}
	return int(n), true, nil
}

// Feed returns a page of the feed of viewerID: the published articles of
// the authors they follow, newest published first (the id breaking ties),
// read in the order of the feed's index and stopped at the page's end;
// its count is exact up to readmodels.CountBound (see feedCount). The articles themselves
// are the articles read model's (articles.Store.ArticlesByIDs).
func (db *Store) Feed(ctx context.Context, viewerID string, page readmodels.Page) (readmodels.ListPage[FeedEntry], error) {
	var out readmodels.ListPage[FeedEntry]
	l, err := db.planFeed(viewerID, page)
	if err != nil {
		return out, err
	}
	if out.Count, out.CountExact, err = db.feedCount(ctx, viewerID); err != nil {
		return out, fmt.Errorf("count the feed: %w", err)
	}
	out.Items, out.Next, err = readmodels.RunList(ctx, db.DB, l, page, func(e *FeedEntry) (FeedEntry, error) {
		e.PublishedAt = e.PublishedAt.UTC()
		return *e, nil
	})
	if err != nil {
		return out, fmt.Errorf("feed: %w", err)
	}
	return out, nil
}

// FeedQuery returns the statement (SQL and arguments) of a page of a feed:
// what the planner tests give to EXPLAIN.
func FeedQuery(db *Store, viewerID string, page readmodels.Page) (string, []any, error) {
	l, err := db.planFeed(viewerID, page)
	if err != nil || len(l.Stmts) != 1 {
		return "", nil, err
	}
	return l.Stmts[0].SQL, l.Stmts[0].Args, nil
}

// Follow is one follow, as the export shows it.
type Follow struct {
	FolloweeID string    `db:"followee_id" json:"user_id"`
	Username   string    `db:"username" json:"username"`
	CreatedAt  time.Time `db:"created_at" json:"followed_at"`
}

// FollowingOf returns up to limit of the users userID follows, after the
// followee id after ("": from the first), by followee id: the export's
// pages.
func (db *Store) FollowingOf(ctx context.Context, userID, after string, limit int) ([]Follow, error) {
	var out []Follow
	err := db.SelectContext(ctx, &out, db.Rebind(`SELECT g.followee_id, p.username, f.created_at FROM followings g
JOIN follows f ON f.followee_id = g.followee_id AND f.follower_id = g.follower_id
JOIN profiles p ON p.id = g.followee_id
WHERE g.follower_id = ? AND g.followee_id > ? ORDER BY g.followee_id LIMIT ?`), userID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("following of a user: %w", err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}
