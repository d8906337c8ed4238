package domain

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Article limits.
const (
	MaxTitleLen   = 200
	MaxExcerptLen = 300
	MaxContentLen = 200000
	MaxTags       = 20
)

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

// Errors of article commands.
var (
	ErrArticleNotFound = Errorf(ENOTFOUND, "Article not found.")
	ErrNotArticleOwner = Errorf(EFORBIDDEN, "You can only change your own articles.")
	ErrStaleVersion    = Errorf(EPRECONDITION, "The article changed since you read it (If-Match does not match its ETag).")
)

// CanSee reports whether actor may read the article: everyone may read a
// published one; a draft only its author and staff.
func (a *Article) CanSee(actor Actor) bool {
	return a.Live() && !a.erased && (a.published || actor.ID != "" && actor.ID == a.authorID || actor.IsStaff())
}

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

// ArticleInput is the content of a new article. CategoryID and Tags are the
// ids of a live category and live tags: the command handler resolves what
// the caller named them by and checks them against the log before the
// article decides.
type ArticleInput struct {
	Title       string
	Content     string
	Excerpt     string // "" to make one from the content
	CategoryID  string
	Tags        []string
	CoverImage  string
	IsPublished bool
	Slug        string // "" to make one from the title
}

// Validate checks an article's fields: those of the change that would set
// them all.
func (in ArticleInput) Validate() error {
	return ArticleChanges{Title: &in.Title, Slug: unlessEmpty(in.Slug), Content: &in.Content,
		Excerpt: &in.Excerpt, Tags: &in.Tags, CoverImage: &in.CoverImage}.Validate()
}

// Excerpt makes an excerpt from content: its text with whitespace collapsed,
// cut at a word boundary to at most 300 characters (with "..." when cut).
func Excerpt(content string) string {
	text := strings.Join(strings.Fields(content), " ")
	if utf8.RuneCountInString(text) <= MaxExcerptLen {
		return text
	}
	runes := []rune(text)[:MaxExcerptLen-3]
	cut := string(runes)
	if i := strings.LastIndexByte(cut, ' '); i > MaxExcerptLen/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,.;:") + "..."
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

// ArticleChanges is a partial update: nil fields stay as they are. An empty
// Excerpt goes back to an excerpt made from the content; an empty
// CategoryID removes the category.
type ArticleChanges struct {
	Title       *string
	Slug        *string
	Content     *string
	Excerpt     *string
	CategoryID  *string
	Tags        *[]string
	CoverImage  *string
	IsPublished *bool
}

// Validate checks the fields an update sets.
func (c ArticleChanges) Validate() error {
	p := Problems{}
	checkName(p, "title", c.Title, MaxTitleLen)
	checkText(p, "content", c.Content, MaxContentLen, true)
	checkText(p, "excerpt", c.Excerpt, MaxExcerptLen, true)
	checkURL(p, "cover_image", c.CoverImage)
	checkSlug(p, "slug", c.Slug)
	if c.Tags != nil && len(*c.Tags) > MaxTags {
		p.Add("tags", "at most "+itoa(MaxTags)+" tags")
	}
	return p.Err()
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
	if c.Title != nil {
		t := strings.TrimSpace(*c.Title)
		d.set(&e.Title, a.title, &t)
	}
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
