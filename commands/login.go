package commands

import (
	"context"
	"strings"
	"time"

	"inkwell/domain"
)

// releaseTimeout bounds clean-up work done after a request has ended.
const releaseTimeout = 5 * time.Second

// Login checks a username (or, when Username is empty, an email address:
// the Conduit surface logs in by email) and password and starts a session.
type Login struct {
	Username string
	Email    string
	Password string
	Client   string // the client's user agent, for the session's record
	Meta     domain.Meta
}

// LoginHandler handles Login.
type LoginHandler struct{ *base }

// ErrInvalidCredentials is the one answer to a wrong username or password,
// whichever it was.
var ErrInvalidCredentials = domain.Errorf(domain.EUNAUTHORIZED, "Invalid credentials.")

// Handle starts a session for the user whose username (compared without regard to case)
// and password match. An unknown username costs the same password check as
// a known one and gets the same error (ErrInvalidCredentials); a disabled
// account gets domain.ErrAccountDisabled, once the password is right.
func (h LoginHandler) Handle(ctx context.Context, cmd Login) (*Session, error) {
	var u domain.User
	known := false
	kind, name, maxLen := domain.ClaimUsername, cmd.Username, domain.MaxUsernameLen
	if cmd.Username == "" {
		kind, name, maxLen = domain.ClaimEmail, strings.TrimSpace(cmd.Email), domain.MaxEmailLen
	}
	if name != "" && len(name) <= maxLen {
		owner, held, err := h.claimHolder(ctx, kind, name)
		if err != nil {
			return nil, err
		}
		if held && owner.Type == domain.AggregateUser {
			if _, err := h.load(ctx, owner, &u); err != nil {
				return nil, err
			}
			known = u.Exists()
		}
	}
	hash := ""
	if known {
		hash = u.PasswordHash()
	}
	ok, err := h.Hasher.Verify(ctx, cmd.Password, hash)
	if err != nil {
		return nil, err
	}
	if !known || !ok {
		return nil, ErrInvalidCredentials
	}
	if !u.Active() {
		return nil, domain.ErrAccountDisabled
	}
	h.rehash(ctx, &u, cmd.Password, cmd.Meta) // an imported hash, or one of older parameters, becomes the present argon2id
	return h.startSession(ctx, &u, cmd.Client, cmd.Meta)
}
