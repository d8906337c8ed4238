package articles

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

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
	if err := b.authors.Flush(ctx); err != nil {
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
	var gone []string
	for id := range b.deletedArticles {
		gone = append(gone, id)
	}
	if err := b.flushFavorites(ctx, gone); err != nil {
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
