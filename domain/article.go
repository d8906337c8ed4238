package domain

import (
	"slices"
	"time"
)

// ArticleStream returns the stream of the article with the given id.
func ArticleStream(id string) StreamID { return StreamID{Type: AggregateArticle, ID: id} }

// Article is the article aggregate.
type Article struct {
	id          string
	version     uint64
	seq         uint64
	created     bool
	deleted     bool
	abandoned   bool
	title       string
	slug        string
	content     string
	excerpt     string
	excerptAuto bool
	authorID    string
	categoryID  string
	tags        []string
	coverImage  string
	published   bool
	publishedAt time.Time
	createdAt   time.Time
	updatedAt   time.Time
	// erased is set once an event of the article reads Erased: its
	// author was erased, and the article is as good as gone (the erasure's
	// cascade deletes it).
	erased bool
}

// Apply folds one event into the article.
func (a *Article) Apply(r Record) {
	a.version, a.seq = r.Version, r.Seq
	if r.Erased {
		a.erased = true
	}
	switch e := r.Event.(type) {
	case *ArticleCreated:
		a.id, a.created = e.ArticleID, true
		a.title, a.slug, a.content, a.excerpt, a.excerptAuto = e.Title, e.Slug, e.Content, e.Excerpt, e.ExcerptAuto
		a.authorID, a.categoryID, a.tags, a.coverImage = e.AuthorID, e.CategoryID, slices.Clone(e.Tags), e.CoverImage
		a.published = e.IsPublished
		if e.PublishedAt != nil {
			a.publishedAt = *e.PublishedAt
		}
		a.createdAt, a.updatedAt = e.CreatedAt, e.CreatedAt
	case *ArticleUpdated:
		setIf(&a.title, e.Title)
		setIf(&a.slug, e.Slug)
		setIf(&a.content, e.Content)
		setIf(&a.excerpt, e.Excerpt)
		setIf(&a.excerptAuto, e.ExcerptAuto)
		setIf(&a.categoryID, e.CategoryID)
		if e.Tags != nil {
			a.tags = slices.Clone(*e.Tags)
		}
		setIf(&a.coverImage, e.CoverImage)
		setIf(&a.published, e.IsPublished)
		setIf(&a.publishedAt, e.PublishedAt)
		a.updatedAt = r.OccurredAt
	case *ArticlePublished:
		a.published, a.publishedAt, a.updatedAt = true, e.PublishedAt, r.OccurredAt
	case *ArticleUnpublished:
		a.published, a.updatedAt = false, r.OccurredAt
	case *ArticleDeleted:
		a.deleted = true
	case *CreationAbandoned:
		a.abandoned = true
	}
}

// Live reports whether the article exists and is not deleted.
func (a *Article) Live() bool { return a.created && !a.deleted }

// Erased reports whether the article's author was erased: its text reads
// Erased, nobody may change it, and it is deleted by the erasure's cascade.
func (a *Article) Erased() bool { return a.erased }

// ID returns the article id.
func (a *Article) ID() string { return a.id }

// Version is the number of events in the article's stream; it is the
// article's ETag.
func (a *Article) Version() uint64 { return a.version }

// Seq is the log sequence of the article's last event.
func (a *Article) Seq() uint64 { return a.seq }

// AuthorID returns the id of the user who created the article.
func (a *Article) AuthorID() string { return a.authorID }

// Slug returns the article's slug.
func (a *Article) Slug() string { return a.slug }

// Published reports whether the article is public.
func (a *Article) Published() bool { return a.published }

// Tags returns the ids of the article's tags.
func (a *Article) Tags() []string { return slices.Clone(a.tags) }

// CategoryID returns the id of the article's category, or "".
func (a *Article) CategoryID() string { return a.categoryID }

// CanSee reports whether actor may read the article: everyone may read a
// published one; a draft only its author and staff.
func (a *Article) CanSee(actor Actor) bool {
	return a.Live() && !a.erased && (a.published || actor.ID != "" && actor.ID == a.authorID || actor.IsStaff())
}
