package reactors

import (
	"context"
	"errors"
	"fmt"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/queries"
)

// AuthoredArticles finds the articles of an author in the read model.
type AuthoredArticles interface {
	// ArticleIDsByAuthor returns the ids of every article (drafts too) by authorID.
	ArticleIDsByAuthor(ctx context.Context, authorID string) ([]string, error)
}

// AuthoredComments finds the comments of an author in the read model.
type AuthoredComments interface {
	// CommentIDsByAuthor returns the ids of every comment by authorID that
	// the read model holds (those it hides since the author's deletion too).
	CommentIDsByAuthor(ctx context.Context, authorID string) ([]string, error)
}

// ReadModels lets a reactor wait until the read models have applied an event.
type ReadModels interface {
	WaitFor(ctx context.Context, aggregateType string, seq uint64) error
}

// Cascade deletes the articles of a deleted user (the tutorial's CASCADE).
//
// On user.deleted (or user.erased) it waits until the read model has applied the deletion,
// then deletes every article the read model lists for that author. An
// article whose creation was appended after the deletion (its author's
// request was authorized just before) is caught on article.created: an
// article whose author no longer exists is deleted too. Deleting a deleted
// article changes nothing, so a redelivered event is harmless.
//
// A deleted user's comments follow the same rule as their articles: every
// comment Comments lists for the author is deleted, and a comment added
// after the deletion is caught on comment.added.
type Cascade struct {
	Commands *commands.Handlers
	Users    queries.Handler[string, *domain.User] // the current user (queries.Queries.CurrentUser)
	Articles AuthoredArticles
	// Comments, if set, lists the comments the cascade deletes.
	Comments   AuthoredComments
	ReadModels ReadModels
}

// Name implements Reactor.
func (*Cascade) Name() string { return "user-deletion-cascade" }

// AggregateTypes implements Reactor.
func (*Cascade) AggregateTypes() []string {
	return []string{domain.AggregateUser, domain.AggregateArticle, domain.AggregateComment}
}

// Handle implements Reactor.
func (c *Cascade) Handle(ctx context.Context, rec domain.Record) error {
	meta := domain.Meta{ActorID: domain.SystemActorID, CorrelationID: rec.CorrelationID}
	switch e := rec.Event.(type) {
	case *domain.UserDeleted, *domain.UserErased:
		if err := c.ReadModels.WaitFor(ctx, domain.AggregateUser, rec.Seq); err != nil {
			return err
		}
		ids, err := c.Articles.ArticleIDsByAuthor(ctx, rec.Stream.ID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := c.Commands.DeleteAuthorsArticle.Handle(ctx, commands.DeleteAuthorsArticle{
				ArticleID: id, AuthorID: rec.Stream.ID, Meta: meta,
			}); err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
				return fmt.Errorf("delete article %s of deleted user %s: %w", id, rec.Stream.ID, err)
			}
		}
		return c.deleteComments(ctx, rec.Stream.ID, meta)
	case *domain.ArticleCreated:
		_, err := c.Users.Handle(ctx, e.AuthorID)
		switch {
		case err == nil, errors.Is(err, domain.ErrAccountDisabled):
			return nil // the author exists
		case !errors.Is(err, domain.ErrNoSuchAccount):
			return err // retried
		}
		if _, err := c.Commands.DeleteAuthorsArticle.Handle(ctx, commands.DeleteAuthorsArticle{
			ArticleID: rec.Stream.ID, AuthorID: e.AuthorID, Meta: meta,
		}); err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
			return fmt.Errorf("delete article %s of deleted user %s: %w", rec.Stream.ID, e.AuthorID, err)
		}
	case *domain.CommentAdded:
		if gone, err := c.authorGone(ctx, e.AuthorID); !gone || err != nil {
			return err
		}
		return c.deleteComment(ctx, rec.Stream.ID, e.AuthorID, meta)
	}
	return nil
}

// authorGone reports whether the user authorID no longer exists (deleted
// or erased); a disabled account still does.
func (c *Cascade) authorGone(ctx context.Context, authorID string) (bool, error) {
	_, err := c.Users.Handle(ctx, authorID)
	switch {
	case err == nil, errors.Is(err, domain.ErrAccountDisabled):
		return false, nil
	case errors.Is(err, domain.ErrNoSuchAccount):
		return true, nil
	}
	return false, err // retried
}

// deleteComments deletes every comment the read model holds of a deleted
// author.
func (c *Cascade) deleteComments(ctx context.Context, authorID string, meta domain.Meta) error {
	if c.Comments == nil {
		return nil
	}
	ids, err := c.Comments.CommentIDsByAuthor(ctx, authorID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := c.deleteComment(ctx, id, authorID, meta); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cascade) deleteComment(ctx context.Context, id, authorID string, meta domain.Meta) error {
	if _, err := c.Commands.DeleteAuthorsComment.Handle(ctx, commands.DeleteAuthorsComment{
		CommentID: id, AuthorID: authorID, Meta: meta,
	}); err != nil && domain.ErrorCode(err) != domain.ENOTFOUND {
		return fmt.Errorf("delete comment %s of deleted user %s: %w", id, authorID, err)
	}
	return nil
}
