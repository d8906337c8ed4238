// Package articles is the articles read model: articles (drafts too) with
// their authors' public names, categories and tags, the counts the lists
// show, and the queries the API asks of them.
package articles

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
	"unicode"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// ReadModel is the articles read model, a projections.Projection:
// articles, their categories, tags and authors' public names.
type ReadModel struct{}

//go:embed schema.sql
var schema string

// Schema implements Projection.
func (ReadModel) Schema() string { return schema }

// Store answers the queries of the articles read model in a database.
type Store struct{ *projections.DB }

// NewStore returns the queries of the articles read model in db.
func NewStore(db *projections.DB) *Store { return &Store{DB: db} }

// Name implements Projection.
func (ReadModel) Name() string { return "articles" }

// Version implements Projection.
// Version 2 keeps the list counts (article_counts) and indexes each ordering.
func (ReadModel) Version() int { return 2 }

// Tables implements Projection.
func (ReadModel) Tables() []string {
	return []string{"articles", "article_tags", "categories", "tags", "article_authors", "article_counters", "article_counts"}
}

// AggregateTypes implements Projection.
func (ReadModel) AggregateTypes() []string {
	return []string{domain.AggregateArticle, domain.AggregateCategory, domain.AggregateTag, domain.AggregateUser}
}

// TagRef is a tag as an article shows it.
type TagRef struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	Name   string `json:"name"`
	Slug   string `json:"slug"`
}

