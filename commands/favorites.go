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
	return changePair(ctx, h.base, cmd.Actor, cmd.ArticleID, cmd.Meta, h.loadArticle, domain.FavoriteStream,
		func(f *domain.Favorite, a *domain.Article, meta domain.Meta) (domain.Event, error) {
			return f.Add(cmd.Actor, a, meta.OccurredAt)
		})
}

// UnfavoriteArticle takes an article out of the actor's favorites.
type UnfavoriteArticle FavoriteArticle

// UnfavoriteArticleHandler handles UnfavoriteArticle.
type UnfavoriteArticleHandler struct{ *base }

// Handle takes the favorite back; one that is not there changes nothing.
// Returns ENOTFOUND for an article the actor neither favors nor can see.
func (h UnfavoriteArticleHandler) Handle(ctx context.Context, cmd UnfavoriteArticle) (Result, error) {
	return changePair(ctx, h.base, cmd.Actor, cmd.ArticleID, cmd.Meta, h.loadArticle, domain.FavoriteStream,
		func(f *domain.Favorite, a *domain.Article, _ domain.Meta) (domain.Event, error) {
			return f.Remove(cmd.Actor, a)
		})
}
