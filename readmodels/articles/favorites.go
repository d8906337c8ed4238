package articles

import (
	"context"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// Favorites: a row of article_favorites per favorite of a live article by
// a live user, and each article's favorites_count. A favorite of an article
// that is gone (deleted, or its author erased) or by a user who is gone is
// not kept: the article's deletion and the user's take their favorites
// with them, and a favorite recorded after either (a request authorized
// just before) is skipped, so that counts stay right and a rebuild makes
// the same rows.

// favoriteRow is a row of article_favorites.
type favoriteRow struct {
	ID               string    `db:"id"`
	UserID           string    `db:"user_id"`
	ArticleID        string    `db:"article_id"`
	ArticleCreatedAt time.Time `db:"article_created_at"`
	IsPublished      bool      `db:"is_published"`
}

const favoriteColumns = "id, user_id, article_id, article_created_at, is_published"

func (f *favoriteRow) values() []any {
	return []any{f.ID, f.UserID, f.ArticleID, readmodels.DBTime(f.ArticleCreatedAt), f.IsPublished}
}

// favoritesBatch holds the favorites one batch touches: rows[id] is the
// favorite as it stands (nil: not there), with indexes by user and by
// article of the ids it holds.
type favoritesBatch struct {
	rows      map[string]*favoriteRow
	byUser    map[string][]string
	byArticle map[string][]string
	touched   readmodels.OrderedSet
	// stored holds the favorite ids article_favorites holds as loaded.
	stored map[string]bool
	// loadedPublished is each loaded article's is_published as loaded,
	// and loadedCount its favorites_count: an article whose publication
	// changes has its stored favorites changed by one statement (when it
	// has any).
	loadedPublished map[string]bool
	loadedCount     map[string]int64
}

func newFavoritesBatch() favoritesBatch {
	return favoritesBatch{rows: map[string]*favoriteRow{}, byUser: map[string][]string{}, byArticle: map[string][]string{},
		stored: map[string]bool{}, loadedPublished: map[string]bool{}, loadedCount: map[string]int64{}}
}

func (fb *favoritesBatch) put(f *favoriteRow) {
	if _, known := fb.rows[f.ID]; !known {
		fb.byUser[f.UserID] = append(fb.byUser[f.UserID], f.ID)
		fb.byArticle[f.ArticleID] = append(fb.byArticle[f.ArticleID], f.ID)
	}
	fb.rows[f.ID] = f
}

// loadFavorites reads the favorites the batch's favorite events name, and
// every favorite of the users it deletes; it returns the ids of the
// articles those favorites are of, for the batch to load with the others.
func (b *articlesBatch) loadFavorites(ctx context.Context, recs []domain.Record) ([]string, error) {
	tx := b.tx
	var ids, gone readmodels.OrderedSet
	for _, r := range recs {
		switch r.Event.(type) {
		case *domain.FavoriteAdded, *domain.FavoriteRemoved:
			if tx.MayHave(r.Stream) {
				ids.Add(r.Stream.ID)
			}
		case *domain.UserDeleted, *domain.UserErased:
			gone.Add(r.Stream.ID)
		}
	}
	var rows []favoriteRow
	if err := projections.SelectWhereIn(ctx, tx, &rows, "SELECT "+favoriteColumns+" FROM "+tx.T("article_favorites")+" WHERE id IN (?)", ids.Keys); err != nil {
		return nil, fmt.Errorf("load favorites: %w", err)
	}
	if err := projections.SelectWhereIn(ctx, tx, &rows, "SELECT "+favoriteColumns+" FROM "+tx.T("article_favorites")+" WHERE user_id IN (?)", gone.Keys); err != nil {
		return nil, fmt.Errorf("load favorites of deleted users: %w", err)
	}
	var articleIDs []string
	for i := range rows {
		f := &rows[i]
		if b.favs.stored[f.ID] {
			continue
		}
		b.favs.stored[f.ID] = true
		b.favs.put(f)
		articleIDs = append(articleIDs, f.ArticleID)
	}
	return articleIDs, nil
}

// applyFavorite folds a favorite event.
func (b *articlesBatch) applyFavorite(r domain.Record) {
	switch e := r.Event.(type) {
	case *domain.FavoriteAdded:
		// In a rebuild's fill (CountsLater) the article was not loaded
		// unless this batch holds it: the favorite goes in without its
		// columns and uncounted, and CountAll drops it if the article is
		// gone, copies the article's columns and counts.
		a, later := b.articles[e.ArticleID], b.tx.CountsLater()
		if (a == nil && !later) || b.deletedArticles[e.ArticleID] || b.authors.Get(e.UserID) == nil || b.favs.rows[r.Stream.ID] != nil {
			return // the article or the user is gone (or it is there)
		}
		f := &favoriteRow{ID: r.Stream.ID, UserID: e.UserID, ArticleID: e.ArticleID}
		if a != nil {
			f.ArticleCreatedAt, f.IsPublished = a.CreatedAt, a.IsPublished
		}
		b.favs.put(f)
		b.favs.touched.Add(r.Stream.ID)
		if a != nil && !later {
			a.FavoritesCount++
			b.dirtyArticles.Add(a.ID)
		}
	case *domain.FavoriteRemoved:
		b.removeFavorite(r.Stream.ID)
	}
}

// removeFavorite takes a favorite out, and one from its article's count.
func (b *articlesBatch) removeFavorite(id string) {
	f := b.favs.rows[id]
	if f == nil {
		return
	}
	b.favs.rows[id] = nil
	b.favs.touched.Add(id)
	if a := b.articles[f.ArticleID]; a != nil && !b.tx.CountsLater() {
		a.FavoritesCount--
		b.dirtyArticles.Add(a.ID)
	}
}

// removeFavoritesOfUser takes out every favorite of a deleted user.
func (b *articlesBatch) removeFavoritesOfUser(userID string) {
	for _, id := range b.favs.byUser[userID] {
		b.removeFavorite(id)
	}
}

// dropFavoritesOfArticle forgets the favorites of a deleted article (its
// stored ones go by article at the flush).
func (b *articlesBatch) dropFavoritesOfArticle(articleID string) {
	for _, id := range b.favs.byArticle[articleID] {
		if b.favs.rows[id] != nil {
			b.favs.rows[id] = nil
			b.favs.touched.Add(id)
		}
	}
}

// publishFavorites follows an article's publication on its favorites held
// in the batch.
func (b *articlesBatch) publishFavorites(a *articleRow) {
	for _, id := range b.favs.byArticle[a.ID] {
		if f := b.favs.rows[id]; f != nil && f.IsPublished != a.IsPublished {
			f.IsPublished = a.IsPublished
			b.favs.touched.Add(id)
		}
	}
}

// flushFavorites writes the favorites the batch changed, after the
// articles: the stored favorites of deleted articles go, those of articles
// whose publication changed follow it, then each favorite touched is
// written or deleted.
func (b *articlesBatch) flushFavorites(ctx context.Context, goneArticles []string) error {
	tx, table := b.tx, b.tx.T("article_favorites")
	if err := tx.DeleteWhereIn(ctx, table, "article_id", goneArticles); err != nil {
		return err
	}
	for id, was := range b.favs.loadedPublished {
		a := b.articles[id]
		if a == nil || a.IsPublished == was || b.favs.loadedCount[id] == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind("UPDATE "+table+" SET is_published = ? WHERE article_id = ?"), a.IsPublished, id); err != nil {
			return fmt.Errorf("publish favorites: %w", err)
		}
	}
	var del []string
	var put [][]any
	for _, id := range b.favs.touched.Keys {
		f := b.favs.rows[id]
		switch {
		case f != nil:
			put = append(put, f.values())
		case b.favs.stored[id]:
			del = append(del, id)
		}
	}
	if err := tx.DeleteWhereIn(ctx, table, "id", del); err != nil {
		return err
	}
	return tx.Put(ctx, table, []string{"id", "user_id", "article_id", "article_created_at", "is_published"}, []string{"id"}, put, readmodels.ByID(domain.AggregateFavorite))
}
