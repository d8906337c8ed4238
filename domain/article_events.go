package domain

import "time"

// Events of the article aggregate: its creation, its changes, its
// publication and its end.

// ArticleCreated records a new article. AuthorID is always the user who
// created it.
//
// An article's text (title, slug, content, excerpt, cover image) is its
// author's personal data, sealed with the author's data key like their
// account's fields: an erasure of the author leaves none of it readable
// in the log, drafts nobody else ever saw included, and published text
// too (the erasure deletes the author's articles, published or not, so
// nothing of them is meant to outlive the author).
type ArticleCreated struct {
	ArticleID   string     `json:"article_id"`
	Title       string     `json:"title" personal:"true"`
	Slug        string     `json:"slug" personal:"true"`
	Content     string     `json:"content" personal:"true"`
	Excerpt     string     `json:"excerpt" personal:"true"`
	ExcerptAuto bool       `json:"excerpt_auto"`
	AuthorID    string     `json:"author_id" subject:"true"`
	CategoryID  string     `json:"category_id,omitempty"`
	Tags        []string   `json:"tags"`
	CoverImage  string     `json:"cover_image" personal:"true"`
	IsPublished bool       `json:"is_published"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// EventType implements Event.
func (*ArticleCreated) EventType() string { return "article.created" }

// ArticleUpdated records the fields of an article that changed; a nil field
// did not change. CategoryID "" means the article lost its category.
//
// Its text is sealed with the data key of the article's author (AuthorID,
// whoever made the change; "" in events of schema version 1, whose text is
// in clear).
type ArticleUpdated struct {
	AuthorID    string     `json:"author_id,omitempty" subject:"true"`
	Title       *string    `json:"title,omitempty" personal:"true"`
	Slug        *string    `json:"slug,omitempty" personal:"true"`
	Content     *string    `json:"content,omitempty" personal:"true"`
	Excerpt     *string    `json:"excerpt,omitempty" personal:"true"`
	ExcerptAuto *bool      `json:"excerpt_auto,omitempty"`
	CategoryID  *string    `json:"category_id,omitempty"`
	Tags        *[]string  `json:"tags,omitempty"`
	CoverImage  *string    `json:"cover_image,omitempty" personal:"true"`
	IsPublished *bool      `json:"is_published,omitempty"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

// EventType implements Event.
func (*ArticleUpdated) EventType() string { return "article.updated" }

// ArticlePublished records that an article became public. PublishedAt is
// the time it was first published, kept when it is published again.
type ArticlePublished struct {
	PublishedAt time.Time `json:"published_at"`
}

// EventType implements Event.
func (*ArticlePublished) EventType() string { return "article.published" }

// ArticleUnpublished records that an article went back to draft.
type ArticleUnpublished struct{}

// EventType implements Event.
func (*ArticleUnpublished) EventType() string { return "article.unpublished" }

// ArticleDeleted records that an article is gone; it accepts no further command.
type ArticleDeleted struct {
	Reason string `json:"reason,omitempty"`
}

// EventType implements Event.
func (*ArticleDeleted) EventType() string { return "article.deleted" }

// ChangedFields lists the API names of the fields an update changed.
func (e *ArticleUpdated) ChangedFields() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(e.Title != nil, "title")
	add(e.Slug != nil, "slug")
	add(e.Content != nil, "content")
	add(e.Excerpt != nil || e.ExcerptAuto != nil, "excerpt")
	add(e.CategoryID != nil, "category")
	add(e.Tags != nil, "tags")
	add(e.CoverImage != nil, "cover_image")
	add(e.IsPublished != nil, "is_published")
	add(e.PublishedAt != nil, "published_at")
	return out
}
