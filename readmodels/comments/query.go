package comments

import (
	"context"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/readmodels"
)

// AuthorRef is a comment's author as it shows: as an article's author.
type AuthorRef = readmodels.Name

// Comment is a comment as the API shows it.
type Comment struct {
	ID        string
	ArticleID string
	Author    AuthorRef
	Body      string
	CreatedAt time.Time
	Version   uint64
	// Number is the comment's number (1, 2, 3, ... in log order): the
	// Conduit surface's integer id.
	Number int64
}

// Key is where a comment stands in its author's comments (the export's
// pages): its creation time and id.
type Key = readmodels.Key

type commentViewRow struct {
	commentRow
	readmodels.NameColumns
}

func (r *commentViewRow) view() (Comment, error) {
	return Comment{
		ID: r.ID, ArticleID: r.ArticleID, Body: r.Body, CreatedAt: r.CreatedAt.UTC(), Version: r.Version, Number: r.Number,
		Author: r.Name(r.AuthorID),
	}, nil
}

const commentViewSelect = `SELECT c.id, c.article_id, c.author_id, c.body, c.shown, c.created_at, c.version, c.number,
	u.username AS author_username, u.first_name AS author_first_name, u.last_name AS author_last_name
FROM comments c
LEFT JOIN comment_authors u ON u.id = c.author_id`

// Filter selects the comments of one article.
type Filter struct {
	// Viewer decides visibility, as the article's: anyone sees the comments
	// of a published article; of a draft, its author and staff.
	Viewer    domain.Actor
	ArticleID string
	Page      readmodels.Page
}

// ordering is the one order of a list of comments, which its cursors name.
const ordering = "created_at"

// sortKeys are the sort keys of a list of comments: oldest first, the id
// breaking ties.
var sortKeys = []readmodels.SortKey[Comment]{
	{Expr: "c.created_at", Kind: readmodels.KeyTime, Value: func(c *Comment) any { return c.CreatedAt.UTC() }},
	{Expr: "c.id", Kind: readmodels.KeyText, Value: func(c *Comment) any { return c.ID }},
}

// visible returns ErrArticleNotFound unless the article is live and viewer
// may see it (see Filter.Viewer).
func (db *Store) visible(ctx context.Context, viewer domain.Actor, articleID string) error {
	a, err := readmodels.Get[articleRow](ctx, db.DB, domain.ErrArticleNotFound, "article of comments", "SELECT id, author_id, is_published FROM comment_articles WHERE id = ?", articleID)
	if err != nil || a.IsPublished || viewer.ID != "" && viewer.ID == a.AuthorID || viewer.IsStaff() {
		return err
	}
	return domain.ErrArticleNotFound
}

// planList builds the query of a page of f's comments.
func (db *Store) planList(f Filter) (readmodels.List[Comment], error) {
	var cur []any
	if f.Page.Cursor != "" {
		var err error
		if cur, err = readmodels.DecodeCursor(f.Page.Cursor, ordering, sortKeys); err != nil {
			return readmodels.List[Comment]{}, err
		}
	}
	b := readmodels.Branch{}.And("c.article_id = ?", f.ArticleID).And("c.shown = ?", true)
	return readmodels.PlanList(db.DB, ordering, sortKeys, []readmodels.Branch{b}, cur, commentViewSelect, f.Page), nil
}

// ListComments returns a page of the comments of an article, oldest first,
// read in index order, and how many it has (counted up to
// readmodels.CountBound). Returns ENOTFOUND for an article that is not
// live or that f.Viewer may not see, and EINVALID for a cursor not of this
// list.
func (db *Store) ListComments(ctx context.Context, f Filter) (readmodels.ListPage[Comment], error) {
	var page readmodels.ListPage[Comment]
	if err := db.visible(ctx, f.Viewer, f.ArticleID); err != nil {
		return page, err
	}
	l, err := db.planList(f)
	if err != nil {
		return page, err
	}
	if page.Count, page.CountExact, err = readmodels.CountUpTo(ctx, db.DB, "comments", []string{"article_id = ?", "shown = ?"}, f.ArticleID, true); err != nil {
		return page, fmt.Errorf("count comments: %w", err)
	}
	if page.Items, page.Next, err = readmodels.RunList(ctx, db.DB, l, f.Page, (*commentViewRow).view); err != nil {
		return page, fmt.Errorf("list comments: %w", err)
	}
	return page, nil
}

