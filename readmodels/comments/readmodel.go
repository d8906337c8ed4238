// Package comments is the comments read model: the comments of live
// articles, with their authors' public names and what decides who sees
// them (their articles' authors and publication), and the queries the API
// asks of them.
package comments

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// ReadModel is the comments read model, a projections.Projection.
type ReadModel struct {
	readmodels.Described[ReadModel]
}

// Describe implements readmodels.Describer. The read model follows
// comments, and the articles and users they are on and by. Version 3
// stores its tables of small rows WITHOUT ROWID on SQLite.
func (ReadModel) Describe() readmodels.Description {
	return readmodels.Description{Name: "comments", Version: 3, Schema: schema,
		Tables:         []string{"comments", "comment_articles", "comment_authors", "comment_counters"},
		AggregateTypes: []string{domain.AggregateComment, domain.AggregateArticle, domain.AggregateUser}}
}

//go:embed schema.sql
var schema string

// Store answers the queries of the comments read model in a database.
type Store struct{ *projections.DB }

// NewStore returns the queries of the comments read model in db.
func NewStore(db *projections.DB) *Store { return &Store{DB: db} }

// commentRow is a row of comments.
type commentRow struct {
	ID        string    `db:"id"`
	ArticleID string    `db:"article_id"`
	AuthorID  string    `db:"author_id"`
	Body      string    `db:"body"`
	Shown     bool      `db:"shown"`
	CreatedAt time.Time `db:"created_at"`
	Version   uint64    `db:"version"`
	Number    int64     `db:"number"`
}

const commentColumns = "id, article_id, author_id, body, shown, created_at, version, number"

var commentCols = []string{"id", "article_id", "author_id", "body", "shown", "created_at", "version", "number"}

func (c *commentRow) values() []any {
	return []any{c.ID, c.ArticleID, c.AuthorID, c.Body, c.Shown, readmodels.DBTime(c.CreatedAt), c.Version, c.Number}
}

// articleRow is a row of comment_articles.
type articleRow struct {
	ID          string `db:"id"`
	AuthorID    string `db:"author_id"`
	IsPublished bool   `db:"is_published"`
}

// batch holds the rows one batch of events touches, folded in memory and
// written once (see flush). A deleted article's comments, and a deleted
// author's, are changed in memory where the batch holds them and with one
// statement each for the stored rows.
type batch struct {
	tx       *projections.Tx
	comments map[string]*commentRow
	articles map[string]*articleRow
	authors  *readmodels.Names // in comment_authors
	// The ids of the comments the batch holds, by article and by author.
	byArticle, byAuthor map[string][]string

	dirtyComments, dirtyArticles readmodels.OrderedSet
	goneComments, goneArticles   map[string]bool
	// hidden lists the deleted or erased authors whose stored comments
	// are hidden; erased, the erased ones, whose bodies are emptied.
	hidden, erased []string
	// number is the last number a comment took; numbered, whether the
	// batch took one.
	number   int64
	numbered bool
}

// Apply implements Projection.
func (ReadModel) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	b := &batch{
		tx: tx, comments: map[string]*commentRow{}, articles: map[string]*articleRow{}, authors: readmodels.NewNames(tx, "comment_authors"),
		byArticle: map[string][]string{}, byAuthor: map[string][]string{},
		goneComments: map[string]bool{}, goneArticles: map[string]bool{},
	}
	if err := b.load(ctx, recs); err != nil {
		return err
	}
	for _, r := range recs {
		switch r.Stream.Type {
		case domain.AggregateUser:
			b.applyUser(r)
		case domain.AggregateArticle:
			b.applyArticle(r)
		case domain.AggregateComment:
			b.applyComment(r)
		}
	}
	return b.flush(ctx)
}

