package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// A snapshot is the folded state of an aggregate at a position of its
// stream, kept so that loading an aggregate with a long history folds only
// the events after it. The log stays the truth: a snapshot that is lost,
// does not decode, or does not match the log is ignored and the stream is
// folded from its first event.
//
// A snapshot serves only the code that wrote it. Its kind names the
// aggregate, a version bumped by hand whenever Apply changes what it makes of
// an event, and a fingerprint of the state's shape and of the event
// catalogue (every type and schema version: a new version or upcaster may
// fold differently); a snapshot of any other kind is ignored.

// Aggregate is anything folded from the events of its stream.
type Aggregate interface {
	Apply(Record)
}

// Snapshotter is an aggregate whose state can be kept as a snapshot.
type Snapshotter interface {
	Aggregate
	// SnapshotKind names the format of the aggregate's snapshots.
	SnapshotKind() string
	// SnapshotSubject is the id of the user whose personal data the state
	// holds (whose data key seals the snapshot), "" if none.
	SnapshotSubject() string
	// MarshalSnapshot returns the state.
	MarshalSnapshot() ([]byte, error)
	// UnmarshalSnapshot sets the state of a zero aggregate from a
	// snapshot; on error the aggregate is left unchanged.
	UnmarshalSnapshot([]byte) error
}

// Snapshot is a state kept at a position of its stream: Position is that of
// the event with id EventID, the last one folded into State.
type Snapshot struct {
	Kind     string
	Subject  string
	State    []byte
	Position Position
	EventID  string
}

// snapshotters makes a zero aggregate of each type that keeps snapshots.
var snapshotters = map[string]func() Snapshotter{
	AggregateArticle: func() Snapshotter { return &Article{} },
	AggregateUser:    func() Snapshotter { return &User{} },
}

// KeepsSnapshots reports whether the aggregates of a type keep snapshots:
// loaded from them, their events need not stay in memory.
func KeepsSnapshots(aggregateType string) bool {
	_, ok := snapshotters[aggregateType]
	return ok
}

// Snapshot versions: bump one whenever Apply of its aggregate changes what
// it makes of an event (a change of the state's shape changes the kind by
// itself).
const (
	articleSnapshotVersion = 1
	userSnapshotVersion    = 1
)

var (
	articleSnapshotKind = snapshotKind(AggregateArticle, articleSnapshotVersion, Article{}, articleState{})
	userSnapshotKind    = snapshotKind(AggregateUser, userSnapshotVersion, User{}, userState{})
)

// snapshotKind returns "<name>.v<version>.<fingerprint>": the fingerprint
// hashes the shapes of the aggregate's struct and of its snapshot's (both:
// a field added to one and not the other is a new kind, and a test holds
// the two alike) and the event catalogue.
func snapshotKind(name string, version int, agg, state any) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", shapeOf(reflect.TypeOf(agg)), shapeOf(reflect.TypeOf(state)))
	for _, s := range EventSpecs() {
		fmt.Fprintf(h, "%s %d\n", s.Type, s.Version)
	}
	return fmt.Sprintf("%s.v%d.%s", name, version, hex.EncodeToString(h.Sum(nil))[:16])
}

// shapeOf describes a type: its kind, and a struct's fields (names, types,
// tags) in order, recursively; time.Time is a value of its own.
func shapeOf(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Time{}):
		return "time"
	case t.Kind() == reflect.Struct:
		var b strings.Builder
		b.WriteString("{")
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			fmt.Fprintf(&b, "%s %s %q;", f.Name, shapeOf(f.Type), f.Tag)
		}
		b.WriteString("}")
		return b.String()
	case t.Kind() == reflect.Pointer, t.Kind() == reflect.Slice:
		return t.Kind().String() + " " + shapeOf(t.Elem())
	case t.Kind() == reflect.Map:
		return "map " + shapeOf(t.Key()) + " " + shapeOf(t.Elem())
	}
	return t.Kind().String()
}

