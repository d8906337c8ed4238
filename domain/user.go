package domain

import (
	"strings"
	"time"
)

// UserRegistered records a new account. PasswordHash is an argon2id hash in
// PHC format; it stays in the log and never reaches an API response or a
// follower of the event stream.
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

// ErrNoSuchAccount is the answer to a token or a reference whose account no
// longer exists (or never did).
var ErrNoSuchAccount = Errorf(EUNAUTHORIZED, "The account no longer exists.")

// ErrAccountDisabled is the answer to a disabled account that would act.
var ErrAccountDisabled = Errorf(EUNAUTHORIZED, "Account is disabled.")

// User is the account aggregate.
type User struct {
	id           string
	version      uint64
	seq          uint64
	registered   bool
	abandoned    bool
	deleted      bool
	erased       bool
	username     string
	email        string
	passwordHash string
	firstName    string
	lastName     string
	bio          string
	avatar       string
	active       bool
	staff        bool
	superuser    bool
	dateJoined   time.Time
	// Sessions started before the log sequence revokedSeq have ended,
	// except keepSession.
	revokedSeq  uint64
	keepSession string
}

// Apply folds one event into the user.
func (u *User) Apply(r Record) {
	u.version, u.seq = r.Version, r.Seq
	switch e := r.Event.(type) {
	case *UserRegistered:
		u.id, u.registered = e.UserID, true
		u.username, u.email, u.passwordHash = e.Username, e.Email, e.PasswordHash
		u.firstName, u.lastName, u.bio, u.avatar = e.FirstName, e.LastName, e.Bio, e.Avatar
		u.active, u.staff, u.superuser = e.IsActive, e.IsStaff || e.IsSuperuser, e.IsSuperuser
		u.dateJoined = e.DateJoined
	case *CreationAbandoned:
		u.abandoned = true
	case *UserDisabled:
		// Disabling ends every session: re-enabling the account does not
		// bring back tokens issued before (a thief's, say).
		u.active = false
		u.revokedSeq, u.keepSession = r.Seq, ""
	case *UserEnabled:
		u.active = true
	case *UserProfileUpdated:
		setIf(&u.firstName, e.FirstName)
		setIf(&u.lastName, e.LastName)
		setIf(&u.bio, e.Bio)
		setIf(&u.avatar, e.Avatar)
	case *UserRolesChanged:
		u.staff, u.superuser = e.IsStaff || e.IsSuperuser, e.IsSuperuser
	case *UserDeleted:
		u.deleted = true
	case *UserErased:
		u.deleted, u.erased = true, true
	case *UserSessionsRevoked:
		u.revokedSeq, u.keepSession = r.Seq, ""
	case *UserPasswordChanged:
		u.passwordHash = e.PasswordHash
		u.revokedSeq, u.keepSession = r.Seq, e.KeepSession
	}
}

// Exists reports whether the account was registered and not deleted.
func (u *User) Exists() bool { return u.registered && !u.deleted }

// Version is the number of events in the user's stream.
func (u *User) Version() uint64 { return u.version }

// Seq is the log sequence of the user's last event.
func (u *User) Seq() uint64 { return u.seq }

// ID returns the user id.
func (u *User) ID() string { return u.id }

// Username returns the username.
func (u *User) Username() string { return u.username }

// Email returns the email address.
func (u *User) Email() string { return u.email }

// FirstName returns the user's first name.
func (u *User) FirstName() string { return u.firstName }

// LastName returns the user's last name.
func (u *User) LastName() string { return u.lastName }

// Bio returns the user's biography.
func (u *User) Bio() string { return u.bio }

// Avatar returns the URL of the user's avatar.
func (u *User) Avatar() string { return u.avatar }

// DateJoined returns when the user registered.
func (u *User) DateJoined() time.Time { return u.dateJoined }

// PasswordHash returns the argon2id hash of the password.
func (u *User) PasswordHash() string { return u.passwordHash }

// Active reports whether the account may log in.
func (u *User) Active() bool { return u.active }

// Staff reports whether the user has staff rights (superusers always do).
func (u *User) Staff() bool { return u.staff || u.superuser }

// Superuser reports whether the user is a superuser.
func (u *User) Superuser() bool { return u.superuser }

// MayAct fails unless the account exists and is active: ErrNoSuchAccount,
// ErrAccountDisabled.
func (u *User) MayAct() error {
	if !u.Exists() {
		return ErrNoSuchAccount
	}
	if !u.Active() {
		return ErrAccountDisabled
	}
	return nil
}

// HoldsSession fails with ErrSessionEnded unless s, the session with id
// sessionID, is a live session of u that u's revocations spared.
func (u *User) HoldsSession(s *Session, sessionID string) error {
	if !s.Live() || s.UserID() != u.ID() || !u.SessionValid(sessionID, s.StartSeq()) {
		return ErrSessionEnded
	}
	return nil
}

