package queries

import (
	"context"

	"inkwell/domain"
)

// Authenticate asks whether a session of an account may act now.
type Authenticate struct {
	UserID    string
	SessionID string
}

// AuthenticateHandler handles Authenticate.
type AuthenticateHandler struct{ Store EventStore }

// Handle returns the user, as the log has it now, if the account is active
// and the session live (not logged out, not revoked by a logout from
// everywhere or a password change). Otherwise EUNAUTHORIZED. The account
// and the session are read in one round trip where the store can
// (EachLoader), from one view of the log.
func (h AuthenticateHandler) Handle(ctx context.Context, q Authenticate) (*domain.User, error) {
	if !domain.ValidID(q.UserID) {
		return nil, domain.ErrNoSuchAccount
	}
	if !domain.ValidID(q.SessionID) {
		return nil, domain.ErrSessionEnded
	}
	var u domain.User
	var s domain.Session
	if f, ok := h.Store.(Folder); ok {
		ids := []domain.StreamID{domain.UserStream(q.UserID), domain.SessionStream(q.SessionID)}
		if _, err := f.LoadEachInto(ctx, ids, []domain.Aggregate{&u, &s}); err != nil {
			return nil, err
		}
	} else if el, ok := h.Store.(EachLoader); ok {
		recs, _, err := el.LoadEach(ctx, domain.UserStream(q.UserID), domain.SessionStream(q.SessionID))
		if err != nil {
			return nil, err
		}
		for _, r := range recs[0] {
			u.Apply(r)
		}
		for _, r := range recs[1] {
			s.Apply(r)
		}
	} else {
		if _, err := load(ctx, h.Store, domain.UserStream(q.UserID), &u); err != nil {
			return nil, err
		}
		if err := u.MayAct(); err != nil {
			return nil, err
		}
		if _, err := load(ctx, h.Store, domain.SessionStream(q.SessionID), &s); err != nil {
			return nil, err
		}
	}
	if err := u.MayAct(); err != nil {
		return nil, err
	}
	if err := u.HoldsSession(&s, q.SessionID); err != nil {
		return nil, err
	}
	return &u, nil
}

// CurrentUserHandler returns the current state of an account from its
// events, for authorization decisions.
type CurrentUserHandler struct{ Store EventStore }

// Handle returns the user with id as the log has it now: EUNAUTHORIZED
// (domain.ErrNoSuchAccount) if there is no such live account and
// (domain.ErrAccountDisabled) if it is disabled.
func (h CurrentUserHandler) Handle(ctx context.Context, id string) (*domain.User, error) {
	if !domain.ValidID(id) {
		return nil, domain.ErrNoSuchAccount
	}
	var u domain.User
	if f, ok := h.Store.(Folder); ok {
		if _, err := f.LoadInto(ctx, domain.UserStream(id), &u); err != nil {
			return nil, err
		}
	} else if _, err := load(ctx, h.Store, domain.UserStream(id), &u); err != nil {
		return nil, err
	}
	if err := u.MayAct(); err != nil {
		return nil, err
	}
	return &u, nil
}
