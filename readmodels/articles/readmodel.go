// Package articles is the articles read model: articles (drafts too) with
// their authors' public names, categories and tags, the counts the lists
// show, and the queries the API asks of them.
package articles

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// ReadModel is the articles read model, a projections.Projection:
// articles, their categories, tags and authors' public names.
type ReadModel struct {
	readmodels.Described[ReadModel]
}

// Describe implements readmodels.Describer.
// Version 2 keeps the list counts (article_counts) and indexes each ordering;
// version 3 keeps favorites (article_favorites, articles.favorites_count);
// version 4 stores its tables of small rows WITHOUT ROWID on SQLite.
func (ReadModel) Describe() readmodels.Description {
	return readmodels.Description{Name: "articles", Version: 4, Schema: schema,
		Tables:         []string{"articles", "article_tags", "categories", "tags", "article_authors", "article_counters", "article_counts", "article_favorites"},
		AggregateTypes: []string{domain.AggregateArticle, domain.AggregateCategory, domain.AggregateTag, domain.AggregateUser, domain.AggregateFavorite}}
}

//go:embed schema.sql
var schema string

// Store answers the queries of the articles read model in a database.
type Store struct {
	*projections.DB
	// numbers remembers the ids of the categories' and the tags' numbers
	// (see numbers.go); nil remembers none.
	numbers *numberCache
}

// NewStore returns the queries of the articles read model in db.
func NewStore(db *projections.DB) *Store { return &Store{DB: db, numbers: newNumberCache(time.Now)} }

// articlesBatch holds the rows one batch of events touches.
type articlesBatch struct {
	tx         *projections.Tx
	articles   map[string]*articleRow
	categories map[string]*categoryRow
	tags       map[string]*tagRow
	authors    *readmodels.Names // in article_authors
	counters   map[string]int64
	// before holds the count scopes of each article as loaded, so that the
	// flush adds to article_counts what the batch changed; counted adds the
	// categories and tags created and deleted.
	before  map[string][]string
	counted map[string]int64
	// favs holds the batch's favorites (see favorites.go).
	favs favoritesBatch

	dirtyArticles, dirtyCategories, dirtyTags readmodels.OrderedSet
	deletedArticles, deletedCategories        map[string]bool
	countersChanged                           bool
}

// Apply implements Projection.
func (ReadModel) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	b := &articlesBatch{
		tx: tx, articles: map[string]*articleRow{}, categories: map[string]*categoryRow{},
		tags: map[string]*tagRow{}, authors: readmodels.NewNames(tx, "article_authors"), counters: map[string]int64{},
		deletedArticles: map[string]bool{}, deletedCategories: map[string]bool{},
		before: map[string][]string{}, counted: map[string]int64{}, favs: newFavoritesBatch(),
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