// Actor returns the user as the actor of a command.
func (u *User) Actor() Actor { return Actor{ID: u.id, Staff: u.Staff(), Superuser: u.superuser} }

// NewUser is the input of a registration.
type NewUser struct {
	Username  string
	Email     string
	FirstName string
	LastName  string
	Bio       string
	Avatar    string
	// Staff and Superuser are set only by operators (createsuperuser), never
	// from the public registration endpoint.
	Staff     bool
	Superuser bool
}

// Validate checks a registration's fields (not the password, which the
// caller checks with ValidatePassword before hashing it).
func (n NewUser) Validate() error {
	p := Problems{}
	switch {
	case n.Username == "":
		p.Add("username", "is required")
	case !validUsername(n.Username):
		p.Add("username", "must be 1 to 150 characters: letters, digits and @ . + - _")
	}
	switch {
	case n.Email == "":
		p.Add("email", "is required")
	case !validEmail(n.Email):
		p.Add("email", "must be a valid email address")
	}
	checkText(p, "first_name", n.FirstName, MaxNameLen, false)
	checkText(p, "last_name", n.LastName, MaxNameLen, false)
	checkText(p, "bio", n.Bio, MaxBioLen, true)
	if n.Avatar != "" && !validURL(n.Avatar, MaxURLLen) {
		p.Add("avatar", "must be an http or https URL of at most 500 characters")
	}
	return p.Err()
}

