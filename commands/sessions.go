package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"inkwell/domain"
)

// Session is a started or refreshed session: the ids its next refresh token
// must carry.
type Session struct {
	User      *domain.User
	SessionID string
	RefreshID string
}

// newRefreshID returns an unguessable refresh token id: 32 hex digits, the
// same on every attempt of an idempotent request.
func newRefreshID(ctx context.Context) (string, error) {
	if a := domain.AttemptFrom(ctx); a != nil {
		return strings.ReplaceAll(a.NewID("refresh"), "-", ""), nil
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("refresh id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// startSession records a login of u.
func (b *base) startSession(ctx context.Context, u *domain.User, client string, meta domain.Meta) (*Session, error) {
	sid, err := b.newID(ctx)
	if err != nil {
		return nil, err
	}
	rid, err := newRefreshID(ctx)
	if err != nil {
		return nil, err
	}
	var s domain.Session
	ev, err := s.Start(sid, u.ID(), rid, client, b.Now())
	if err != nil {
		return nil, err
	}
	if meta.ActorID == "" {
		meta.ActorID = u.ID()
	}
	meta.OccurredAt = b.Now()
	if _, err := b.Store.Append(ctx, domain.SessionStream(sid), domain.Position{}, meta, ev); err != nil {
		return nil, fmt.Errorf("start session: %w", err)
	}
	return &Session{User: u, SessionID: sid, RefreshID: rid}, nil
}

// StartSession starts a session for a user who just registered.
type StartSession struct {
	UserID string
	Client string
	Meta   domain.Meta
}

// StartSessionHandler handles StartSession.
type StartSessionHandler struct{ *base }

// Handle starts the session. Returns EUNAUTHORIZED if the account cannot log in.
func (h StartSessionHandler) Handle(ctx context.Context, cmd StartSession) (*Session, error) {
	u, err := h.currentUser(ctx, cmd.UserID)
	if err != nil {
		return nil, err
	}
	return h.startSession(ctx, u, cmd.Client, cmd.Meta)
}

// checkSession fails with ErrSessionEnded unless sessionID is a live session
// of u that u's revocations spared.
func (b *base) checkSession(ctx context.Context, u *domain.User, sessionID string) error {
	s, _, err := b.loadSession(ctx, sessionID)
	if err != nil {
		return err
	}
	return u.HoldsSession(s, sessionID)
}

func (b *base) loadSession(ctx context.Context, id string) (*domain.Session, domain.Position, error) {
	return loadByID[domain.Session](ctx, b, id, domain.SessionStream, domain.ErrSessionEnded)
}

// Refresh rotates a session's refresh token.
type Refresh struct {
	UserID    string
	SessionID string
	RefreshID string // the presented refresh token's id
	Meta      domain.Meta
}

// RefreshHandler handles Refresh.
type RefreshHandler struct{ *base }

// Handle spends the presented refresh token and returns the next one's id.
// A token already spent revokes the whole session (its newest token stops
// working too) and, like an ended session, gives EUNAUTHORIZED. Of two
// refreshes racing with one token exactly one succeeds: the other meets the
// first's append and is refused (without revoking: both came within
// milliseconds of each other, most likely from the same client).
func (h RefreshHandler) Handle(ctx context.Context, cmd Refresh) (*Session, error) {
	u, err := h.currentUser(ctx, cmd.UserID)
	if err != nil {
		return nil, err
	}
	s, pos, err := h.loadSession(ctx, cmd.SessionID)
	if err != nil {
		return nil, err
	}
	if !u.SessionValid(cmd.SessionID, s.StartSeq()) {
		return nil, domain.ErrSessionEnded
	}
	next, err := newRefreshID(ctx)
	if err != nil {
		return nil, err
	}
	meta := h.meta(u.Actor(), cmd.Meta)
	ev, decision := s.Refresh(u.ID(), cmd.RefreshID, next)
	if ev == nil {
		return nil, decision
	}
	_, err = h.Store.Append(ctx, domain.SessionStream(cmd.SessionID), pos, meta, ev)
	switch {
	case errors.Is(err, domain.ErrConcurrentChange):
		return nil, domain.ErrSessionEnded
	case err != nil:
		return nil, fmt.Errorf("refresh: %w", err)
	case decision != nil:
		h.Logger.WarnContext(ctx, "refresh token reuse: session revoked", "session", cmd.SessionID, "user", u.ID())
		return nil, decision
	}
	return &Session{User: u, SessionID: cmd.SessionID, RefreshID: next}, nil
}

// Logout ends the caller's session.
type Logout struct {
	Actor     domain.Actor
	SessionID string
	Meta      domain.Meta
}

// LogoutHandler handles Logout.
type LogoutHandler struct{ *base }

// Handle ends the session: its refresh token stops working at once, and its
// access tokens from the next request.
func (h LogoutHandler) Handle(ctx context.Context, cmd Logout) (Result, error) {
	_, res, err := changeByID(ctx, h.base, cmd.SessionID, domain.SessionStream, domain.ErrSessionEnded, h.meta(cmd.Actor, cmd.Meta),
		func(s *domain.Session) (domain.Event, error) { return s.End(cmd.Actor.ID, domain.ReasonLogout) })
	return res, err
}

// LogoutAll ends every session of the caller.
type LogoutAll struct {
	Actor domain.Actor
	Meta  domain.Meta
}

// LogoutAllHandler handles LogoutAll.
type LogoutAllHandler struct{ *base }

// Handle ends every session of the actor, this one included.
func (h LogoutAllHandler) Handle(ctx context.Context, cmd LogoutAll) (Result, error) {
	return h.changeUser(ctx, cmd.Actor.ID, h.meta(cmd.Actor, cmd.Meta), func(u *domain.User) ([]domain.Event, error) {
		ev, err := u.RevokeSessions("logout_all")
		if err != nil {
			return nil, err
		}
		return []domain.Event{ev}, nil
	})
}

// ChangePassword changes the caller's password.
type ChangePassword struct {
	Actor     domain.Actor
	SessionID string
	Current   string
	New       string
	Meta      domain.Meta
}

// ChangePasswordHandler handles ChangePassword.
type ChangePasswordHandler struct{ *base }

// ErrWrongPassword is returned when the current password is wrong.
var ErrWrongPassword = domain.FieldError(domain.EINVALID, "current_password", "is not your current password")

// Handle checks the current password, sets the new one and ends every other
// session of the user.
func (h ChangePasswordHandler) Handle(ctx context.Context, cmd ChangePassword) (Result, error) {
	if err := domain.ValidatePassword("new_password", cmd.New); err != nil {
		return Result{}, err
	}
	if err := h.checkPassword(ctx, cmd.Actor.ID, cmd.Current, ErrWrongPassword); err != nil {
		return Result{}, err
	}
	hash, err := h.Hasher.Hash(ctx, cmd.New)
	if err != nil {
		return Result{}, err
	}
	return h.changeUser(ctx, cmd.Actor.ID, h.meta(cmd.Actor, cmd.Meta), func(u *domain.User) ([]domain.Event, error) {
		ev, err := u.ChangePassword(hash, cmd.SessionID)
		if err != nil {
			return nil, err
		}
		return []domain.Event{ev}, nil
	})
}
