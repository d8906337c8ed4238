package commands

import (
	"context"

	"inkwell/domain"
)

// FavoriteArticle marks an article as one of the actor's favorites.
type FavoriteArticle struct {
	Actor     domain.Actor
	ArticleID string
	Meta      domain.Meta
}

// FavoriteArticleHandler handles FavoriteArticle.
type FavoriteArticleHandler struct{ *base }

// Handle favorites the article: one the actor can see (published, or their
// own draft). Favoriting twice is one favorite (no event the second time),
// also for two racing requests: they append to the pair's one stream.
// Returns EUNAUTHORIZED for an anonymous actor and ENOTFOUND for an article
// the actor cannot see.
func (h FavoriteArticleHandler) Handle(ctx context.Context, cmd FavoriteArticle) (Result, error) {
	return h.favorite(ctx, cmd.Actor, cmd.ArticleID, cmd.Meta, func(f *domain.Favorite, a *domain.Article, now domain.Meta) (domain.Event, error) {
		return f.Add(cmd.Actor, a, now.OccurredAt)
	})
}

// UnfavoriteArticle takes an article out of the actor's favorites.
type UnfavoriteArticle struct {
	Actor     domain.Actor
	ArticleID string
	Meta      domain.Meta
}

// UnfavoriteArticleHandler handles UnfavoriteArticle.
type UnfavoriteArticleHandler struct{ *base }

// Handle takes the favorite back; one that is not there changes nothing.
// Returns ENOTFOUND for an article the actor neither favors nor can see.
func (h UnfavoriteArticleHandler) Handle(ctx context.Context, cmd UnfavoriteArticle) (Result, error) {
	return h.favorite(ctx, cmd.Actor, cmd.ArticleID, cmd.Meta, func(f *domain.Favorite, a *domain.Article, _ domain.Meta) (domain.Event, error) {
		return f.Remove(cmd.Actor, a)
	})
}

// favorite loads the article, then decides on the pair's favorite stream
// (retried from a fresh load on a concurrent change). The Result names the
// article (its id, and the log sequence of the favorite's event, if any,
// for read-your-writes).
func (b *base) favorite(ctx context.Context, actor domain.Actor, articleID string, m domain.Meta,
	decide func(*domain.Favorite, *domain.Article, domain.Meta) (domain.Event, error)) (Result, error) {
	if actor.IsAnonymous() {
		return Result{}, domain.ErrAuthRequired
	}
	a, _, err := b.loadArticle(ctx, articleID)
	if err != nil {
		return Result{}, err
	}
	meta := b.meta(actor, m)
	_, res, err := change(ctx, b, domain.FavoriteStream(actor.ID, articleID), meta, func(f *domain.Favorite) (domain.Event, error) {
		return decide(f, a, meta)
	})
	res.ID = articleID
	return res, err
}