// Register decides a new account with the given id. The user must be a fresh
// stream: a registered, deleted or fenced-off id cannot be registered again.
func (u *User) Register(id string, n NewUser, passwordHash string, now time.Time) (Event, error) {
	if u.registered || u.abandoned || u.version > 0 {
		return nil, Errorf(ECONFLICT, "user id %s is already used", id)
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

// Live reports whether the account exists (registered, not deleted).
func (u *User) Live() bool { return u.Exists() }

// ActiveSuperuser reports whether the user counts as an active superuser:
// one who exists, is a superuser and is not disabled.
func (u *User) ActiveSuperuser() bool { return u.Exists() && u.superuser && u.active }

// With returns a copy of the user with events applied after its own.
func (u User) With(events ...Event) User {
	for i, e := range events {
		u.Apply(Record{Event: e, Version: u.version + uint64(i) + 1, Seq: u.seq})
	}
	return u
}

// Errors of account administration.
var (
	ErrUserNotFound     = Errorf(ENOTFOUND, "User not found.")
	ErrStaffAccount     = Errorf(EFORBIDDEN, "Only a superuser may change a staff or superuser account.")
	ErrRolesNeedSuper   = Errorf(EFORBIDDEN, "Only a superuser may grant or remove staff and superuser rights.")
	ErrDisableSelf      = Errorf(EFORBIDDEN, "You cannot disable your own account.")
	ErrDeleteSelf       = Errorf(EFORBIDDEN, "You cannot delete your own account here.")
	ErrLastSuperuser    = Errorf(ECONFLICT, "This is the last active superuser: make another one first.")
	ErrSuperuserIsStaff = FieldError(EINVALID, "is_staff", "a superuser is always staff: set is_superuser to false too")
)

// ProfileChanges is a partial update of the profile fields a user edits
// (the tutorial's UpdateSerializer): nil fields stay as they are.
type ProfileChanges struct {
	FirstName *string
	LastName  *string
	Bio       *string
	Avatar    *string
}

// decideProfile validates profile changes and returns the event of those
// that change something, or nil.
func (u *User) decideProfile(c ProfileChanges) (Event, error) {
	p := Problems{}
	if c.FirstName != nil {
		checkText(p, "first_name", *c.FirstName, MaxNameLen, false)
	}
	if c.LastName != nil {
		checkText(p, "last_name", *c.LastName, MaxNameLen, false)
	}
	if c.Bio != nil {
		checkText(p, "bio", *c.Bio, MaxBioLen, true)
	}
	if c.Avatar != nil && *c.Avatar != "" && !validURL(*c.Avatar, MaxURLLen) {
		p.Add("avatar", "must be an http or https URL of at most 500 characters")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	e := &UserProfileUpdated{}
	changed := false
	pick := func(dst **string, cur string, v *string) {
		if v != nil && *v != cur {
			s := *v
			*dst, changed = &s, true
		}
	}
	pick(&e.FirstName, u.firstName, c.FirstName)
	pick(&e.LastName, u.lastName, c.LastName)
	pick(&e.Bio, u.bio, c.Bio)
	pick(&e.Avatar, u.avatar, c.Avatar)
	if !changed {
		return nil, nil
	}
	return e, nil
}

// UpdateOwnProfile decides a change a user makes to their own profile.
func (u *User) UpdateOwnProfile(c ProfileChanges) (Event, error) {
	if !u.Exists() {
		return nil, ErrUserNotFound
	}
	return u.decideProfile(c)
}

// AdminChanges is what the admin endpoint changes of an account.
type AdminChanges struct {
	Profile   ProfileChanges
	Active    *bool
	Staff     *bool
	Superuser *bool
}

// authorizeAdmin checks that actor may manage the account at all: staff
// manage ordinary accounts (and their own profile); only superusers manage
// staff and superuser accounts.
func (u *User) authorizeAdmin(actor Actor) error {
	if err := RequireStaff(actor, "manage users"); err != nil {
		return err
	}
	if !u.Exists() {
		return ErrUserNotFound
	}
	if u.Staff() && actor.ID != u.id && !actor.Superuser {
		return ErrStaffAccount
	}
	return nil
}

// AdminChange decides the changes an administrator makes to an account. It
// returns up to three events: the profile change, the roles change and the
// activation change, in that order (none when nothing changes). The rule
// that the last active superuser stays is kept by the caller, which sees
// every superuser (see SuperuserRoster).
func (u *User) AdminChange(actor Actor, c AdminChanges) ([]Event, error) {
	if err := u.authorizeAdmin(actor); err != nil {
		return nil, err
	}
	if (c.Staff != nil || c.Superuser != nil) && !actor.Superuser {
		return nil, ErrRolesNeedSuper
	}
	if c.Active != nil && !*c.Active && actor.ID == u.id {
		return nil, ErrDisableSelf
	}
	var events []Event
	profile, err := u.decideProfile(c.Profile)
	if err != nil {
		return nil, err
	}
	if profile != nil {
		events = append(events, profile)
	}
	staff, super := u.Staff(), u.superuser
	if c.Superuser != nil {
		super = *c.Superuser
	}
	if c.Staff != nil {
		if super && !*c.Staff {
			return nil, ErrSuperuserIsStaff
		}
		staff = *c.Staff
	}
	staff = staff || super
	if staff != u.Staff() || super != u.superuser {
		events = append(events, &UserRolesChanged{IsStaff: staff, IsSuperuser: super})
	}
	if c.Active != nil && *c.Active != u.active {
		if *c.Active {
			events = append(events, &UserEnabled{})
		} else {
			events = append(events, &UserDisabled{})
		}
	}
	return events, nil
}

// Delete decides that an administrator deletes the account.
func (u *User) Delete(actor Actor) (Event, error) {
	if err := u.authorizeAdmin(actor); err != nil {
		return nil, err
	}
	if actor.ID == u.id {
		return nil, ErrDeleteSelf
	}
	return &UserDeleted{}, nil
}

// ErrEraseNeedsSuper is the answer to a staff member who would erase an
// account: erasure cannot be undone, and is a superuser's decision.
var ErrEraseNeedsSuper = Errorf(EFORBIDDEN, "Only a superuser may erase an account.")

// ErrEraseSelfHere is the answer to a superuser who would erase their own
// account as an administrator: erasing one's own account always takes
// one's password (EraseOwn), so that a stolen token cannot do it.
var ErrEraseSelfHere = Errorf(EFORBIDDEN, "You cannot erase your own account here: erase it with DELETE /api/auth/me/ and your password.")

// Erase decides that a superuser erases the account, deleted or not: its
// personal data goes for good (see UserErased). Erasing an erased account
// decides nothing (nil event), so that a retry finishes what the first
// attempt began.
func (u *User) Erase(actor Actor) (Event, error) {
	switch {
	case actor.IsAnonymous():
		return nil, ErrAuthRequired
	case !actor.Superuser:
		return nil, ErrEraseNeedsSuper
	case !u.registered:
		return nil, ErrUserNotFound
	case actor.ID == u.id:
		return nil, ErrEraseSelfHere
	case u.erased:
		return nil, nil
	}
	return &UserErased{}, nil
}

// EraseOwn decides that the user erases their own account (having proved
// their password to the caller).
func (u *User) EraseOwn() (Event, error) {
	if !u.Exists() {
		return nil, ErrNoSuchAccount
	}
	return &UserErased{}, nil
}

// Erased reports whether the account was erased.
func (u *User) Erased() bool { return u.erased }

// SessionValid reports whether a session of the user, started at log
// sequence startSeq, survived the user's revocations (logout from everywhere,
// password changes).
func (u *User) SessionValid(sessionID string, startSeq uint64) bool {
	return startSeq > u.revokedSeq || sessionID == u.keepSession
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
