package domain

import (
	"slices"
	"strings"
	"time"
)

// Decisions about an article: who may change it, and its creation, its
// changes, its publication and its deletion.

// Errors of article commands.
var (
	ErrArticleNotFound = Errorf(ENOTFOUND, "Article not found.")
	ErrNotArticleOwner = Errorf(EFORBIDDEN, "You can only change your own articles.")
	ErrStaleVersion    = Errorf(EPRECONDITION, "The article changed since you read it (If-Match does not match its ETag).")
)

// authorize checks that actor may change the article: it must exist, be
// visible to the actor (a draft of someone else is not found, not
// forbidden), and belong to the actor unless the actor is staff.
func (a *Article) authorize(actor Actor) error {
	switch {
	case actor.IsAnonymous():
		return ErrAuthRequired
	case !a.CanSee(actor):
		return ErrArticleNotFound
	case actor.ID != a.authorID && !actor.IsStaff():
		return ErrNotArticleOwner
	}
	return nil
}

// Authorize returns the error a change by actor meets before any input is
// looked at (nil when actor may change the article), with an optional
// expected version (If-Match) that must be the article's.
func (a *Article) Authorize(actor Actor, ifMatch *uint64) error {
	if err := a.authorize(actor); err != nil {
		return err
	}
	if ifMatch != nil && *ifMatch != a.version {
		return ErrStaleVersion
	}
	return nil
}

// Create decides a new article by actor, with a slug the caller has claimed.
func (a *Article) Create(actor Actor, id string, in ArticleInput, slug string, now time.Time) (Event, error) {
	if actor.IsAnonymous() {
		return nil, ErrAuthRequired
	}
	if a.version > 0 {
		return nil, errIDUsed("article", id)
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	e := &ArticleCreated{
		ArticleID:   id,
		Title:       strings.TrimSpace(in.Title),
		Slug:        slug,
		Content:     in.Content,
		Excerpt:     in.Excerpt,
		AuthorID:    actor.ID,
		CategoryID:  in.CategoryID,
		Tags:        uniqueStrings(in.Tags),
		CoverImage:  in.CoverImage,
		IsPublished: in.IsPublished,
		CreatedAt:   now.UTC(),
	}
	if e.Excerpt == "" {
		e.Excerpt, e.ExcerptAuto = Excerpt(in.Content), true
	}
	if in.IsPublished {
		t := now.UTC()
		e.PublishedAt = &t
	}
	return e, nil
}

// Update decides a partial update by actor. It returns a nil event when
// nothing would change. A new slug must have been claimed by the caller.
func (a *Article) Update(actor Actor, ifMatch *uint64, c ArticleChanges, now time.Time) (Event, error) {
	if err := a.Authorize(actor, ifMatch); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	e := &ArticleUpdated{AuthorID: a.authorID}
	var d fieldDiff
	d.setTrimmed(&e.Title, a.title, c.Title)
	d.set(&e.Slug, a.slug, c.Slug)
	d.set(&e.Content, a.content, c.Content)
	d.set(&e.CategoryID, a.categoryID, c.CategoryID)
	d.set(&e.CoverImage, a.coverImage, c.CoverImage)

	content := a.content
	if e.Content != nil {
		content = *e.Content
	}
	switch {
	case c.Excerpt != nil && *c.Excerpt != "":
		d.set(&e.Excerpt, a.excerpt, c.Excerpt)
		if a.excerptAuto {
			f := false
			e.ExcerptAuto, d.changed = &f, true
		}
	case c.Excerpt != nil || a.excerptAuto:
		// Made from the content: now, or again because the content changed.
		auto := Excerpt(content)
		d.set(&e.Excerpt, a.excerpt, &auto)
		if !a.excerptAuto {
			t := true
			e.ExcerptAuto, d.changed = &t, true
		}
	}
	if c.Tags != nil {
		tags := uniqueStrings(*c.Tags)
		if !sameSet(tags, a.tags) {
			e.Tags, d.changed = &tags, true
		}
	}
	if c.IsPublished != nil && *c.IsPublished != a.published {
		p := *c.IsPublished
		e.IsPublished, d.changed = &p, true
		if p && a.publishedAt.IsZero() {
			t := now.UTC()
			e.PublishedAt = &t
		}
	}
	return d.event(e), nil
}

// Publish decides that the article becomes public; publishing a published
// article changes nothing. The first publication sets published_at.
func (a *Article) Publish(actor Actor, now time.Time) (Event, error) {
	if err := a.Authorize(actor, nil); err != nil {
		return nil, err
	}
	if a.published {
		return nil, nil
	}
	at := a.publishedAt
	if at.IsZero() {
		at = now.UTC()
	}
	return &ArticlePublished{PublishedAt: at}, nil
}

// Unpublish decides that the article goes back to draft.
func (a *Article) Unpublish(actor Actor) (Event, error) {
	if err := a.Authorize(actor, nil); err != nil {
		return nil, err
	}
	if !a.published {
		return nil, nil
	}
	return &ArticleUnpublished{}, nil
}

// Delete decides that the article is deleted. deleteNeedsStaff applies the
// stricter policy in which only staff delete articles.
func (a *Article) Delete(actor Actor, ifMatch *uint64, deleteNeedsStaff bool) (Event, error) {
	if err := a.Authorize(actor, ifMatch); err != nil {
		return nil, err
	}
	if deleteNeedsStaff && !actor.IsStaff() {
		return nil, Errorf(EFORBIDDEN, "Only staff may delete articles.")
	}
	return &ArticleDeleted{}, nil
}

// DeleteForAuthorRemoval decides that the article is deleted because its
// author's account was deleted (the tutorial's CASCADE). Deleting a deleted
// article changes nothing.
func (a *Article) DeleteForAuthorRemoval(authorID string) Event {
	if !a.Live() || a.authorID != authorID {
		return nil
	}
	return &ArticleDeleted{Reason: "author deleted"}
}

// uniqueStrings returns s without duplicates, in first-seen order.
func uniqueStrings(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, v := range a {
		if !slices.Contains(b, v) {
			return false
		}
	}
	return true
}
