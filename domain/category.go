package domain

import (
	"strings"
	"time"
)

// Category limits.
const (
	MaxCategoryNameLen = 100
	MaxDescriptionLen  = 1000
	MaxTagNameLen      = 50
)

// CategoryCreated records a new category.
type CategoryCreated struct {
	CategoryID  string    `json:"category_id"`
	Name        string    `json:"name"`
	Slug        string    `json:"slug"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
}

// EventType implements Event.
func (*CategoryCreated) EventType() string { return "category.created" }

// CategoryUpdated records the fields of a category that changed.
type CategoryUpdated struct {
	Name        *string `json:"name,omitempty"`
	Slug        *string `json:"slug,omitempty"`
	Description *string `json:"description,omitempty"`
}

// EventType implements Event.
func (*CategoryUpdated) EventType() string { return "category.updated" }

// CategoryDeleted records that a category is gone. Its articles are left
// without a category (the tutorial's SET_NULL).
type CategoryDeleted struct{}

// EventType implements Event.
func (*CategoryDeleted) EventType() string { return "category.deleted" }

// TagCreated records a new tag. Tags do not change once created.
type TagCreated struct {
	TagID     string    `json:"tag_id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	CreatedAt time.Time `json:"created_at"`
}

// EventType implements Event.
func (*TagCreated) EventType() string { return "tag.created" }

// CategoryStream returns the stream of a category.
func CategoryStream(id string) StreamID { return StreamID{Type: AggregateCategory, ID: id} }

// TagStream returns the stream of a tag.
func TagStream(id string) StreamID { return StreamID{Type: AggregateTag, ID: id} }

// Category is the category aggregate.
type Category struct {
	id        string
	version   uint64
	created   bool
	deleted   bool
	abandoned bool
	name      string
	slug      string
	desc      string
}

// Apply folds one event into the category.
func (c *Category) Apply(r Record) {
	c.version = r.Version
	switch e := r.Event.(type) {
	case *CategoryCreated:
		c.id, c.created, c.name, c.slug, c.desc = e.CategoryID, true, e.Name, e.Slug, e.Description
	case *CategoryUpdated:
		setIf(&c.name, e.Name)
		setIf(&c.slug, e.Slug)
		setIf(&c.desc, e.Description)
	case *CategoryDeleted:
		c.deleted = true
	case *CreationAbandoned:
		c.abandoned = true
	}
}

// Live reports whether the category exists and is not deleted.
func (c *Category) Live() bool { return c.created && !c.deleted }

// Slug returns the category's slug.
func (c *Category) Slug() string { return c.slug }

// Version returns the number of events in the category's stream.
func (c *Category) Version() uint64 { return c.version }

// ErrCategoryNotFound is returned for a missing or deleted category.
var ErrCategoryNotFound = Errorf(ENOTFOUND, "Category not found.")

// CategoryInput is a category's fields.
type CategoryInput struct {
	Name        string
	Slug        string // "" to make one from the name
	Description string
}

func validateCategoryName(p Problems, name string) {
	if strings.TrimSpace(name) == "" {
		p.Add("name", "must not be empty")
		return
	}
	checkText(p, "name", name, MaxCategoryNameLen, false)
}

// Validate checks the fields.
func (in CategoryInput) Validate() error {
	p := Problems{}
	validateCategoryName(p, in.Name)
	checkText(p, "description", in.Description, MaxDescriptionLen, true)
	if in.Slug != "" && !ValidSlug(in.Slug) {
		p.Add("slug", "must be lower-case letters, digits and single hyphens, at most 200 characters")
	}
	return p.Err()
}

// RequireStaff returns EUNAUTHORIZED for an anonymous actor and EFORBIDDEN
// for one without staff rights, saying what was refused: what is the action
// only staff may take ("create categories").
func RequireStaff(actor Actor, what string) error {
	switch {
	case actor.IsAnonymous():
		return ErrAuthRequired
	case !actor.IsStaff():
		return Errorf(EFORBIDDEN, "Only staff may %s.", what)
	}
	return nil
}

// Create decides a new category with a slug the caller has claimed. Staff only.
func (c *Category) Create(actor Actor, id string, in CategoryInput, slug string, now time.Time) (Event, error) {
	if err := RequireStaff(actor, "create categories"); err != nil {
		return nil, err
	}
	if c.version > 0 {
		return nil, Errorf(ECONFLICT, "category id %s is already used", id)
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	return &CategoryCreated{CategoryID: id, Name: strings.TrimSpace(in.Name), Slug: slug, Description: in.Description, CreatedAt: now.UTC()}, nil
}

// CategoryChanges is a partial update of a category.
type CategoryChanges struct {
	Name        *string
	Slug        *string
	Description *string
}

// Authorize checks that actor may change the category.
func (c *Category) Authorize(actor Actor) error {
	if err := RequireStaff(actor, "change or delete categories"); err != nil {
		return err
	}
	if !c.Live() {
		return ErrCategoryNotFound
	}
	return nil
}

// Update decides a partial update (nil event when nothing changes). A new
// slug must have been claimed by the caller.
func (c *Category) Update(actor Actor, ch CategoryChanges) (Event, error) {
	if err := c.Authorize(actor); err != nil {
		return nil, err
	}
	p := Problems{}
	if ch.Name != nil {
		validateCategoryName(p, *ch.Name)
	}
	if ch.Description != nil {
		checkText(p, "description", *ch.Description, MaxDescriptionLen, true)
	}
	if ch.Slug != nil && !ValidSlug(*ch.Slug) {
		p.Add("slug", "must be lower-case letters, digits and single hyphens, at most 200 characters")
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	e := &CategoryUpdated{}
	changed := false
	if ch.Name != nil && strings.TrimSpace(*ch.Name) != c.name {
		n := strings.TrimSpace(*ch.Name)
		e.Name, changed = &n, true
	}
	if ch.Slug != nil && *ch.Slug != c.slug {
		e.Slug, changed = ch.Slug, true
	}
	if ch.Description != nil && *ch.Description != c.desc {
		e.Description, changed = ch.Description, true
	}
	if !changed {
		return nil, nil
	}
	return e, nil
}

// Delete decides that the category is deleted.
func (c *Category) Delete(actor Actor) (Event, error) {
	if err := c.Authorize(actor); err != nil {
		return nil, err
	}
	return &CategoryDeleted{}, nil
}

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
	if strings.TrimSpace(name) == "" {
		p.Add("name", "must not be empty")
	} else {
		checkText(p, "name", name, MaxTagNameLen, false)
	}
	return p.Err()
}

// Create decides a new tag by any authenticated user, with a name and a slug
// the caller has claimed.
func (t *Tag) Create(actor Actor, id, name, slug string, now time.Time) (Event, error) {
	if actor.IsAnonymous() {
		return nil, ErrAuthRequired
	}
	if t.version > 0 {
		return nil, Errorf(ECONFLICT, "tag id %s is already used", id)
	}
	if err := ValidateTagName(name); err != nil {
		return nil, err
	}
	return &TagCreated{TagID: id, Name: strings.TrimSpace(name), Slug: slug, CreatedAt: now.UTC()}, nil
}
