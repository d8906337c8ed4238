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
	Username     string    `json:"username"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"password_hash"`
	FirstName    string    `json:"first_name"`
	LastName     string    `json:"last_name"`
	Bio          string    `json:"bio"`
	Avatar       string    `json:"avatar"`
	IsActive     bool      `json:"is_active"`
	IsStaff      bool      `json:"is_staff"`
	IsSuperuser  bool      `json:"is_superuser"`
	DateJoined   time.Time `json:"date_joined"`
}

// UserDisabled records that an account may no longer log in or use its tokens.
type UserDisabled struct {
	Reason string `json:"reason,omitempty"`
}

// UserEnabled records that a disabled account may log in again.
type UserEnabled struct{}

// EventType implements Event.
func (*UserRegistered) EventType() string { return "user.registered" }

// EventType implements Event.
func (*UserDisabled) EventType() string { return "user.disabled" }

// EventType implements Event.
func (*UserEnabled) EventType() string { return "user.enabled" }

func init() {
	register(
		EventSpec{Type: "user.registered", Version: 1, New: func() Event { return &UserRegistered{} },
			Sensitive: []string{"password_hash"}},
		EventSpec{Type: "user.disabled", Version: 1, New: func() Event { return &UserDisabled{} }},
		EventSpec{Type: "user.enabled", Version: 1, New: func() Event { return &UserEnabled{} }},
	)
}

// UserStream returns the stream of the user with the given id.
func UserStream(id string) StreamID { return StreamID{Type: AggregateUser, ID: id} }

// User is the account aggregate.
type User struct {
	id           string
	version      uint64
	seq          uint64
	registered   bool
	abandoned    bool
	deleted      bool
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
		u.active = false
	case *UserEnabled:
		u.active = true
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

// PasswordHash returns the argon2id hash of the password.
func (u *User) PasswordHash() string { return u.passwordHash }

// Active reports whether the account may log in.
func (u *User) Active() bool { return u.active }

// Staff reports whether the user has staff rights (superusers always do).
func (u *User) Staff() bool { return u.staff || u.superuser }

// Superuser reports whether the user is a superuser.
func (u *User) Superuser() bool { return u.superuser }

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