type articleRow struct {
	ID          string     `db:"id"`
	Number      int64      `db:"number"`
	Title       string     `db:"title"`
	Slug        string     `db:"slug"`
	Content     string     `db:"content"`
	Excerpt     string     `db:"excerpt"`
	AuthorID    string     `db:"author_id"`
	CategoryID  *string    `db:"category_id"`
	Tags        string     `db:"tags"`
	CoverImage  string     `db:"cover_image"`
	IsPublished bool       `db:"is_published"`
	PublishedAt *time.Time `db:"published_at"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
	WordCount   int        `db:"word_count"`
	ReadingTime int        `db:"reading_time"`
	Version     uint64     `db:"version"`

	tagIDs  []string
	tagsSet bool // tagIDs changed in this batch
}

const articleColumns = "id, number, title, slug, content, excerpt, author_id, category_id, tags, cover_image, is_published, published_at, created_at, updated_at, word_count, reading_time, version"

var articleCols = strings.Split(articleColumns, ", ")

func (a *articleRow) values() []any {
	var pub *time.Time
	if a.PublishedAt != nil {
		t := readmodels.DBTime(*a.PublishedAt)
		pub = &t
	}
	return []any{a.ID, a.Number, a.Title, a.Slug, a.Content, a.Excerpt, a.AuthorID, a.CategoryID, a.Tags, a.CoverImage,
		a.IsPublished, pub, readmodels.DBTime(a.CreatedAt), readmodels.DBTime(a.UpdatedAt), a.WordCount, a.ReadingTime, a.Version}
}

// categoryRow is a row of categories as the projection writes it: the
// columns of Category, the category the API shows.
type categoryRow Category

const categoryColumns = "id, number, name, slug, description, created_at, updated_at, version"

func (c *categoryRow) values() []any {
	return []any{c.ID, c.Number, c.Name, c.Slug, c.Description, readmodels.DBTime(c.CreatedAt), readmodels.DBTime(c.UpdatedAt), c.Version}
}

type tagRow struct {
	ID        string    `db:"id"`
	Number    int64     `db:"number"`
	Name      string    `db:"name"`
	Slug      string    `db:"slug"`
	CreatedAt time.Time `db:"created_at"`
}

const tagColumns = "id, number, name, slug, created_at"

func (t *tagRow) values() []any {
	return []any{t.ID, t.Number, t.Name, t.Slug, readmodels.DBTime(t.CreatedAt)}
}

type authorRow struct {
	ID        string `db:"id"`
	Username  string `db:"username"`
	FirstName string `db:"first_name"`
	LastName  string `db:"last_name"`
}

func (a *authorRow) values() []any { return []any{a.ID, a.Username, a.FirstName, a.LastName} }

// WordCount counts the words of a text: its runs of non-space characters,
// as strings.Fields splits them (without building them).
func WordCount(s string) int {
	n, inWord := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			inWord = false
		} else if !inWord {
			inWord, n = true, n+1
		}
	}
	return n
}

// ReadingTime is the minutes a text takes to read at 200 words a minute,
// rounded up (0 for an empty text).
func ReadingTime(words int) int { return (words + 199) / 200 }

// articlesBatch holds the rows one batch of events touches.
type articlesBatch struct {
	tx         *projections.Tx
	articles   map[string]*articleRow
	categories map[string]*categoryRow
	tags       map[string]*tagRow
	authors    map[string]*authorRow
	counters   map[string]int64
	// before holds the count scopes of each article as loaded, so that the
	// flush adds to article_counts what the batch changed; counted adds the
	// categories and tags created and deleted.
	before  map[string][]string
	counted map[string]int64

	dirtyArticles, dirtyCategories, dirtyTags, dirtyAuthors readmodels.OrderedSet
	deletedArticles, deletedCategories, deletedAuthors      map[string]bool
	countersChanged                                         bool
}

// Apply implements Projection.
func (ReadModel) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	b := &articlesBatch{
		tx: tx, articles: map[string]*articleRow{}, categories: map[string]*categoryRow{},
		tags: map[string]*tagRow{}, authors: map[string]*authorRow{}, counters: map[string]int64{},
		deletedArticles: map[string]bool{}, deletedCategories: map[string]bool{}, deletedAuthors: map[string]bool{},
		before: map[string][]string{}, counted: map[string]int64{},
	}
	if err := b.load(ctx, recs); err != nil {
		return err
	}
	for _, r := range recs {
		if err := b.apply(r); err != nil {
			return fmt.Errorf("event %d (%s): %w", r.Seq, r.Type, err)
		}
	}
	return b.flush(ctx)
}

// load reads the existing rows the batch's events touch.
func (b *articlesBatch) load(ctx context.Context, recs []domain.Record) error {
	tx := b.tx
	var articleIDs, categoryIDs, tagIDs, authorIDs readmodels.OrderedSet
	addTags := func(ids []string) {
		for _, t := range ids {
			if tx.MayHave(domain.TagStream(t)) {
				tagIDs.Add(t)
			}
		}
	}
	for _, r := range recs {
		if !tx.MayHave(r.Stream) {
			continue // nothing of this aggregate can be stored yet
		}
		switch r.Stream.Type {
		case domain.AggregateArticle:
			articleIDs.Add(r.Stream.ID)
		case domain.AggregateCategory:
			categoryIDs.Add(r.Stream.ID)
		case domain.AggregateUser:
			authorIDs.Add(r.Stream.ID)
		}
	}
	for _, r := range recs {
		switch e := r.Event.(type) {
		case *domain.ArticleCreated:
			addTags(e.Tags)
		case *domain.ArticleUpdated:
			if e.Tags != nil {
				addTags(*e.Tags)
			}
		}
	}
	var arts []articleRow
	if err := projections.SelectWhereIn(ctx, tx, &arts, "SELECT "+articleColumns+" FROM "+tx.T("articles")+" WHERE id IN (?)", articleIDs.Keys); err != nil {
		return fmt.Errorf("load articles: %w", err)
	}
	for i := range arts {
		b.articles[arts[i].ID] = &arts[i]
	}
	if len(arts) > 0 {
		ids := make([]string, len(arts))
		for i := range arts {
			ids[i] = arts[i].ID
		}
		var links []struct {
			ArticleID string `db:"article_id"`
			TagID     string `db:"tag_id"`
		}
		if err := projections.SelectWhereIn(ctx, tx, &links, "SELECT article_id, tag_id FROM "+tx.T("article_tags")+" WHERE article_id IN (?)", ids); err != nil {
			return fmt.Errorf("load article tags: %w", err)
		}
		for _, l := range links {
			a := b.articles[l.ArticleID]
			a.tagIDs = append(a.tagIDs, l.TagID)
		}
	}
	if !tx.CountsLater() {
		for i := range arts {
			b.before[arts[i].ID] = arts[i].countScopes()
		}
	}
	var cats []categoryRow
	if err := projections.SelectWhereIn(ctx, tx, &cats, "SELECT "+categoryColumns+" FROM "+tx.T("categories")+" WHERE id IN (?)", categoryIDs.Keys); err != nil {
		return fmt.Errorf("load categories: %w", err)
	}
	for i := range cats {
		b.categories[cats[i].ID] = &cats[i]
	}
	var tags []tagRow
	if err := projections.SelectWhereIn(ctx, tx, &tags, "SELECT "+tagColumns+" FROM "+tx.T("tags")+" WHERE id IN (?)", tagIDs.Keys); err != nil {
		return fmt.Errorf("load tags: %w", err)
	}
	for i := range tags {
		b.tags[tags[i].ID] = &tags[i]
	}
	var authors []authorRow
	if err := projections.SelectWhereIn(ctx, tx, &authors, "SELECT id, username, first_name, last_name FROM "+tx.T("article_authors")+" WHERE id IN (?)", authorIDs.Keys); err != nil {
		return fmt.Errorf("load authors: %w", err)
	}
	for i := range authors {
		b.authors[authors[i].ID] = &authors[i]
	}
	var counters []struct {
		Name  string `db:"name"`
		Value int64  `db:"value"`
	}
	if err := tx.SelectContext(ctx, &counters, "SELECT name, value FROM "+tx.T("article_counters")); err != nil {
		return fmt.Errorf("load counters: %w", err)
	}
	for _, c := range counters {
		b.counters[c.Name] = c.Value
	}
	return nil
}

func (b *articlesBatch) next(counter string) int64 {
	b.counters[counter]++
	b.countersChanged = true
	return b.counters[counter]
}

// apply folds one event into the batch's rows.
func (b *articlesBatch) apply(r domain.Record) error {
	switch r.Stream.Type {
	case domain.AggregateUser:
		b.applyAuthor(r)
	case domain.AggregateCategory:
		b.applyCategory(r)
	case domain.AggregateTag:
		if e, ok := r.Event.(*domain.TagCreated); ok {
			b.tags[r.Stream.ID] = &tagRow{ID: r.Stream.ID, Number: b.next("tag"), Name: e.Name, Slug: e.Slug, CreatedAt: e.CreatedAt}
			b.dirtyTags.Add(r.Stream.ID)
			b.counted[CountTags]++
		}
	case domain.AggregateArticle:
		b.applyArticle(r)
	}
	return nil
}

// applyAuthor keeps the names of the articles' authors.
func (b *articlesBatch) applyAuthor(r domain.Record) {
	id := r.Stream.ID
	switch e := r.Event.(type) {
	case *domain.UserRegistered:
		if r.Erased {
			return // an erased author's name never shows
		}
		b.authors[id] = &authorRow{ID: id, Username: e.Username, FirstName: e.FirstName, LastName: e.LastName}
		delete(b.deletedAuthors, id)
		b.dirtyAuthors.Add(id)
	case *domain.UserProfileUpdated:
		if a := b.authors[id]; a != nil {
			readmodels.SetIf(&a.FirstName, e.FirstName)
			readmodels.SetIf(&a.LastName, e.LastName)
			b.dirtyAuthors.Add(id)
		}
	case *domain.UserDeleted, *domain.UserErased:
		// A deleted user's name leaves the read model (for good on an
		// erasure); the cascade deletes their articles.
		if _, erased := r.Event.(*domain.UserErased); erased {
			b.tx.ScrubAfterCommit()
		}
		delete(b.authors, id)
		b.deletedAuthors[id] = true
	}
}

func (b *articlesBatch) applyCategory(r domain.Record) {
	id := r.Stream.ID
	switch e := r.Event.(type) {
	case *domain.CategoryCreated:
		b.categories[id] = &categoryRow{ID: id, Number: b.next("category"), Name: e.Name, Slug: e.Slug,
			Description: e.Description, CreatedAt: e.CreatedAt, UpdatedAt: e.CreatedAt, Version: r.Version}
		b.dirtyCategories.Add(id)
		b.counted[CountCategories]++
	case *domain.CategoryUpdated:
		c := b.categories[id]
		if c == nil {
			return
		}
		readmodels.SetIf(&c.Name, e.Name)
		readmodels.SetIf(&c.Slug, e.Slug)
		readmodels.SetIf(&c.Description, e.Description)
		c.UpdatedAt, c.Version = r.OccurredAt, r.Version
		b.dirtyCategories.Add(id)
	case *domain.CategoryDeleted:
		b.counted[CountCategories]--
		delete(b.categories, id)
		b.deletedCategories[id] = true
		for _, a := range b.articles {
			if a.CategoryID != nil && *a.CategoryID == id {
				a.CategoryID = nil
				b.dirtyArticles.Add(a.ID)
			}
		}
	}
}

func (b *articlesBatch) applyArticle(r domain.Record) {
	id := r.Stream.ID
	if r.Erased {
		// The author was erased: the article's text reads Erased, and the
		// erasure's cascade deletes the article. Its row is not made (nor
		// changed): it would show nothing of its author's, and the
		// slugs of several such articles would meet. Its number is taken
		// all the same, so that every later article keeps the number a
		// live read model gave it.
		if _, ok := r.Event.(*domain.ArticleCreated); ok {
			b.next("article")
		}
		return
	}
	switch e := r.Event.(type) {
	case *domain.ArticleCreated:
		a := &articleRow{ID: id, Number: b.next("article"), Title: e.Title, Slug: e.Slug, Content: e.Content,
			Excerpt: e.Excerpt, AuthorID: e.AuthorID, CoverImage: e.CoverImage, IsPublished: e.IsPublished,
			PublishedAt: e.PublishedAt, CreatedAt: e.CreatedAt, UpdatedAt: e.CreatedAt}
		if e.CategoryID != "" {
			c := e.CategoryID
			a.CategoryID = &c
		}
		a.tagIDs, a.tagsSet = append([]string(nil), e.Tags...), true
		b.articles[id] = a
		delete(b.deletedArticles, id)
		b.touchArticle(a, r, true)
	case *domain.ArticleUpdated:
		if a := b.articles[id]; a != nil {
			a.update(e)
			a.UpdatedAt = r.OccurredAt
			b.touchArticle(a, r, e.Content != nil)
		}
	case *domain.ArticlePublished:
		if a := b.articles[id]; a != nil {
			t := e.PublishedAt
			a.IsPublished, a.PublishedAt, a.UpdatedAt = true, &t, r.OccurredAt
			b.touchArticle(a, r, false)
		}
	case *domain.ArticleUnpublished:
		if a := b.articles[id]; a != nil {
			a.IsPublished, a.UpdatedAt = false, r.OccurredAt
			b.touchArticle(a, r, false)
		}
	case *domain.ArticleDeleted:
		if b.articles[id] != nil {
			delete(b.articles, id)
			b.deletedArticles[id] = true
		}
	}
}

// update applies the fields an article.updated event changes.
func (a *articleRow) update(e *domain.ArticleUpdated) {
	readmodels.SetIf(&a.Title, e.Title)
	readmodels.SetIf(&a.Slug, e.Slug)
	readmodels.SetIf(&a.Content, e.Content)
	readmodels.SetIf(&a.Excerpt, e.Excerpt)
	readmodels.SetIf(&a.CoverImage, e.CoverImage)
	readmodels.SetIf(&a.IsPublished, e.IsPublished)
	if e.PublishedAt != nil {
		t := *e.PublishedAt
		a.PublishedAt = &t
	}
	if e.CategoryID != nil {
		if *e.CategoryID == "" {
			a.CategoryID = nil
		} else {
			c := *e.CategoryID
			a.CategoryID = &c
		}
	}
	if e.Tags != nil {
		a.tagIDs, a.tagsSet = append([]string(nil), *e.Tags...), true
	}
}

// touchArticle marks an article changed by an event, and recomputes its
// derived columns when its content changed.
func (b *articlesBatch) touchArticle(a *articleRow, r domain.Record, contentChanged bool) {
	a.Version = r.Version
	if contentChanged {
		a.WordCount = WordCount(a.Content)
		a.ReadingTime = ReadingTime(a.WordCount)
	}
	b.dirtyArticles.Add(a.ID)
}

// tagsJSON renders an article's tags as it shows them.
func (b *articlesBatch) tagsJSON(ids []string) (string, error) {
	refs := make([]TagRef, 0, len(ids))
	for _, id := range ids {
		t := b.tags[id]
		if t == nil {
			return "", fmt.Errorf("article refers to unknown tag %s", id)
		}
		refs = append(refs, TagRef{ID: t.ID, Number: t.Number, Name: t.Name, Slug: t.Slug})
	}
	out, err := json.Marshal(refs)
	return string(out), err
}

// flush writes the batch's changed rows: authors, categories, tags, then
// articles with their tag links, the counts and the number counters.
func (b *articlesBatch) flush(ctx context.Context) error {
	if err := b.flushAuthors(ctx); err != nil {
		return err
	}
	delCats, err := b.flushCategories(ctx)
	if err != nil {
		return err
	}
	var tagRows [][]any
	for _, id := range b.dirtyTags.Keys {
		tagRows = append(tagRows, b.tags[id].values())
	}
	if err := b.tx.Put(ctx, b.tx.T("tags"), strings.Split(tagColumns, ", "), []string{"id"}, tagRows, readmodels.ByID(domain.AggregateTag)); err != nil {
		return err
	}
	if err := b.flushArticles(ctx); err != nil {
		return err
	}
	if err := b.clearDeletedCategories(ctx, delCats); err != nil {
		return err
	}
	if err := b.flushCounts(ctx, delCats); err != nil {
		return err
	}
	if !b.countersChanged {
		return nil
	}
	var rows [][]any
	for name, v := range b.counters {
		rows = append(rows, []any{name, v})
	}
	return b.tx.Upsert(ctx, b.tx.T("article_counters"), []string{"name", "value"}, []string{"name"}, rows)
}

func (b *articlesBatch) flushAuthors(ctx context.Context) error {
	tx := b.tx
	var delAuthors []string
	for id := range b.deletedAuthors {
		delAuthors = append(delAuthors, id)
	}
	if err := tx.DeleteWhereIn(ctx, tx.T("article_authors"), "id", delAuthors); err != nil {
		return err
	}
	var authorRows [][]any
	for _, id := range b.dirtyAuthors.Keys {
		if a := b.authors[id]; a != nil && !b.deletedAuthors[id] {
			authorRows = append(authorRows, a.values())
		}
	}
	return tx.Put(ctx, tx.T("article_authors"), []string{"id", "username", "first_name", "last_name"}, []string{"id"}, authorRows, readmodels.ByID(domain.AggregateUser))
}

// flushCategories writes the changed categories and returns the ids of the
// deleted ones.
func (b *articlesBatch) flushCategories(ctx context.Context) ([]string, error) {
	tx := b.tx
	var delCats []string
	for id := range b.deletedCategories {
		delCats = append(delCats, id)
	}
	if err := tx.DeleteWhereIn(ctx, tx.T("categories"), "id", delCats); err != nil {
		return nil, err
	}
	var catRows [][]any
	for _, id := range b.dirtyCategories.Keys {
		if c := b.categories[id]; c != nil {
			catRows = append(catRows, c.values())
		}
	}
	return delCats, tx.Put(ctx, tx.T("categories"), strings.Split(categoryColumns, ", "), []string{"id"}, catRows, readmodels.ByID(domain.AggregateCategory))
}

// flushArticles writes the changed articles and the tag links of those
// whose tags were set, and deletes the deleted ones.
func (b *articlesBatch) flushArticles(ctx context.Context) error {
	tx := b.tx
	var gone []string
	for id := range b.deletedArticles {
		gone = append(gone, id)
	}
	var artRows, links [][]any
	var relinked []string
	for _, id := range b.dirtyArticles.Keys {
		a := b.articles[id]
		if a == nil {
			continue // deleted later in the batch
		}
		if a.tagsSet || a.Tags == "" {
			js, err := b.tagsJSON(a.tagIDs)
			if err != nil {
				return err
			}
			a.Tags = js
		}
		artRows = append(artRows, a.values())
		if a.tagsSet {
			if tx.MayHave(domain.ArticleStream(id)) {
				relinked = append(relinked, id)
			}
			for _, t := range a.tagIDs {
				links = append(links, []any{id, t})
			}
		}
	}
	if err := tx.DeleteWhereIn(ctx, tx.T("article_tags"), "article_id", append(gone, relinked...)); err != nil {
		return err
	}
	if err := tx.DeleteWhereIn(ctx, tx.T("articles"), "id", gone); err != nil {
		return err
	}
	if err := tx.Put(ctx, tx.T("articles"), articleCols, []string{"id"}, artRows, readmodels.ByID(domain.AggregateArticle)); err != nil {
		return err
	}
	return tx.Put(ctx, tx.T("article_tags"), []string{"article_id", "tag_id"}, []string{"article_id", "tag_id"}, links, readmodels.ByID(domain.AggregateArticle))
}

// clearDeletedCategories is the tutorial's SET_NULL, for articles of a
// deleted category that this batch did not load.
func (b *articlesBatch) clearDeletedCategories(ctx context.Context, delCats []string) error {
	if len(delCats) == 0 {
		return nil
	}
	q, args, err := projections.InQuery("UPDATE "+b.tx.T("articles")+" SET category_id = NULL WHERE category_id IN (?)", delCats)
	if err != nil {
		return err
	}
	if _, err := b.tx.ExecContext(ctx, b.tx.Rebind(q), args...); err != nil {
		return fmt.Errorf("clear deleted categories: %w", err)
	}
	return nil
}

// CountAll implements Counter: article_counts from the rows, one GROUP BY
// per kind of scope.
func (ReadModel) CountAll(ctx context.Context, tx *projections.Tx) error {
	counts, arts, tags, cats := tx.T("article_counts"), tx.T("articles"), tx.T("article_tags"), tx.T("categories")
	pub := func(s string) string { return "(" + s + ") || '|p'" }
	for _, q := range []struct {
		scope, from, where, group string
	}{
		{"'" + CountAll + "'", arts + " a", "", ""},
		{pub("'" + CountAll + "'"), arts + " a", "a.is_published = ?", ""},
		{"'author:' || a.author_id", arts + " a", "", "a.author_id"},
		{pub("'author:' || a.author_id"), arts + " a", "a.is_published = ?", "a.author_id"},
		{"'category:' || a.category_id", arts + " a", "a.category_id IS NOT NULL", "a.category_id"},
		{pub("'category:' || a.category_id"), arts + " a", "a.category_id IS NOT NULL AND a.is_published = ?", "a.category_id"},
		{"'tag:' || t.tag_id", tags + " t JOIN " + arts + " a ON a.id = t.article_id", "", "t.tag_id"},
		{pub("'tag:' || t.tag_id"), tags + " t JOIN " + arts + " a ON a.id = t.article_id", "a.is_published = ?", "t.tag_id"},
		{"'" + CountCategories + "'", cats + " a", "", ""},
		{"'" + CountTags + "'", tx.T("tags") + " a", "", ""},
	} {
		stmt := "INSERT INTO " + counts + " (scope, n) SELECT " + q.scope + ", COUNT(*) FROM " + q.from
		var args []any
		if q.where != "" {
			stmt += " WHERE " + q.where
			if strings.Contains(q.where, "?") {
				args = append(args, true)
			}
		}
		if q.group != "" {
			stmt += " GROUP BY " + q.group
		} else {
			stmt += " HAVING COUNT(*) > 0"
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(stmt), args...); err != nil {
			return fmt.Errorf("count %s: %w", q.scope, err)
		}
	}
	return nil
}

// countScopes returns the article_counts scopes an article counts in.
func (a *articleRow) countScopes() []string {
	bases := make([]string, 0, 3+len(a.tagIDs))
	bases = append(bases, CountAll, CountAuthor(a.AuthorID))
	if a.CategoryID != nil {
		bases = append(bases, CountCategory(*a.CategoryID))
	}
	for _, t := range a.tagIDs {
		bases = append(bases, CountTag(t))
	}
	if !a.IsPublished {
		return bases
	}
	out := bases
	for _, s := range bases {
		out = append(out, Published(s))
	}
	return out
}

// flushCounts adds to article_counts what the batch changed: each touched
// article leaves the scopes it was loaded in and enters those it ends in.
// The scopes of deleted categories go.
func (b *articlesBatch) flushCounts(ctx context.Context, delCats []string) error {
	if b.tx.CountsLater() {
		return nil
	}
	delta := maps.Clone(b.counted)
	touched := readmodels.OrderedSet{}
	for id := range b.before {
		touched.Add(id)
	}
	for _, id := range b.dirtyArticles.Keys {
		touched.Add(id)
	}
	for _, id := range touched.Keys {
		for _, s := range b.before[id] {
			delta[s]--
		}
		if a := b.articles[id]; a != nil && !b.deletedArticles[id] {
			for _, s := range a.countScopes() {
				delta[s]++
			}
		}
	}
	if err := b.tx.AddCounts(ctx, b.tx.T("article_counts"), delta); err != nil {
		return err
	}
	var gone []string
	for _, c := range delCats {
		gone = append(gone, CountCategory(c), Published(CountCategory(c)))
	}
	return b.tx.DeleteWhereIn(ctx, b.tx.T("article_counts"), "scope", gone)
}
