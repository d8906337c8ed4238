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
	return changePair(ctx, h.base, cmd.Actor, cmd.FolloweeID, cmd.Meta, h.loadUser, domain.FollowStream,
		func(f *domain.Follow, u *domain.User, meta domain.Meta) (domain.Event, error) {
			return f.Add(cmd.Actor, u, meta.OccurredAt)
		})
}

// UnfollowUser ends the actor's following of another user.
type UnfollowUser FollowUser

// UnfollowUserHandler handles UnfollowUser.
type UnfollowUserHandler struct{ *base }

// Handle ends the follow; one that is not there changes nothing. Returns
// ENOTFOUND for an account that does not exist and is not followed.
func (h UnfollowUserHandler) Handle(ctx context.Context, cmd UnfollowUser) (Result, error) {
	return changePair(ctx, h.base, cmd.Actor, cmd.FolloweeID, cmd.Meta, h.loadUser, domain.FollowStream,
		func(f *domain.Follow, u *domain.User, _ domain.Meta) (domain.Event, error) {
			return f.Remove(cmd.Actor, u)
		})
}

// loadUser loads the user of id (ENOTFOUND for an id that cannot exist).
func (b *base) loadUser(ctx context.Context, id string) (*domain.User, domain.Position, error) {
	return loadByID[domain.User](ctx, b, id, domain.UserStream, domain.ErrUserNotFound)
}
