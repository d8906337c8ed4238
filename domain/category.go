package domain

import (
	"strings"
	"time"
)

// Category limits.
const (
	MaxCategoryNameLen = 100
	MaxDescriptionLen  = 1000
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

// CategoryStream returns the stream of a category.
func CategoryStream(id string) StreamID { return StreamID{Type: AggregateCategory, ID: id} }

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

// Validate checks the fields: those of the change that would set them all.
func (in CategoryInput) Validate() error {
	return CategoryChanges{Name: &in.Name, Slug: unlessEmpty(in.Slug), Description: &in.Description}.validate()
}

// Create decides a new category with a slug the caller has claimed. Staff only.
func (c *Category) Create(actor Actor, id string, in CategoryInput, slug string, now time.Time) (Event, error) {
	if err := RequireStaff(actor, "create categories"); err != nil {
		return nil, err
	}
	if c.version > 0 {
		return nil, errIDUsed("category", id)
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

// validate checks the fields the change sets.
func (ch CategoryChanges) validate() error {
	p := Problems{}
	checkName(p, "name", ch.Name, MaxCategoryNameLen)
	checkText(p, "description", ch.Description, MaxDescriptionLen, true)
	checkSlug(p, "slug", ch.Slug)
	return p.Err()
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
	if err := ch.validate(); err != nil {
		return nil, err
	}
	e := &CategoryUpdated{}
	var d fieldDiff
	d.setTrimmed(&e.Name, c.name, ch.Name)
	d.set(&e.Slug, c.slug, ch.Slug)
	d.set(&e.Description, c.desc, ch.Description)
	return d.event(e), nil
}

// Delete decides that the category is deleted.
func (c *Category) Delete(actor Actor) (Event, error) {
	if err := c.Authorize(actor); err != nil {
		return nil, err
	}
	return &CategoryDeleted{}, nil
}