// CommentByID returns the comment id of the article articleID as viewer
// sees it. Returns ENOTFOUND for an article viewer may not see, and for a
// comment that is not of that article (or is deleted, or hidden).
func (db *Store) CommentByID(ctx context.Context, viewer domain.Actor, articleID, id string) (Comment, error) {
	if err := db.visible(ctx, viewer, articleID); err != nil {
		return Comment{}, err
	}
	r, err := readmodels.Get[commentViewRow](ctx, db.DB, domain.ErrCommentNotFound, "comment by id", commentViewSelect+" WHERE c.id = ? AND c.article_id = ? AND c.shown = ?", id, articleID, true)
	if err != nil {
		return Comment{}, err
	}
	return r.view()
}

// CommentIDByNumber returns the id of the comment numbered number (see
// Comment.Number). Returns ENOTFOUND if there is none, or if it is deleted
// or hidden.
func (db *Store) CommentIDByNumber(ctx context.Context, number int64) (string, error) {
	return readmodels.Get[string](ctx, db.DB, domain.ErrCommentNotFound, "comment by number", "SELECT id FROM comments WHERE number = ? AND shown = ?", number, true)
}

// CommentIDsByAuthor returns the ids of every comment by authorID that the
// read model holds, hidden ones too (those of a deleted author, which the
// user-deletion cascade deletes).
func (db *Store) CommentIDsByAuthor(ctx context.Context, authorID string) ([]string, error) {
	var ids []string
	if err := db.SelectContext(ctx, &ids, db.Rebind("SELECT id FROM comments WHERE author_id = ? ORDER BY created_at, id"), authorID); err != nil {
		return nil, fmt.Errorf("comments by author: %w", err)
	}
	return ids, nil
}

// CommentsOf returns a page of an author's comments, oldest first (the id
// breaking ties): up to limit of those after the comment after (nil: from
// the first), each page read in the index on (author_id, created_at, id),
// so that paging through any number of them reads each once (the export).
func (db *Store) CommentsOf(ctx context.Context, authorID string, after *Key, limit int) ([]Comment, error) {
	q, args := commentsOfPage(authorID, after, limit)
	var rows []commentViewRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("comments of a user: %w", err)
	}
	out := make([]Comment, 0, len(rows))
	for i := range rows {
		v, _ := rows[i].view()
		out = append(out, v)
	}
	return out, nil
}

// commentsOfPage is the statement of a page of CommentsOf.
func commentsOfPage(authorID string, after *Key, limit int) (string, []any) {
	return readmodels.PageAfter(commentViewSelect+" WHERE c.author_id = ? AND c.shown = ?", []any{authorID, true}, "c", after, limit)
}

// ListQueries returns the statements (SQL and arguments) that ListComments
// and CommentsOf run for a page (the list of f's, then an author's first
// page and a page after after): what the planner tests give to EXPLAIN.
func ListQueries(db *Store, f Filter, authorID string, after Key) ([]string, [][]any, error) {
	l, err := db.planList(f)
	if err != nil {
		return nil, nil, err
	}
	qs, args := []string{l.Stmts[0].SQL}, [][]any{l.Stmts[0].Args}
	for _, a := range []*Key{nil, &after} {
		q, arg := commentsOfPage(authorID, a, 500)
		qs, args = append(qs, db.Rebind(q)), append(args, arg)
	}
	return qs, args, nil
}
