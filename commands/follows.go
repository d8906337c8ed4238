package commands

import (
	"context"

	"inkwell/domain"
)

// FollowUser makes the actor follow another user.
type FollowUser struct {
	Actor      domain.Actor
	FolloweeID string
	Meta       domain.Meta
}

// FollowUserHandler handles FollowUser.
type FollowUserHandler struct{ *base }

// Handle follows the user. Following twice is one follow (no event the
// second time), also for two racing requests. Returns EUNAUTHORIZED for an
// anonymous actor, EINVALID (naming username) for oneself and ENOTFOUND for
// an account that does not exist or was deleted.
func (h FollowUserHandler) Handle(ctx context.Context, cmd FollowUser) (Result, error) {
	return h.follow(ctx, cmd.Actor, cmd.FolloweeID, cmd.Meta, func(f *domain.Follow, u *domain.User, meta domain.Meta) (domain.Event, error) {
		return f.Add(cmd.Actor, u, meta.OccurredAt)
	})
}

// UnfollowUser ends the actor's following of another user.
type UnfollowUser struct {
	Actor      domain.Actor
	FolloweeID string
	Meta       domain.Meta
}

// UnfollowUserHandler handles UnfollowUser.
type UnfollowUserHandler struct{ *base }

// Handle ends the follow; one that is not there changes nothing. Returns
// ENOTFOUND for an account that does not exist and is not followed.
func (h UnfollowUserHandler) Handle(ctx context.Context, cmd UnfollowUser) (Result, error) {
	return h.follow(ctx, cmd.Actor, cmd.FolloweeID, cmd.Meta, func(f *domain.Follow, u *domain.User, _ domain.Meta) (domain.Event, error) {
		return f.Remove(cmd.Actor, u)
	})
}

// follow loads the followee, then decides on the pair's follow stream
// (retried from a fresh load on a concurrent change). The Result names the
// followee.
func (b *base) follow(ctx context.Context, actor domain.Actor, followeeID string, m domain.Meta,
	decide func(*domain.Follow, *domain.User, domain.Meta) (domain.Event, error)) (Result, error) {
	if actor.IsAnonymous() {
		return Result{}, domain.ErrAuthRequired
	}
	u, _, err := loadByID[domain.User](ctx, b, followeeID, domain.UserStream, domain.ErrUserNotFound)
	if err != nil {
		return Result{}, err
	}
	meta := b.meta(actor, m)
	_, res, err := change(ctx, b, domain.FollowStream(actor.ID, followeeID), meta, func(f *domain.Follow) (domain.Event, error) {
		return decide(f, u, meta)
	})
	res.ID = followeeID
	return res, err
}