// load reads the stored rows the batch's events touch.
func (b *batch) load(ctx context.Context, recs []domain.Record) error {
	tx := b.tx
	stored := readmodels.StoredOf(tx, recs)
	commentIDs, articleIDs, authorIDs := stored.Of(domain.AggregateComment), stored.Of(domain.AggregateArticle), stored.Of(domain.AggregateUser)
	for _, r := range recs {
		if e, ok := r.Event.(*domain.CommentAdded); ok {
			if tx.MayHave(domain.ArticleStream(e.ArticleID)) {
				articleIDs.Add(e.ArticleID)
			}
			if tx.MayHave(domain.UserStream(e.AuthorID)) {
				authorIDs.Add(e.AuthorID)
			}
		}
	}
	var comments []commentRow
	if err := projections.SelectWhereIn(ctx, tx, &comments, "SELECT "+commentColumns+" FROM "+tx.T("comments")+" WHERE id IN (?)", commentIDs.Keys); err != nil {
		return fmt.Errorf("load comments: %w", err)
	}
	for i := range comments {
		b.hold(&comments[i])
	}
	var articles []articleRow
	if err := projections.SelectWhereIn(ctx, tx, &articles, "SELECT id, author_id, is_published FROM "+tx.T("comment_articles")+" WHERE id IN (?)", articleIDs.Keys); err != nil {
		return fmt.Errorf("load comments' articles: %w", err)
	}
	for i := range articles {
		b.articles[articles[i].ID] = &articles[i]
	}
	if err := b.authors.Load(ctx, authorIDs.Keys); err != nil {
		return err
	}
	var numbers []int64
	if err := tx.SelectContext(ctx, &numbers, tx.Rebind("SELECT value FROM "+tx.T("comment_counters")+" WHERE name = ?"), "comment"); err != nil {
		return fmt.Errorf("load the comments' counter: %w", err)
	}
	for _, n := range numbers {
		b.number = n
	}
	return nil
}

// hold keeps a comment's row in the batch.
func (b *batch) hold(c *commentRow) {
	b.comments[c.ID] = c
	b.byArticle[c.ArticleID] = append(b.byArticle[c.ArticleID], c.ID)
	b.byAuthor[c.AuthorID] = append(b.byAuthor[c.AuthorID], c.ID)
}

// applyUser keeps the users' public names; a deleted or erased user's
// comments are hidden until the cascade deletes them, and an erased
// user's bodies leave the read model at once.
func (b *batch) applyUser(r domain.Record) {
	gone, erased := b.authors.Apply(r)
	if !gone {
		return
	}
	id := r.Stream.ID
	if erased {
		b.erased = append(b.erased, id)
	}
	b.hidden = append(b.hidden, id)
	for _, cid := range b.byAuthor[id] {
		if c := b.comments[cid]; c != nil {
			c.Shown = false
			if erased {
				c.Body = ""
			}
			b.dirtyComments.Add(cid)
		}
	}
}

// applyArticle keeps who wrote each live article and whether it is
// published; a deleted article's comments go with it. An erased author's
// article is as good as gone (its cascade deletes it): it gets no row, as
// in the articles read model.
func (b *batch) applyArticle(r domain.Record) {
	if r.Erased {
		return
	}
	id := r.Stream.ID
	a := b.articles[id]
	switch e := r.Event.(type) {
	case *domain.ArticleCreated:
		b.articles[id] = &articleRow{ID: id, AuthorID: e.AuthorID, IsPublished: e.IsPublished}
		delete(b.goneArticles, id)
		b.dirtyArticles.Add(id)
	case *domain.ArticleUpdated:
		if a != nil && e.IsPublished != nil {
			a.IsPublished = *e.IsPublished
			b.dirtyArticles.Add(id)
		}
	case *domain.ArticlePublished:
		if a != nil {
			a.IsPublished = true
			b.dirtyArticles.Add(id)
		}
	case *domain.ArticleUnpublished:
		if a != nil {
			a.IsPublished = false
			b.dirtyArticles.Add(id)
		}
	case *domain.ArticleDeleted:
		if a == nil {
			return
		}
		delete(b.articles, id)
		b.goneArticles[id] = true
		for _, cid := range b.byArticle[id] {
			delete(b.comments, cid)
		}
	}
}

