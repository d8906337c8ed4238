package domain

import (
	"strings"
	"time"
)

// MaxTagNameLen is the longest a tag's name may be.
const MaxTagNameLen = 50

// TagCreated records a new tag. Tags do not change once created.
type TagCreated struct {
	TagID     string    `json:"tag_id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	CreatedAt time.Time `json:"created_at"`
}

// EventType implements Event.
func (*TagCreated) EventType() string { return "tag.created" }

// TagStream returns the stream of a tag.
func TagStream(id string) StreamID { return StreamID{Type: AggregateTag, ID: id} }

// Tag is the tag aggregate.
type Tag struct {
	created   bool
	abandoned bool
	version   uint64
	name      string
	slug      string
}

// Apply folds one event into the tag.
func (t *Tag) Apply(r Record) {
	t.version = r.Version
	switch e := r.Event.(type) {
	case *TagCreated:
		t.created, t.name, t.slug = true, e.Name, e.Slug
	case *CreationAbandoned:
		t.abandoned = true
	}
}

// Live reports whether the tag exists.
func (t *Tag) Live() bool { return t.created }

// Name returns the tag's name.
func (t *Tag) Name() string { return t.name }

// Slug returns the tag's slug.
func (t *Tag) Slug() string { return t.slug }

// ValidateTagName checks a tag's name.
func ValidateTagName(name string) error {
	p := Problems{}
	checkName(p, "name", &name, MaxTagNameLen)
	return p.Err()
}

// Create decides a new tag by any authenticated user, with a name and a slug
// the caller has claimed.
func (t *Tag) Create(actor Actor, id, name, slug string, now time.Time) (Event, error) {
	if actor.IsAnonymous() {
		return nil, ErrAuthRequired
	}
	if t.version > 0 {
		return nil, errIDUsed("tag", id)
	}
	if err := ValidateTagName(name); err != nil {
		return nil, err
	}
	return &TagCreated{TagID: id, Name: strings.TrimSpace(name), Slug: slug, CreatedAt: now.UTC()}, nil
}
