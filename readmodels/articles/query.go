package articles

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"inkwell/domain"
	"inkwell/readmodels"
)

// AuthorRef is an article's author as it shows.
type AuthorRef = readmodels.Name

// CategoryRef is an article's category as it shows.
type CategoryRef struct {
	ID     string
	Number int64
	Name   string
	Slug   string
}

// View is an article with everything a list or a detail view shows.
type View struct {
	ID          string
	Number      int64
	Title       string
	Slug        string
	Content     string
	Excerpt     string
	Author      AuthorRef
	Category    *CategoryRef
	Tags        []TagRef
	CoverImage  string
	IsPublished bool
	PublishedAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	WordCount   int
	ReadingTime int
	Version     uint64
	// FavoritesCount is how many users favor the article; Favorited
	// whether the viewer the article was read for does.
	FavoritesCount int64
	Favorited      bool

	sortTitle string // the title as lists sort it
}

type articleViewRow struct {
	articleRow
	readmodels.NameColumns
	CategoryNumber *int64  `db:"category_number"`
	CategoryName   *string `db:"category_name"`
	CategorySlug   *string `db:"category_slug"`
	SortTitle      string  `db:"sort_title"`
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func (r *articleViewRow) view() (View, error) {
	v := View{
		ID: r.ID, Number: r.Number, Title: r.Title, Slug: r.Slug, Content: r.Content, Excerpt: r.Excerpt,
		Author:     r.Name(r.AuthorID),
		CoverImage: r.CoverImage, IsPublished: r.IsPublished, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		WordCount: r.WordCount, ReadingTime: r.ReadingTime, Version: r.Version, FavoritesCount: r.FavoritesCount, sortTitle: r.SortTitle,
	}
	if r.PublishedAt != nil {
		t := r.PublishedAt.UTC()
		v.PublishedAt = &t
	}
	if r.CategoryID != nil && r.CategoryName != nil {
		v.Category = &CategoryRef{ID: *r.CategoryID, Number: deref(r.CategoryNumber), Name: *r.CategoryName, Slug: deref(r.CategorySlug)}
	}
	if err := json.Unmarshal([]byte(r.Tags), &v.Tags); err != nil {
		return v, fmt.Errorf("article %s: tags: %w", r.ID, err)
	}
	return v, nil
}

const articleViewSelect = `SELECT a.id, a.number, a.title, a.slug, a.content, a.excerpt, a.author_id, a.category_id, a.tags,
	a.cover_image, a.is_published, a.published_at, a.created_at, a.updated_at, a.word_count, a.reading_time, a.version, a.favorites_count,
	u.username AS author_username, u.first_name AS author_first_name, u.last_name AS author_last_name,
	c.number AS category_number, c.name AS category_name, c.slug AS category_slug, LOWER(a.title) AS sort_title
FROM articles a
LEFT JOIN article_authors u ON u.id = a.author_id
LEFT JOIN categories c ON c.id = a.category_id`

// Filter selects and orders articles.
type Filter struct {
	// Viewer decides visibility: anonymous callers see published articles,
	// authenticated ones also their own drafts, staff everything.
	Viewer          domain.Actor
	Category        string // id, number or slug
	Tag             string // id, number, slug or name
	Author          string // id or username
	IsPublished     *bool
	PublishedAfter  *time.Time
	PublishedBefore *time.Time
	Search          string // in title, excerpt and content, ignoring case
	// Favorited (a user's id or username) selects the published articles
	// that user favors, in the ordering created_at or -created_at.
	Favorited string
	// Ordering is a comma-separated list of created_at, published_at, title
	// and updated_at, each optionally readmodels.Prefixed with "-" for descending.
	Ordering string
	Page     readmodels.Page
}

// Orderings are the names Filter.Ordering accepts.
var Orderings = []string{"created_at", "published_at", "title", "updated_at"}

// refNumber returns the number a ref is, if it is one.
func refNumber(ref string) (int64, bool) {
	if ref == "" || len(ref) > 18 {
		return 0, false
	}
	n, err := strconv.ParseInt(ref, 10, 64)
	return n, err == nil && n > 0
}

// refCondition returns a condition matching a row of alias by id, number or
// slug, whichever ref is.
func refCondition(alias, ref string) (string, []any) {
	return idNumberOr(alias, ref, alias+".slug = ?", ref)
}

// idNumberOr returns a condition matching a row of alias by id or number,
// when ref is one, else byName with nameArgs (its arguments).
func idNumberOr(alias, ref, byName string, nameArgs ...any) (string, []any) {
	if readmodels.IsUUID(ref) {
		return alias + ".id = ?", []any{ref}
	}
	if n, ok := refNumber(ref); ok {
		return alias + ".number = ?", []any{n}
	}
	return byName, nameArgs
}

func (db *Store) visibility(viewer domain.Actor) (string, []any) {
	switch {
	case viewer.IsStaff():
		return "", nil
	case viewer.IsAnonymous():
		return "a.is_published = ?", []any{true}
	default:
		return "(a.is_published = ? OR a.author_id = ?)", []any{true, viewer.ID}
	}
}

// visible reports whether viewer may see v: what visibility asks of a
// query, for rows found otherwise.
func visible(viewer domain.Actor, v View) bool {
	return viewer.IsStaff() || v.IsPublished || !viewer.IsAnonymous() && v.Author.ID == viewer.ID
}

// ArticleByRef returns the article with the given id, number or slug, if
// viewer may see it. Returns ENOTFOUND otherwise (also for someone else's
// draft).
func (db *Store) ArticleByRef(ctx context.Context, viewer domain.Actor, ref string) (View, error) {
	cond, args := refCondition("a", ref)
	if vis, vargs := db.visibility(viewer); vis != "" {
		cond, args = cond+" AND "+vis, append(args, vargs...)
	}
	if viewer.IsAnonymous() {
		row, err := readmodels.Get[articleViewRow](ctx, db.DB, domain.ErrArticleNotFound, "article by ref", articleViewSelect+" WHERE "+cond, args...)
		if err != nil {
			return View{}, err
		}
		return row.view()
	}
	// Whether the viewer favors it, in the same query: one round trip, and
	// one state of the read model for the counts and the flag.
	args = append([]any{favoriteKeyPrefix(viewer.ID)}, args...)
	row, err := readmodels.Get[favoritedViewRow](ctx, db.DB, domain.ErrArticleNotFound, "article by ref", favoritedViewSelect+" WHERE "+cond, args...)
	if err != nil {
		return View{}, err
	}
	v, err := row.view()
	v.Favorited = row.Favorited
	return v, err
}

// favoritedViewSelect is articleViewSelect with a column saying whether a
// viewer favors the article: its first argument is favoriteKeyPrefix of
// the viewer, and the lookup is by the favorite's key.
var favoritedViewSelect = strings.Replace(articleViewSelect, "\nFROM articles a",
	",\n\tEXISTS (SELECT 1 FROM article_favorites fv WHERE fv.id = CAST(? AS TEXT) || a.id) AS favorited\nFROM articles a", 1)

// favoritedViewRow is a row of favoritedViewSelect.
type favoritedViewRow struct {
	articleViewRow
	Favorited bool `db:"favorited"`
}

// favoriteKeyPrefix is what the key of each of a user's favorites begins
// with, the article's id after it (domain.FavoriteStream).
func favoriteKeyPrefix(userID string) string {
	return domain.FavoriteStream(userID, "").ID
}

// ArticleID returns the id of the article with the given id, number or slug.
// Returns ENOTFOUND if there is none.
func (db *Store) ArticleID(ctx context.Context, ref string) (string, error) {
	return db.resolve(ctx, "articles", ref, domain.ErrArticleNotFound)
}

// resolve returns the id of the row of table (articles or categories) with
// the given id, number or slug; notFound if there is none.
func (db *Store) resolve(ctx context.Context, table, ref string, notFound error) (string, error) {
	if readmodels.IsUUID(ref) {
		return ref, nil
	}
	cond, args := refCondition("x", ref)
	return readmodels.Get[string](ctx, db.DB, notFound, "resolve "+table, "SELECT x.id FROM "+table+" x WHERE "+cond, args...)
}

// Category is a category as the API shows it.
type Category struct {
	ID          string    `db:"id"`
	Number      int64     `db:"number"`
	Name        string    `db:"name"`
	Slug        string    `db:"slug"`
	Description string    `db:"description"`
	CreatedAt   time.Time `db:"created_at"`
	UpdatedAt   time.Time `db:"updated_at"`
	Version     uint64    `db:"version"`
}

// CategoryByRef returns the category with the given id, number or slug.
// Returns ENOTFOUND if there is none.
func (db *Store) CategoryByRef(ctx context.Context, ref string) (Category, error) {
	cond, args := refCondition("c", ref)
	c, err := readmodels.Get[Category](ctx, db.DB, domain.ErrCategoryNotFound, "category by ref", "SELECT "+readmodels.Prefixed("c", categoryColumns)+" FROM categories c WHERE "+cond, args...)
	if err != nil {
		return c, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// CategoryID returns the id of the category with the given id, number or
// slug. Returns ENOTFOUND if there is none.
func (db *Store) CategoryID(ctx context.Context, ref string) (string, error) {
	if n, ok := refNumber(ref); ok {
		return db.numberID(ctx, "categories", n, domain.ErrCategoryNotFound)
	}
	return db.resolve(ctx, "categories", ref, domain.ErrCategoryNotFound)
}

// Tag is a tag as the API shows it.
type Tag struct {
	ID        string    `db:"id"`
	Number    int64     `db:"number"`
	Name      string    `db:"name"`
	Slug      string    `db:"slug"`
	CreatedAt time.Time `db:"created_at"`
}

// ErrTagNotFound is returned for a missing tag.
var ErrTagNotFound = domain.Errorf(domain.ENOTFOUND, "Tag not found.")

// TagID returns the id of the tag with the given id, number, slug or name.
// Returns ENOTFOUND if there is none.
func (db *Store) TagID(ctx context.Context, ref string) (string, error) {
	if n, ok := refNumber(ref); ok {
		return db.numberID(ctx, "tags", n, ErrTagNotFound)
	}
	t, err := db.TagByRef(ctx, ref)
	return t.ID, err
}

// TagByRef returns the tag with the given id, number, slug or name.
// Returns ENOTFOUND if there is none.
func (db *Store) TagByRef(ctx context.Context, ref string) (Tag, error) {
	cond, args := tagCondition("t", ref)
	t, err := readmodels.Get[Tag](ctx, db.DB, ErrTagNotFound, "tag by ref", "SELECT "+readmodels.Prefixed("t", tagColumns)+" FROM tags t WHERE "+cond+" ORDER BY t.number LIMIT 1", args...)
	if err != nil {
		return t, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	return t, nil
}

// ArticleIDsByAuthor returns the ids of every article (drafts included) by
// authorID.
func (db *Store) ArticleIDsByAuthor(ctx context.Context, authorID string) ([]string, error) {
	var ids []string
	if err := db.SelectContext(ctx, &ids, db.Rebind("SELECT id FROM articles WHERE author_id = ? ORDER BY number"), authorID); err != nil {
		return nil, fmt.Errorf("articles by author: %w", err)
	}
	return ids, nil
}

// Key is where an article stands among its author's articles, as
// ArticleKeysOf pages through them (see readmodels.Key).
type Key = readmodels.Key

// ArticleKeysOf returns a page of the articles by authorID (drafts too),
// oldest first: up to limit of those after after (nil: from the first).
// Drafts and published articles are read apart, each in the order of the
// index on (author_id, is_published, created_at, id), and merged, so that a
// page costs what the first does however many articles come before it.
func (db *Store) ArticleKeysOf(ctx context.Context, authorID string, after *Key, limit int) ([]Key, error) {
	var branches [2][]Key
	for i, published := range []bool{false, true} {
		q, args := articleKeysPage(authorID, published, after, limit)
		if err := db.SelectContext(ctx, &branches[i], db.Rebind(q), args...); err != nil {
			return nil, fmt.Errorf("articles of an author: %w", err)
		}
	}
	out := make([]Key, 0, min(limit, len(branches[0])+len(branches[1])))
	a, b := branches[0], branches[1]
	for len(out) < limit && (len(a) > 0 || len(b) > 0) {
		if len(b) == 0 || len(a) > 0 && a[0].Compare(b[0]) < 0 {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}

// articleKeysPage is the statement of one readmodels.Branch (drafts or published) of
// a page of ArticleKeysOf.
func articleKeysPage(authorID string, published bool, after *Key, limit int) (string, []any) {
	return readmodels.PageAfter("SELECT a.id, a.created_at FROM articles a WHERE a.author_id = ? AND a.is_published = ?", []any{authorID, published}, "a", after, limit)
}

// KeysQueries returns the statements (SQL and arguments) of the pages of
// ArticleKeysOf (its two branches), as a first page and as a page after key (any
// article of the author's does): what the planner tests give to EXPLAIN.
func KeysQueries(db *Store, authorID string, after Key) ([]string, [][]any) {
	var qs []string
	var args [][]any
	for _, k := range []*Key{nil, &after} {
		for _, published := range []bool{false, true} {
			q, a := articleKeysPage(authorID, published, k, 500)
			qs, args = append(qs, db.Rebind(q)), append(args, a)
		}
	}
	return qs, args
}
