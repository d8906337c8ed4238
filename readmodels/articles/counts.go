package articles

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"inkwell/projections"
	"inkwell/readmodels"
)

// CountAll implements Counter: the favorites from the articles (see
// deriveFavorites), then article_counts from the rows, one GROUP BY per
// kind of scope.
func (ReadModel) CountAll(ctx context.Context, tx *projections.Tx) error {
	if err := deriveFavorites(ctx, tx); err != nil {
		return err
	}
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

// deriveFavorites completes the favorites a rebuild's fill left to be
// derived: a favorite of an article its batch did not hold went in
// without the article's columns, whether or not the article lived, and no
// favorite was counted (loading each favored article to count it and
// writing it whole again cost a replay more than all its other articles'
// rows). So, once the rows are in: the favorites of articles that are not
// there go (deleted, or their author erased: as the live read model skips
// a favorite recorded after its article's end and deletes those before
// it), each favorite copies its article's created_at and is_published,
// and each favored article counts its favorites.
func deriveFavorites(ctx context.Context, tx *projections.Tx) error {
	for _, stmt := range favoriteDerivations(tx.T("article_favorites"), tx.T("articles")) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("derive favorites: %w", err)
		}
	}
	return nil
}

// favoriteDerivations returns deriveFavorites' statements on the tables
// favs and arts. Each joins the two tables (by the articles' key), rather
// than running a subquery for each row: NOT IN over a subquery larger
// than work_mem is such a subquery on PostgreSQL, hence NOT EXISTS.
func favoriteDerivations(favs, arts string) []string {
	return []string{
		"DELETE FROM " + favs + " WHERE NOT EXISTS (SELECT 1 FROM " + arts + " a WHERE a.id = " + favs + ".article_id)",
		"UPDATE " + favs + " SET article_created_at = a.created_at, is_published = a.is_published FROM " + arts + " a" +
			" WHERE a.id = " + favs + ".article_id AND (" + favs + ".article_created_at <> a.created_at OR " + favs + ".is_published <> a.is_published)",
		"UPDATE " + arts + " SET favorites_count = c.n FROM (SELECT article_id, COUNT(*) AS n FROM " + favs + " GROUP BY article_id) c" +
			" WHERE " + arts + ".id = c.article_id",
	}
}
