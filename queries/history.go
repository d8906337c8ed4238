package queries

import (
	"context"

	"inkwell/domain"
)

// ArticleHistory asks for an article's events.
type ArticleHistory struct {
	Actor domain.Actor
	ID    string
}

// ArticleHistoryHandler returns an article's events, oldest first.
type ArticleHistoryHandler struct{ Store EventStore }

// Handle returns the history of the article to its author or staff
// (EFORBIDDEN for others; ENOTFOUND for someone else's draft or a missing
// or deleted article).
func (h ArticleHistoryHandler) Handle(ctx context.Context, q ArticleHistory) ([]domain.Record, error) {
	if q.Actor.IsAnonymous() {
		return nil, domain.ErrAuthRequired
	}
	if !domain.ValidID(q.ID) {
		return nil, domain.ErrArticleNotFound
	}
	var a domain.Article
	recs, err := load(ctx, h.Store, domain.ArticleStream(q.ID), &a)
	if err != nil {
		return nil, err
	}
	if err := a.Authorize(q.Actor, nil); err != nil {
		return nil, err
	}
	return recs, nil
}
