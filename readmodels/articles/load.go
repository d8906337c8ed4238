package articles

import (
	"context"
	"fmt"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// load reads the existing rows the batch's events touch.
func (b *articlesBatch) load(ctx context.Context, recs []domain.Record) error {
	tx := b.tx
	stored := readmodels.StoredOf(tx, recs)
	articleIDs, categoryIDs, authorIDs := stored.Of(domain.AggregateArticle), stored.Of(domain.AggregateCategory), stored.Of(domain.AggregateUser)
	var tagIDs readmodels.OrderedSet
	addTags := func(ids []string) {
		for _, t := range ids {
			if tx.MayHave(domain.TagStream(t)) {
				tagIDs.Add(t)
			}
		}
	}
	// Favorites name an article and a user; a deleted user's favorites
	// name theirs. The articles are loaded for their count and for what
	// a favorite copies of them, unless a rebuild derives both from the
	// rows later (see CountAll).
	favArticles, err := b.loadFavorites(ctx, recs)
	if err != nil {
		return err
	}
	loadFavored := !tx.CountsLater()
	if loadFavored {
		for _, id := range favArticles {
			articleIDs.Add(id)
		}
	}
	for _, r := range recs {
		switch e := r.Event.(type) {
		case *domain.FavoriteAdded:
			if loadFavored && tx.MayHave(domain.ArticleStream(e.ArticleID)) {
				articleIDs.Add(e.ArticleID)
			}
			if tx.MayHave(domain.UserStream(e.UserID)) {
				authorIDs.Add(e.UserID)
			}
		case *domain.FavoriteRemoved:
			if loadFavored && tx.MayHave(domain.ArticleStream(e.ArticleID)) {
				articleIDs.Add(e.ArticleID)
			}
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
		b.favs.loadedPublished[arts[i].ID], b.favs.loadedCount[arts[i].ID] = arts[i].IsPublished, arts[i].FavoritesCount
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
	if err := b.authors.Load(ctx, authorIDs.Keys); err != nil {
		return err
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