// applyComment adds and deletes comments. A comment on an article without
// a row (deleted, or its author erased) gets none; one whose author has no
// name (deleted or erased) is hidden, and an erased author's body is not
// kept, so that a rebuild after an erasure writes what the live read model
// holds.
func (b *batch) applyComment(r domain.Record) {
	id := r.Stream.ID
	switch e := r.Event.(type) {
	case *domain.CommentAdded:
		// Every comment takes a number, kept or not: numbers follow the
		// log's order alone. (A comment whose row is held already, the
		// event delivered again, keeps its own.)
		number := int64(0)
		if held := b.comments[id]; held != nil {
			number = held.Number
		} else {
			b.number++
			b.numbered = true
			number = b.number
		}
		if b.articles[e.ArticleID] == nil {
			return
		}
		c := &commentRow{ID: id, ArticleID: e.ArticleID, AuthorID: e.AuthorID, Body: e.Body,
			Shown: b.authors.Get(e.AuthorID) != nil, CreatedAt: e.CreatedAt, Version: r.Version, Number: number}
		if r.Erased {
			c.Body, c.Shown = "", false
		}
		b.hold(c)
		delete(b.goneComments, id)
		b.dirtyComments.Add(id)
	case *domain.CommentDeleted:
		if b.comments[id] != nil {
			delete(b.comments, id)
			b.goneComments[id] = true
		}
	default:
		if c := b.comments[id]; c != nil {
			c.Version = r.Version
			b.dirtyComments.Add(id)
		}
	}
}

// flush writes the batch: names, articles, then the statements on stored
// comments (a deleted article's, a deleted author's), then the comments
// the batch holds.
func (b *batch) flush(ctx context.Context) error {
	tx := b.tx
	if err := b.authors.Flush(ctx); err != nil {
		return err
	}
	goneArticles := keys(b.goneArticles)
	if err := tx.DeleteWhereIn(ctx, tx.T("comment_articles"), "id", goneArticles); err != nil {
		return err
	}
	var articles [][]any
	for _, id := range b.dirtyArticles.Keys {
		if a := b.articles[id]; a != nil {
			articles = append(articles, []any{a.ID, a.AuthorID, a.IsPublished})
		}
	}
	if err := tx.Put(ctx, tx.T("comment_articles"), []string{"id", "author_id", "is_published"}, []string{"id"}, articles, readmodels.ByID(domain.AggregateArticle)); err != nil {
		return err
	}
	if err := tx.DeleteWhereIn(ctx, tx.T("comments"), "article_id", goneArticles); err != nil {
		return err
	}
	if err := b.update(ctx, "shown = FALSE", b.hidden); err != nil {
		return err
	}
	if err := b.update(ctx, "body = ''", b.erased); err != nil {
		return err
	}
	if err := tx.DeleteWhereIn(ctx, tx.T("comments"), "id", keys(b.goneComments)); err != nil {
		return err
	}
	if b.numbered {
		if err := tx.Upsert(ctx, tx.T("comment_counters"), []string{"name", "value"}, []string{"name"}, [][]any{{"comment", b.number}}); err != nil {
			return err
		}
	}
	var comments [][]any
	for _, id := range b.dirtyComments.Keys {
		if c := b.comments[id]; c != nil {
			comments = append(comments, c.values())
		}
	}
	return tx.Put(ctx, tx.T("comments"), commentCols, []string{"id"}, comments, readmodels.ByID(domain.AggregateComment))
}

// update sets one column of the stored comments of authors.
func (b *batch) update(ctx context.Context, set string, authors []string) error {
	if len(authors) == 0 {
		return nil
	}
	q, args, err := projections.InQuery("UPDATE "+b.tx.T("comments")+" SET "+set+" WHERE author_id IN (?)", authors)
	if err != nil {
		return err
	}
	if _, err := b.tx.ExecContext(ctx, b.tx.Rebind(q), args...); err != nil {
		return fmt.Errorf("hide the comments of deleted users: %w", err)
	}
	return nil
}

// keys returns the keys of a set, in no particular order.
func keys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
}
