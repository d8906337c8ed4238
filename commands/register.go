package commands

import (
	"context"
	"errors"
	"fmt"

	"inkwell/domain"
)

// Register creates an account.
type Register struct {
	User     domain.NewUser
	Password string
	Meta     domain.Meta
}

// RegisterHandler handles Register.
type RegisterHandler struct{ *base }

// Errors of a registration whose username or email belongs to someone else.
var (
	ErrUsernameTaken = &domain.Error{Code: domain.ECONFLICT, Message: "A user with that username already exists.",
		Fields: map[string]string{"username": "already taken"}}
	ErrEmailTaken = &domain.Error{Code: domain.ECONFLICT, Message: "A user with that email already exists.",
		Fields: map[string]string{"email": "already registered"}}
)

// Handle registers the account. Usernames and emails are unique without
// regard to case: each is claimed (see takeClaim) before the account is
// recorded, so of several racing registrations of one name exactly one
// succeeds. Returns EINVALID for bad fields and ECONFLICT (ErrUsernameTaken,
// ErrEmailTaken) for a duplicate.
func (h RegisterHandler) Handle(ctx context.Context, cmd Register) (Result, error) {
	if err := mergeInvalid(cmd.User.Validate(), domain.ValidatePassword("password", cmd.Password)); err != nil {
		return Result{}, err
	}
	id, err := h.newID(ctx)
	if err != nil {
		return Result{}, err
	}
	owner := domain.UserStream(id)
	meta := cmd.Meta
	meta.OccurredAt = h.Now()
	if meta.ActorID == "" {
		meta.ActorID = id
	}

	for _, c := range []struct {
		kind, value string
		taken       error
	}{{domain.ClaimUsername, cmd.User.Username, ErrUsernameTaken}, {domain.ClaimEmail, cmd.User.Email, ErrEmailTaken}} {
		free, err := h.claimFree(ctx, c.kind, c.value, owner)
		if err != nil {
			return Result{}, fmt.Errorf("register: %w", err)
		}
		if !free {
			return Result{}, c.taken
		}
	}
	hash, err := h.Hasher.Hash(ctx, cmd.Password)
	if err != nil {
		return Result{}, err
	}
	if err := h.takeClaim(ctx, domain.ClaimUsername, cmd.User.Username, owner, meta); err != nil {
		if errors.Is(err, errClaimTaken) {
			return Result{}, ErrUsernameTaken
		}
		return Result{}, fmt.Errorf("register: claim username: %w", err)
	}
	if err := h.takeClaim(ctx, domain.ClaimEmail, cmd.User.Email, owner, meta); err != nil {
		if errors.Is(err, errClaimTaken) {
			err = ErrEmailTaken
		} else {
			err = fmt.Errorf("register: claim email: %w", err)
		}
		return Result{}, h.releaseOnFailure(ctx, err, domain.ClaimUsername, cmd.User.Username, owner, meta)
	}

	var u domain.User
	ev, err := u.Register(id, cmd.User, hash, meta.OccurredAt)
	if err != nil {
		return Result{}, h.releaseClaims(ctx, err, owner, meta, cmd.User)
	}
	recs, err := h.Store.Append(ctx, owner, domain.Position{}, meta, ev)
	if err != nil {
		if h.releaseClaims(ctx, err, owner, meta, cmd.User); errors.Is(err, domain.ErrConcurrentChange) {
			// Our id was fenced off: this registration took longer than
			// ClaimGrace and its claims were presumed abandoned.
			return Result{}, domain.Errorf(domain.EUNAVAILABLE, "The registration took too long; retry.")
		}
		return Result{}, fmt.Errorf("register: %w", err)
	}
	if cmd.User.Superuser {
		if err := h.rosterAdd(ctx, id, meta); err != nil {
			return Result{}, fmt.Errorf("register: superuser roster: %w", err)
		}
	}
	return resultOf(id, recs), nil
}

// releaseClaims gives up the username and email claims of a registration
// that failed with cause (see releaseOnFailure), and returns cause.
func (h RegisterHandler) releaseClaims(ctx context.Context, cause error, owner domain.StreamID, meta domain.Meta, u domain.NewUser) error {
	h.releaseOnFailure(ctx, cause, domain.ClaimUsername, u.Username, owner, meta)
	return h.releaseOnFailure(ctx, cause, domain.ClaimEmail, u.Email, owner, meta)
}

// mergeInvalid combines EINVALID errors into one listing every field; any
// other error is returned as it is.
func mergeInvalid(errs ...error) error {
	p := domain.Problems{}
	for _, err := range errs {
		if err == nil {
			continue
		}
		fields := domain.ErrorFields(err)
		if domain.ErrorCode(err) != domain.EINVALID || fields == nil {
			return err
		}
		for k, v := range fields {
			p.Add(k, v)
		}
	}
	return p.Err()
}
