package domain

import (
	"strings"
	"time"
)

// Decisions a user makes about their own account: registering it, editing
// its profile, ending its sessions, changing its password, erasing it.

// Register decides a new account with the given id. The user must be a fresh
// stream: a registered, deleted or fenced-off id cannot be registered again.
func (u *User) Register(id string, n NewUser, passwordHash string, now time.Time) (Event, error) {
	if u.registered || u.abandoned || u.version > 0 {
		return nil, errIDUsed("user", id)
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if passwordHash == "" {
		return nil, Errorf(EINTERNAL, "register: empty password hash")
	}
	return &UserRegistered{
		UserID:       id,
		Username:     n.Username,
		Email:        strings.TrimSpace(n.Email),
		PasswordHash: passwordHash,
		FirstName:    n.FirstName,
		LastName:     n.LastName,
		Bio:          n.Bio,
		Avatar:       n.Avatar,
		IsActive:     true,
		IsStaff:      n.Staff || n.Superuser,
		IsSuperuser:  n.Superuser,
		DateJoined:   now.UTC(),
	}, nil
}

// decideProfile validates profile changes and returns the event of those
// that change something, or nil.
func (u *User) decideProfile(c ProfileChanges) (Event, error) {
	p := Problems{}
	c.check(p)
	if err := p.Err(); err != nil {
		return nil, err
	}
	e := &UserProfileUpdated{}
	var d fieldDiff
	d.set(&e.FirstName, u.firstName, c.FirstName)
	d.set(&e.LastName, u.lastName, c.LastName)
	d.set(&e.Bio, u.bio, c.Bio)
	d.set(&e.Avatar, u.avatar, c.Avatar)
	return d.event(e), nil
}

// UpdateOwnProfile decides a change a user makes to their own profile.
func (u *User) UpdateOwnProfile(c ProfileChanges) (Event, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	return u.decideProfile(c)
}

// EraseOwn decides that the user erases their own account (having proved
// their password to the caller).
func (u *User) EraseOwn() (Event, error) {
	if !u.Exists() {
		return nil, ErrNoSuchAccount
	}
	return &UserErased{}, nil
}

// RevokeSessions decides that every session of the user ends.
func (u *User) RevokeSessions(reason string) (Event, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	return &UserSessionsRevoked{Reason: reason}, nil
}

// ChangePassword decides a new password (hashed; the caller checked the
// current one and the new one's policy), ending the user's other sessions.
func (u *User) ChangePassword(newHash, keepSession string) (Event, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	if newHash == "" {
		return nil, Errorf(EINTERNAL, "change password: empty hash")
	}
	return &UserPasswordChanged{PasswordHash: newHash, KeepSession: keepSession}, nil
}
