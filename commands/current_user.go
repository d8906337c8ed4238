package commands

import (
	"context"

	"inkwell/domain"
)

// CurrentUserHandler returns the current state of an account from its
// events, for authentication and authorization decisions.
type CurrentUserHandler struct{ *base }

// ErrNoSuchAccount is returned for a token whose account no longer exists.
var ErrNoSuchAccount = domain.Errorf(domain.EUNAUTHORIZED, "The account no longer exists.")

// Handle returns the user with id as the log has it now. Returns
// EUNAUTHORIZED (ErrNoSuchAccount) if there is no such live account and
// (ErrAccountDisabled) if it is disabled.
func (h CurrentUserHandler) Handle(ctx context.Context, id string) (*domain.User, error) {
	return h.currentUser(ctx, id)
}

// currentUser loads an account that may act: it exists and is active.
func (b *base) currentUser(ctx context.Context, id string) (*domain.User, error) {
	if !ValidID(id) {
		return nil, ErrNoSuchAccount
	}
	var u domain.User
	if _, err := b.load(ctx, domain.UserStream(id), &u); err != nil {
		return nil, err
	}
	if err := accountMayAct(&u); err != nil {
		return nil, err
	}
	return &u, nil
}

// accountMayAct fails unless u exists and is active.
func accountMayAct(u *domain.User) error {
	if !u.Exists() {
		return ErrNoSuchAccount
	}
	if !u.Active() {
		return ErrAccountDisabled
	}
	return nil
}
