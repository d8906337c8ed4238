package commands

import (
	"context"
	"fmt"

	"inkwell/domain"
)

// AddComment adds a comment by the actor on an article.
type AddComment struct {
	Actor     domain.Actor
	ArticleID string
	Body      string
	Meta      domain.Meta
}

// AddCommentHandler handles AddComment.
type AddCommentHandler struct{ *base }

// Handle decides the comment against the article as the log holds it.
// Returns EUNAUTHORIZED for an anonymous actor, ENOTFOUND for an article
// the actor cannot see (deleted, or someone else's draft for all but
// staff), and EINVALID for a bad body.
//
// The article and the comment are two streams: an article deleted between
// the load and the append keeps the comment in the log, but no read model
// shows a comment of a deleted article.
func (h AddCommentHandler) Handle(ctx context.Context, cmd AddComment) (Result, error) {
	if cmd.Actor.IsAnonymous() {
		return Result{}, domain.ErrAuthRequired
	}
	a, pos, err := h.loadArticle(ctx, cmd.ArticleID)
	if err != nil {
		return Result{}, err
	}
	id, err := h.newID(ctx)
	if err != nil {
		return Result{}, err
	}
	meta := h.meta(cmd.Actor, cmd.Meta)
	var c domain.Comment
	ev, err := c.Add(cmd.Actor, id, a, cmd.Body, meta.OccurredAt)
	if err != nil {
		return Result{}, refused(err, domain.ArticleStream(cmd.ArticleID), pos)
	}
	recs, err := h.Store.Append(ctx, domain.CommentStream(id), domain.Position{}, meta, ev)
	if err != nil {
		return Result{}, fmt.Errorf("add comment: %w", err)
	}
	return resultOf(id, recs), nil
}

// DeleteComment deletes a comment of an article.
type DeleteComment struct {
	Actor     domain.Actor
	ArticleID string
	ID        string
	Meta      domain.Meta
}

// DeleteCommentHandler handles DeleteComment.
type DeleteCommentHandler struct{ *base }

// Handle deletes the comment: its author, the article's author or staff
// may (EFORBIDDEN for anyone else). A comment that is not of that article,
// or of one the actor cannot see, is ENOTFOUND.
func (h DeleteCommentHandler) Handle(ctx context.Context, cmd DeleteComment) (Result, error) {
	a, _, err := h.loadArticle(ctx, cmd.ArticleID)
	if err != nil {
		return Result{}, err
	}
	meta := h.meta(cmd.Actor, cmd.Meta)
	_, res, err := changeByID(ctx, h.base, cmd.ID, domain.CommentStream, domain.ErrCommentNotFound, meta, func(c *domain.Comment) (domain.Event, error) {
		return c.Delete(cmd.Actor, a)
	})
	return res, err
}

// DeleteAuthorsComment deletes a comment because its author's account was
// deleted or erased. Inkwell issues it itself (see package reactors).
type DeleteAuthorsComment struct {
	CommentID string
	AuthorID  string
	Meta      domain.Meta
}

// DeleteAuthorsCommentHandler handles DeleteAuthorsComment.
type DeleteAuthorsCommentHandler struct{ *base }

// Handle deletes the comment if it is live and by that author; otherwise
// (it is already deleted, say because this command is redelivered) it
// changes nothing and reports no error.
func (h DeleteAuthorsCommentHandler) Handle(ctx context.Context, cmd DeleteAuthorsComment) (Result, error) {
	meta := h.meta(domain.SystemActor, cmd.Meta)
	_, res, err := changeByID(ctx, h.base, cmd.CommentID, domain.CommentStream, domain.ErrCommentNotFound, meta, func(c *domain.Comment) (domain.Event, error) {
		return c.DeleteForAuthorRemoval(cmd.AuthorID), nil
	})
	return res, err
}
