package commands

import (
	"context"

	"inkwell/domain"
)

// UpdateUser is an administrator's change to an account.
type UpdateUser struct {
	Actor   domain.Actor
	ID      string
	Changes domain.AdminChanges
	Meta    domain.Meta
}

// UpdateUserHandler handles UpdateUser.
type UpdateUserHandler struct{ *base }

// Handle applies the change (see domain.User.AdminChange for the rules).
// Returns ECONFLICT (domain.ErrLastSuperuser) when it would leave no active
// superuser.
func (h UpdateUserHandler) Handle(ctx context.Context, cmd UpdateUser) (Result, error) {
	return h.changeUser(ctx, cmd.ID, h.meta(cmd.Actor, cmd.Meta), func(u *domain.User) ([]domain.Event, error) {
		return u.AdminChange(cmd.Actor, cmd.Changes)
	})
}

// DeleteUser is an administrator's deletion of an account.
type DeleteUser struct {
	Actor domain.Actor
	ID    string
	Meta  domain.Meta
}

// DeleteUserHandler handles DeleteUser.
type DeleteUserHandler struct{ *base }

// Handle deletes the account. Its articles are deleted afterwards by the
// user-deletion cascade (see CascadeHandler).
func (h DeleteUserHandler) Handle(ctx context.Context, cmd DeleteUser) (Result, error) {
	return h.changeUser(ctx, cmd.ID, h.meta(cmd.Actor, cmd.Meta), func(u *domain.User) ([]domain.Event, error) {
		ev, err := u.Delete(cmd.Actor)
		if err != nil {
			return nil, err
		}
		return []domain.Event{ev}, nil
	})
}

// UpdateProfile is a user's change to their own profile.
type UpdateProfile struct {
	Actor   domain.Actor
	Changes domain.ProfileChanges
	Meta    domain.Meta
}

// UpdateProfileHandler handles UpdateProfile.
type UpdateProfileHandler struct{ *base }

// Handle applies the change to the actor's own account.
func (h UpdateProfileHandler) Handle(ctx context.Context, cmd UpdateProfile) (Result, error) {
	if cmd.Actor.IsAnonymous() {
		return Result{}, domain.ErrAuthRequired
	}
	return h.changeUser(ctx, cmd.Actor.ID, h.meta(cmd.Actor, cmd.Meta), func(u *domain.User) ([]domain.Event, error) {
		ev, err := u.UpdateOwnProfile(cmd.Changes)
		if err != nil || ev == nil {
			return nil, err
		}
		return []domain.Event{ev}, nil
	})
}

// changeUser loads the user, lets decide produce its events and appends them,
// retrying from a fresh load on a concurrent change. It keeps the superuser
// roster: a user who stops being an active superuser leaves it before their
// own events are appended (failing with ErrLastSuperuser if they were the
// last), and one who becomes an active superuser joins it after.
func (b *base) changeUser(ctx context.Context, id string, meta domain.Meta, decide func(u *domain.User) ([]domain.Event, error)) (Result, error) {
	if !domain.ValidID(id) {
		return Result{}, domain.ErrUserNotFound
	}
	sid := domain.UserStream(id)
	var res Result
	err := retry(ctx, func() error {
		var u domain.User
		pos, err := b.load(ctx, sid, &u)
		if err != nil {
			return err
		}
		events, err := decide(&u)
		if err != nil {
			return refused(err, sid, pos)
		}
		if len(events) == 0 {
			res = Result{ID: id, Seq: pos.Seq, Version: pos.Version}
			return nil
		}
		after := u.With(events...)
		was, will := u.ActiveSuperuser(), after.ActiveSuperuser()
		if was && !will {
			if err := b.rosterRemove(ctx, id, meta); err != nil {
				return err
			}
		}
		recs, err := b.Store.Append(ctx, sid, pos, meta, events...)
		if err != nil {
			return err
		}
		if !was && will {
			if err := b.rosterAdd(ctx, id, meta); err != nil {
				return err
			}
		}
		res = resultOf(id, recs)
		return nil
	})
	return res, err
}

// rosterRemove takes id off the superuser roster; ErrLastSuperuser if it is
// the last one.
func (b *base) rosterRemove(ctx context.Context, id string, meta domain.Meta) error {
	_, _, err := change(ctx, b, domain.RosterStream, meta, func(r *domain.SuperuserRoster) (domain.Event, error) {
		return r.Remove(id)
	})
	return err
}

// rosterAdd puts id on the superuser roster.
func (b *base) rosterAdd(ctx context.Context, id string, meta domain.Meta) error {
	_, _, err := change(ctx, b, domain.RosterStream, meta, func(r *domain.SuperuserRoster) (domain.Event, error) {
		return r.Add(id), nil
	})
	return err
}
