package domain

import "time"

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
	case *UserPasswordRehashed:
		u.passwordHash = e.PasswordHash
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

// PasswordHash returns the hash of the password: argon2id, or one imported
// from Django until the first login replaces it.
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

// Erased reports whether the account was erased.
func (u *User) Erased() bool { return u.erased }

// SessionValid reports whether a session of the user, started at log
// sequence startSeq, survived the user's revocations (logout from everywhere,
// password changes).
func (u *User) SessionValid(sessionID string, startSeq uint64) bool {
	return startSeq > u.revokedSeq || sessionID == u.keepSession
}