// articleState is an Article as its snapshot holds it: field for field.
type articleState struct {
	ID          string    `json:"id"`
	Version     uint64    `json:"version"`
	Seq         uint64    `json:"seq"`
	Created     bool      `json:"created"`
	Deleted     bool      `json:"deleted"`
	Abandoned   bool      `json:"abandoned"`
	Title       string    `json:"title"`
	Slug        string    `json:"slug"`
	Content     string    `json:"content"`
	Excerpt     string    `json:"excerpt"`
	ExcerptAuto bool      `json:"excerpt_auto"`
	AuthorID    string    `json:"author_id"`
	CategoryID  string    `json:"category_id"`
	Tags        []string  `json:"tags"`
	CoverImage  string    `json:"cover_image"`
	Published   bool      `json:"published"`
	PublishedAt time.Time `json:"published_at"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Erased      bool      `json:"erased"`
}

// SnapshotKind implements Snapshotter.
func (a *Article) SnapshotKind() string { return articleSnapshotKind }

// SnapshotSubject implements Snapshotter: an article's text is sealed with
// its author's data key, in the log as in its snapshots.
func (a *Article) SnapshotSubject() string { return a.authorID }

// MarshalSnapshot implements Snapshotter.
func (a *Article) MarshalSnapshot() ([]byte, error) {
	return json.Marshal(articleState{
		ID: a.id, Version: a.version, Seq: a.seq, Created: a.created, Deleted: a.deleted, Abandoned: a.abandoned,
		Title: a.title, Slug: a.slug, Content: a.content, Excerpt: a.excerpt, ExcerptAuto: a.excerptAuto,
		AuthorID: a.authorID, CategoryID: a.categoryID, Tags: a.tags, CoverImage: a.coverImage,
		Published: a.published, PublishedAt: a.publishedAt, CreatedAt: a.createdAt, UpdatedAt: a.updatedAt, Erased: a.erased,
	})
}

// UnmarshalSnapshot implements Snapshotter.
func (a *Article) UnmarshalSnapshot(b []byte) error {
	var s articleState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("article snapshot: %w", err)
	}
	*a = Article{
		id: s.ID, version: s.Version, seq: s.Seq, created: s.Created, deleted: s.Deleted, abandoned: s.Abandoned,
		title: s.Title, slug: s.Slug, content: s.Content, excerpt: s.Excerpt, excerptAuto: s.ExcerptAuto,
		authorID: s.AuthorID, categoryID: s.CategoryID, tags: slices.Clone(s.Tags), coverImage: s.CoverImage,
		published: s.Published, publishedAt: s.PublishedAt, createdAt: s.CreatedAt, updatedAt: s.UpdatedAt, erased: s.Erased,
	}
	return nil
}

// userState is a User as its snapshot holds it: field for field.
type userState struct {
	ID           string    `json:"id"`
	Version      uint64    `json:"version"`
	Seq          uint64    `json:"seq"`
	Registered   bool      `json:"registered"`
	Abandoned    bool      `json:"abandoned"`
	Deleted      bool      `json:"deleted"`
	Erased       bool      `json:"erased"`
	Username     string    `json:"username"`
	Email        string    `json:"email"`
	PasswordHash string    `json:"password_hash"`
	FirstName    string    `json:"first_name"`
	LastName     string    `json:"last_name"`
	Bio          string    `json:"bio"`
	Avatar       string    `json:"avatar"`
	Active       bool      `json:"active"`
	Staff        bool      `json:"staff"`
	Superuser    bool      `json:"superuser"`
	DateJoined   time.Time `json:"date_joined"`
	RevokedSeq   uint64    `json:"revoked_seq"`
	KeepSession  string    `json:"keep_session"`
}

// SnapshotKind implements Snapshotter.
func (u *User) SnapshotKind() string { return userSnapshotKind }

// SnapshotSubject implements Snapshotter: an account is its user's
// personal data.
func (u *User) SnapshotSubject() string { return u.id }

// MarshalSnapshot implements Snapshotter.
func (u *User) MarshalSnapshot() ([]byte, error) {
	return json.Marshal(userState{
		ID: u.id, Version: u.version, Seq: u.seq, Registered: u.registered, Abandoned: u.abandoned, Deleted: u.deleted, Erased: u.erased,
		Username: u.username, Email: u.email, PasswordHash: u.passwordHash, FirstName: u.firstName, LastName: u.lastName,
		Bio: u.bio, Avatar: u.avatar, Active: u.active, Staff: u.staff, Superuser: u.superuser, DateJoined: u.dateJoined,
		RevokedSeq: u.revokedSeq, KeepSession: u.keepSession,
	})
}

// UnmarshalSnapshot implements Snapshotter.
func (u *User) UnmarshalSnapshot(b []byte) error {
	var s userState
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("user snapshot: %w", err)
	}
	*u = User{
		id: s.ID, version: s.Version, seq: s.Seq, registered: s.Registered, abandoned: s.Abandoned, deleted: s.Deleted, erased: s.Erased,
		username: s.Username, email: s.Email, passwordHash: s.PasswordHash, firstName: s.FirstName, lastName: s.LastName,
		bio: s.Bio, avatar: s.Avatar, active: s.Active, staff: s.Staff, superuser: s.Superuser, dateJoined: s.DateJoined,
		revokedSeq: s.RevokedSeq, keepSession: s.KeepSession,
	}
	return nil
}
