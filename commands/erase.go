package commands

import (
	"context"

	"inkwell/domain"
)

// DataKeys destroys the data key of a user's personal data (see
// eventstore.Keyring): once it is gone, the personal fields of every event
// about the user read domain.Erased.
type DataKeys interface {
	Destroy(ctx context.Context, userID string) error
}

// EraseUser is a superuser's erasure of an account.
type EraseUser struct {
	Actor domain.Actor
	ID    string
	Meta  domain.Meta
}

// EraseUserHandler handles EraseUser.
type EraseUserHandler struct{ *base }

// Handle records the erasure (see domain.User.Erase) and destroys the
// user's data key. The account may already be deleted; erasing an erased
// account records nothing and destroys the key again (a retry finishes
// what a failed attempt began).
func (h EraseUserHandler) Handle(ctx context.Context, cmd EraseUser) (Result, error) {
	return h.erase(ctx, cmd.ID, h.meta(cmd.Actor, cmd.Meta), func(u *domain.User) (domain.Event, error) {
		return u.Erase(cmd.Actor)
	})
}

// EraseSelf is a user's erasure of their own account, confirmed with their
// password.
type EraseSelf struct {
	Actor    domain.Actor
	Password string
	Meta     domain.Meta
}

// EraseSelfHandler handles EraseSelf.
type EraseSelfHandler struct{ *base }

// ErrWrongPasswordToErase is returned when the password confirming an
// erasure is wrong.
var ErrWrongPasswordToErase = domain.FieldError(domain.EINVALID, "password", "is not your password")

// Handle checks the password, records the erasure and destroys the data key.
func (h EraseSelfHandler) Handle(ctx context.Context, cmd EraseSelf) (Result, error) {
	if err := h.checkPassword(ctx, cmd.Actor.ID, cmd.Password, ErrWrongPasswordToErase); err != nil {
		return Result{}, err
	}
	return h.erase(ctx, cmd.Actor.ID, h.meta(cmd.Actor, cmd.Meta), func(u *domain.User) (domain.Event, error) {
		return u.EraseOwn()
	})
}

// checkPassword fails with wrong unless password is the current password
// of the user (who may act).
func (b *base) checkPassword(ctx context.Context, userID, password string, wrong error) error {
	u, err := b.currentUser(ctx, userID)
	if err != nil {
		return err
	}
	ok, err := b.Hasher.Verify(ctx, password, u.PasswordHash())
	if err != nil {
		return err
	}
	if !ok {
		return wrong
	}
	return nil
}

// erase appends the erasure decide makes (through changeUser, which keeps
// the superuser roster: the last active superuser cannot be erased), then
// destroys the user's data key. If the key cannot be destroyed now, the
// erasure stands and the data-key reactor destroys it later (see
// reactors.DataKeyShredder); the command fails so that its caller knows.
func (b *base) erase(ctx context.Context, id string, meta domain.Meta, decide func(u *domain.User) (domain.Event, error)) (Result, error) {
	res, err := b.changeUser(ctx, id, meta, func(u *domain.User) ([]domain.Event, error) {
		ev, err := decide(u)
		if err != nil || ev == nil {
			return nil, err
		}
		return []domain.Event{ev}, nil
	})
	if err != nil {
		return res, err
	}
	if b.DataKeys != nil {
		if err := b.DataKeys.Destroy(ctx, id); err != nil {
			return res, err
		}
	}
	return res, nil
}
