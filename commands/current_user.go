package commands

import (
	"context"

	"inkwell/domain"
)

// currentUser loads an account that may act: it exists and is active.
func (b *base) currentUser(ctx context.Context, id string) (*domain.User, error) {
	if !domain.ValidID(id) {
		return nil, domain.ErrNoSuchAccount
	}
	var u domain.User
	if _, err := b.load(ctx, domain.UserStream(id), &u); err != nil {
		return nil, err
	}
	if err := u.MayAct(); err != nil {
		return nil, err
	}
	return &u, nil
}
