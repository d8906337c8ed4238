package domain

import (
	"strings"
	"time"
)

// Aggregates brought from another system (inkwell import django): each is
// recorded by the event that would have created it, with the original's
// times (a registration's DateJoined, an article's CreatedAt and
// PublishedAt, a category's or tag's CreatedAt) in the event, while the
// envelope's OccurredAt is the event's own time, the moment of the import.
// The original's key is held as a claim (ClaimImported) on the new
// aggregate, so that a second import finds it and an old id still finds
// its aggregate.

// ImportedAggregateTypes lists the aggregate types an import records, in
// the order their references need (an article refers to its author, its
// category and its tags).
func ImportedAggregateTypes() []string {
	return []string{AggregateUser, AggregateCategory, AggregateTag, AggregateArticle}
}

// ClaimImported returns the kind of the claim on the key an aggregate of
// type aggregateType had in the system source ("django"): the claim's
// holder is the aggregate the row became.
func ClaimImported(source, aggregateType string) string { return source + aggregateType }

// UnusablePasswordHash reports whether hash is a password nobody can log
// in with: Django writes "!" and 40 random characters for an account made
// without a password (set_unusable_password).
func UnusablePasswordHash(hash string) bool { return strings.HasPrefix(hash, "!") }

// Password hash schemes Inkwell checks: its own argon2id (PHC format), and
// those of Django's hashers that an import keeps.
var importedSchemes = []string{"pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256"}

// PasswordHashScheme names the scheme of a password hash: "argon2id"
// (Inkwell's own), one of Django's hasher names ("pbkdf2_sha256", ...),
// or "unusable".
func PasswordHashScheme(hash string) string {
	switch {
	case hash == "" || UnusablePasswordHash(hash):
		return "unusable"
	case strings.HasPrefix(hash, "$argon2id$"):
		return "argon2id"
	}
	scheme, _, _ := strings.Cut(hash, "$")
	return scheme
}

// argon2idParams returns the version and parameters of a PHC-format
// argon2id hash ("v=19$m=19456,t=2,p=1"), "" if hash is not one.
func argon2idParams(hash string) string {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return ""
	}
	return parts[2] + "$" + parts[3]
}

// ImportedPasswordHash reports whether hash is one an import kept as the
// other system wrote it (not Inkwell's argon2id, not unusable): the first
// successful login replaces it (UserPasswordRehashed).
func ImportedPasswordHash(hash string) bool {
	s := PasswordHashScheme(hash)
	return s != "argon2id" && s != "unusable"
}

// SupportedImportedHash reports whether Inkwell checks passwords against a
// hash of scheme (a Django hasher's name).
func SupportedImportedHash(scheme string) bool {
	for _, s := range importedSchemes {
		if s == scheme {
			return true
		}
	}
	return false
}

// ImportedAccount is an account as another system holds it.
type ImportedAccount struct {
	User         NewUser
	PasswordHash string // as the other system wrote it; "!..." for none
	Active       bool
	DateJoined   time.Time
}

// Import decides the registration of an imported account with id: its
// fields are checked as a registration's, its password hash must be one
// Inkwell checks or unusable, and DateJoined is the original's.
func (u *User) Import(id string, in ImportedAccount) (Event, error) {
	if u.registered || u.abandoned || u.version > 0 {
		return nil, errIDUsed("user", id)
	}
	if err := in.User.Validate(); err != nil {
		return nil, err
	}
	scheme := PasswordHashScheme(in.PasswordHash)
	if scheme != "unusable" && !SupportedImportedHash(scheme) {
		return nil, Errorf(EINVALID, "password hash scheme %q is not one Inkwell checks", scheme)
	}
	hash := in.PasswordHash
	if hash == "" {
		hash = "!"
	}
	n := in.User
	return &UserRegistered{
		UserID: id, Username: n.Username, Email: strings.TrimSpace(n.Email), PasswordHash: hash,
		FirstName: n.FirstName, LastName: n.LastName, Bio: n.Bio, Avatar: n.Avatar,
		IsActive: in.Active, IsStaff: n.Staff || n.Superuser, IsSuperuser: n.Superuser,
		DateJoined: in.DateJoined.UTC(),
	}, nil
}

// UserPasswordRehashed records that a password hash was replaced by
// Inkwell's argon2id hash of the same password, with the parameters it
// hashes with now, at a successful login: an imported hash at the first, an
// argon2id hash of other parameters (another memory and number of passes)
// at the first after the parameters changed. Unlike a password change, it
// ends no session.
type UserPasswordRehashed struct {
	PasswordHash string `json:"password_hash" personal:"true"`
	// From names the scheme of the hash replaced ("pbkdf2_sha256", ...).
	From string `json:"from"`
}

// EventType implements Event.
func (*UserPasswordRehashed) EventType() string { return "user.password_rehashed" }

// Rehash decides the replacement of the account's password hash by hash
// (argon2id, of the password that just matched it) when the account holds
// an imported hash or an argon2id hash of other parameters than hash's;
// nil otherwise (another login replaced it first).
func (u *User) Rehash(hash string) Event {
	if !u.Exists() || PasswordHashScheme(hash) != "argon2id" {
		return nil
	}
	if !ImportedPasswordHash(u.passwordHash) && (PasswordHashScheme(u.passwordHash) != "argon2id" || argon2idParams(u.passwordHash) == argon2idParams(hash)) {
		return nil
	}
	return &UserPasswordRehashed{PasswordHash: hash, From: PasswordHashScheme(u.passwordHash)}
}

// ImportedArticle is an article as another system holds it; its author,
// category and tags are the ids of the aggregates they became.
type ImportedArticle struct {
	AuthorID    string
	Input       ArticleInput
	CreatedAt   time.Time
	PublishedAt *time.Time
}

// Import decides an imported article with id and a slug the caller has
// claimed: its fields are checked as a new article's, and its times are
// the original's.
func (a *Article) Import(id string, in ImportedArticle, slug string) (Event, error) {
	ev, err := a.Create(Actor{ID: in.AuthorID}, id, in.Input, slug, in.CreatedAt)
	if err != nil {
		return nil, err
	}
	e := ev.(*ArticleCreated)
	e.PublishedAt = nil
	if in.PublishedAt != nil {
		t := in.PublishedAt.UTC()
		e.PublishedAt = &t
	}
	return e, nil
}

// EverRevoked reports whether any of the user's sessions was ever revoked
// (a logout from everywhere, a password change, a disabling): a token of
// another system then starts no session (commands.Imports).
func (u *User) EverRevoked() bool { return u.revokedSeq > 0 }
