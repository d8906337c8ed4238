package articles

import (
	"context"
	"fmt"
	"strings"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// favoritedSelect is articleViewSelect read from a user's favorites: the
// rows come in the order of the user's index on article_favorites, each
// joined to its article by key.
var favoritedSelect = strings.Replace(articleViewSelect, "FROM articles a", "FROM article_favorites fv JOIN articles a ON a.id = fv.article_id", 1)

// errFavoritedOrdering refuses an ordering the favorited list does not read
// in index order.
var errFavoritedOrdering = domain.FieldError(domain.EINVALID, "ordering", "a list of favorites is ordered by created_at or -created_at")

// favoritedUser returns the condition selecting the favorites of f.Favorited
// (an id or a username).
func favoritedUser(f Filter) (string, []any) {
	if readmodels.IsUUID(f.Favorited) {
		return "fv.user_id = ?", []any{f.Favorited}
	}
	return "fv.user_id = (SELECT ua.id FROM article_authors ua WHERE LOWER(ua.username) = LOWER(?) LIMIT 1)", []any{f.Favorited}
}

// planFavoritedList builds the query of the published articles f.Favorited
// favors: one branch, read from that user's index on article_favorites
// (user_id, is_published, article_created_at, article_id) and stopped at
// the page's end, however many favorites there are.
func (db *Store) planFavoritedList(f Filter) (readmodels.List[View], error) {
	terms, err := readmodels.ParseOrdering(f.Ordering, "-created_at", Orderings)
	if err != nil {
		return readmodels.List[View]{}, err
	}
	if len(terms) != 1 || terms[0].Field != "created_at" {
		return readmodels.List[View]{}, errFavoritedOrdering
	}
	ordering := "created_at"
	if terms[0].Desc {
		ordering = "-created_at"
	}
	desc := terms[0].Desc
	keys := []readmodels.SortKey[View]{
		{Expr: "fv.article_created_at", Desc: desc, Kind: readmodels.KeyTime, Value: func(v *View) any { return v.CreatedAt }},
		{Expr: "fv.article_id", Desc: desc, Kind: readmodels.KeyText, Value: func(v *View) any { return v.ID }},
	}
	var cur []any
	if f.Page.Cursor != "" {
		if cur, err = readmodels.DecodeCursor(f.Page.Cursor, ordering, keys); err != nil {
			return readmodels.List[View]{}, err
		}
	}
	var branches []readmodels.Branch
	if f.IsPublished == nil || *f.IsPublished {
		cond, args := favoritedUser(f)
		b := readmodels.Branch{}.And(cond, args...).And("fv.is_published = ?", true)
		if where, whereArgs := db.articleConditions(f); len(where) > 0 {
			b = b.And(strings.Join(where, " AND "), whereArgs...)
		}
		branches = append(branches, b)
	}
	return readmodels.PlanList(db.DB, ordering, keys, branches, cur, favoritedSelect, f.Page), nil
}

// countFavorited counts the published articles f.Favorited favors (with
// f's other filters), up to readmodels.CountBound, in that user's index.
func (db *Store) countFavorited(ctx context.Context, f Filter) (int, bool, error) {
	if f.IsPublished != nil && !*f.IsPublished {
		return 0, true, nil
	}
	cond, args := favoritedUser(f)
	conds := []string{cond, "fv.is_published = ?"}
	args = append(args, true)
	from := "article_favorites fv"
	if where, whereArgs := db.articleConditions(f); len(where) > 0 {
		from += " JOIN articles a ON a.id = fv.article_id"
		conds, args = append(conds, where...), append(args, whereArgs...)
	}
	n, exact, err := readmodels.CountUpTo(ctx, db.DB, from, conds, args...)
	if err != nil {
		return 0, false, fmt.Errorf("count favorites: %w", err)
	}
	return n, exact, nil
}

// markFavorited sets Favorited on each of vs the viewer favors: one lookup
// by key for the whole page.
func (db *Store) markFavorited(ctx context.Context, viewer domain.Actor, vs []View) error {
	if viewer.IsAnonymous() || len(vs) == 0 {
		return nil
	}
	keys := make([]string, len(vs))
	for i := range vs {
		keys[i] = domain.FavoriteStream(viewer.ID, vs[i].ID).ID
	}
	q, args, err := projections.InQuery("SELECT id FROM article_favorites WHERE id IN (?)", keys)
	if err != nil {
		return err
	}
	var held []string
	if err := db.SelectContext(ctx, &held, db.Rebind(q), args...); err != nil {
		return fmt.Errorf("favorites of the viewer: %w", err)
	}
	on := make(map[string]bool, len(held))
	for _, k := range held {
		on[k] = true
	}
	for i := range vs {
		vs[i].Favorited = on[keys[i]]
	}
	return nil
}

// ArticlesByIDs returns the articles of ids the viewer may see, in the
// order of ids (those it may not see, or that are gone, left out), each
// with Favorited for the viewer: one query by key, for a page of ids read
// elsewhere (the feed).
func (db *Store) ArticlesByIDs(ctx context.Context, viewer domain.Actor, ids []string) ([]View, error) {
	if len(ids) == 0 {
		return []View{}, nil
	}
	// The rows are found by id alone, and who may see them is checked
	// here: with the visibility's OR in the query, SQLite reads every
	// published article rather than the page's ids.
	q, args, err := projections.InQuery(articleViewSelect+" WHERE a.id IN (?)", ids)
	if err != nil {
		return nil, err
	}
	var rows []articleViewRow
	if err := db.SelectContext(ctx, &rows, db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("articles by ids: %w", err)
	}
	byID := make(map[string]View, len(rows))
	for i := range rows {
		v, err := rows[i].view()
		if err != nil {
			return nil, err
		}
		if visible(viewer, v) {
			byID[v.ID] = v
		}
	}
	out := make([]View, 0, len(rows))
	for _, id := range ids {
		if v, ok := byID[id]; ok {
			out = append(out, v)
		}
	}
	return out, db.markFavorited(ctx, viewer, out)
}

// Favorite is one of a user's favorites, as the export shows it.
type Favorite struct {
	ArticleID string `db:"article_id" json:"article_id"`
}

// FavoritesOf returns up to limit of userID's favorites whose article id
// comes after after ("": from the first), by article id: the export's pages,
// each a range of article_favorites' primary key ("<user id>_<article id>").
func (db *Store) FavoritesOf(ctx context.Context, userID, after string, limit int) ([]Favorite, error) {
	from := domain.FavoriteStream(userID, after).ID
	var out []Favorite
	// '`' is the byte after '_': the range holds every key of the user's.
	err := db.SelectContext(ctx, &out, db.Rebind("SELECT article_id FROM article_favorites WHERE id > ? AND id < ? ORDER BY id LIMIT ?"), from, userID+"`", limit)
	if err != nil {
		return nil, fmt.Errorf("favorites of a user: %w", err)
	}
	return out, nil
}
