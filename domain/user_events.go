package domain

import "time"

// Events of the user aggregate: an account's registration, its profile
// and roles, its sessions and passwords, and its end.

// UserRegistered records a new account. PasswordHash is an argon2id hash in
// PHC format (or, for an account imported from Django, the hash Django
// wrote, until its first successful login replaces it: see
// UserPasswordRehashed); it stays in the log and never reaches an API
// response or a follower of the event stream.
type UserRegistered struct {
	UserID       string    `json:"user_id"`
	Username     string    `json:"username" personal:"true"`
	Email        string    `json:"email" personal:"true"`
	PasswordHash string    `json:"password_hash" personal:"true"`
	FirstName    string    `json:"first_name" personal:"true"`
	LastName     string    `json:"last_name" personal:"true"`
	Bio          string    `json:"bio" personal:"true"`
	Avatar       string    `json:"avatar" personal:"true"`
	IsActive     bool      `json:"is_active"`
	IsStaff      bool      `json:"is_staff"`
	IsSuperuser  bool      `json:"is_superuser"`
	DateJoined   time.Time `json:"date_joined"`
}

// EventType implements Event.
func (*UserRegistered) EventType() string { return "user.registered" }

// UserDisabled records that an account may no longer log in or use its
// tokens; every session it had ends.
type UserDisabled struct {
	Reason string `json:"reason,omitempty"`
}

// EventType implements Event.
func (*UserDisabled) EventType() string { return "user.disabled" }

// UserEnabled records that a disabled account may log in again.
type UserEnabled struct{}

// EventType implements Event.
func (*UserEnabled) EventType() string { return "user.enabled" }

// UserProfileUpdated records the profile fields that changed.
type UserProfileUpdated struct {
	FirstName *string `json:"first_name,omitempty" personal:"true"`
	LastName  *string `json:"last_name,omitempty" personal:"true"`
	Bio       *string `json:"bio,omitempty" personal:"true"`
	Avatar    *string `json:"avatar,omitempty" personal:"true"`
}

// EventType implements Event.
func (*UserProfileUpdated) EventType() string { return "user.profile_updated" }

// UserRolesChanged records a user's roles after a change: superusers are
// always staff.
type UserRolesChanged struct {
	IsStaff     bool `json:"is_staff"`
	IsSuperuser bool `json:"is_superuser"`
}

// EventType implements Event.
func (*UserRolesChanged) EventType() string { return "user.roles_changed" }

// UserSessionsRevoked records that every session of the user started before
// it ends (logout from everywhere).
type UserSessionsRevoked struct {
	Reason string `json:"reason"`
}

// EventType implements Event.
func (*UserSessionsRevoked) EventType() string { return "user.sessions_revoked" }

// UserPasswordChanged records a new password. Every session started before
// it ends, except KeepSession (the one that changed it).
type UserPasswordChanged struct {
	PasswordHash string `json:"password_hash" personal:"true"`
	KeepSession  string `json:"keep_session,omitempty"`
}

// EventType implements Event.
func (*UserPasswordChanged) EventType() string { return "user.password_changed" }

// UserDeleted records that an account is gone. Its personal data leaves the
// read models and its articles are deleted (the tutorial's CASCADE).
type UserDeleted struct{}

// EventType implements Event.
func (*UserDeleted) EventType() string { return "user.deleted" }

// UserErased records that an account and every personal datum of it are
// gone: the account is deleted (as by UserDeleted, if it was not already),
// and its data key is destroyed, so that the personal fields of every event
// about the user read Erased from then on, in the log as in every read
// model. It carries no personal data.
type UserErased struct{}

// EventType implements Event.
func (*UserErased) EventType() string { return "user.erased" }

// UserStream returns the stream of the user with the given id.
func UserStream(id string) StreamID { return StreamID{Type: AggregateUser, ID: id} }
