package commands

import (
	"context"

	"inkwell/domain"
)

// FollowUser makes the actor follow another user, named by id or, when
// FolloweeID is empty, by username (in any case), which the log's claim on
// it resolves: the read models, which may be behind, are never asked.
type FollowUser struct {
	Actor            domain.Actor
	FolloweeID       string
	FolloweeUsername string
	Meta             domain.Meta
}

// FollowUserHandler handles FollowUser.
type FollowUserHandler struct{ *base }

// Handle follows the user. Following twice is one follow (no event the
// second time), also for two racing requests. Returns EUNAUTHORIZED for an
// anonymous actor, EINVALID (naming username) for oneself and ENOTFOUND for
// an account that does not exist or was deleted.
func (h FollowUserHandler) Handle(ctx context.Context, cmd FollowUser) (Result, error) {
	id, err := h.followee(ctx, cmd)
	if err != nil {
		return Result{}, err
	}
	return changePair(ctx, h.base, cmd.Actor, id, cmd.Meta, h.loadUser, domain.FollowStream,
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
	id, err := h.followee(ctx, FollowUser(cmd))
	if err != nil {
		return Result{}, err
	}
	return changePair(ctx, h.base, cmd.Actor, id, cmd.Meta, h.loadUser, domain.FollowStream,
		func(f *domain.Follow, u *domain.User, _ domain.Meta) (domain.Event, error) {
			return f.Remove(cmd.Actor, u)
		})
}

// followee returns the id of the user cmd names: FolloweeID, or the holder
// of the claim on FolloweeUsername (ENOTFOUND when nobody holds it).
func (b *base) followee(ctx context.Context, cmd FollowUser) (string, error) {
	if cmd.FolloweeID != "" || cmd.FolloweeUsername == "" {
		return cmd.FolloweeID, nil
	}
	if len(cmd.FolloweeUsername) > domain.MaxUsernameLen {
		return "", domain.ErrUserNotFound
	}
	owner, held, err := b.claimHolder(ctx, domain.ClaimUsername, cmd.FolloweeUsername)
	if err != nil {
		return "", err
	}
	if !held || owner.Type != domain.AggregateUser {
		return "", domain.ErrUserNotFound
	}
	return owner.ID, nil
}

// loadUser loads the user of id (ENOTFOUND for an id that cannot exist).
func (b *base) loadUser(ctx context.Context, id string) (*domain.User, domain.Position, error) {
	return loadByID[domain.User](ctx, b, id, domain.UserStream, domain.ErrUserNotFound)
}
