package articles

import (
	"context"
	"fmt"

	"inkwell/migrations"
	"inkwell/readmodels"
)

// Count scopes of the categories and the tags, in article_counts.
const (
	CountCategories = "categories"
	CountTags       = "tags"
)

// categoryRowSorted and tagRowSorted are rows with the key lists sort by.
type categoryRowSorted struct {
	Category
	SortName string `db:"sort_name"`
}

type tagRowSorted struct {
	Tag
	SortName string `db:"sort_name"`
}

// sorted is an item of a list by name.
type sorted[T any] struct {
	item T
	name string
	id   string
}

// nameKeys are the keys of a list by name: the name as lists sort text,
// then the id.
func nameKeys[T any](db *Store) []readmodels.SortKey[sorted[T]] {
	return []readmodels.SortKey[sorted[T]]{
		{Expr: migrations.SortText(string(db.Dialect), "name"), Desc: false, Kind: readmodels.KeyText, Value: func(s *sorted[T]) any { return s.name }},
		{Expr: "id", Desc: false, Kind: readmodels.KeyText, Value: func(s *sorted[T]) any { return s.id }},
	}
}

// listByName reads a page of a list by name (ordering "name") from
// selectSQL under cond, in index order.
func listByName[T, R any](ctx context.Context, db *Store, selectSQL string, b readmodels.Branch, p readmodels.Page, conv func(*R) (sorted[T], error)) ([]T, string, error) {
	keys := nameKeys[T](db)
	var cur []any
	if p.Cursor != "" {
		var err error
		if cur, err = readmodels.DecodeCursor(p.Cursor, "name", keys); err != nil {
			return nil, "", err
		}
	}
	items, next, err := readmodels.RunList(ctx, db.DB, readmodels.PlanList(db.DB, "name", keys, []readmodels.Branch{b}, cur, selectSQL, p), p, conv)
	if err != nil {
		return nil, "", err
	}
	out := make([]T, len(items))
	for i := range items {
		out[i] = items[i].item
	}
	return out, next, nil
}

// keptCount reads a count scope of article_counts (0 when it has no row).
func (db *Store) keptCount(ctx context.Context, scope string) (int, error) {
	var ns []int
	if err := db.SelectContext(ctx, &ns, db.Rebind("SELECT n FROM article_counts WHERE scope = ?"), scope); err != nil {
		return 0, err
	}
	if len(ns) == 0 {
		return 0, nil
	}
	return ns[0], nil
}

// ListCategories returns a page of categories by name, read in index
// order, and how many there are.
func (db *Store) ListCategories(ctx context.Context, p readmodels.Page) (readmodels.ListPage[Category], error) {
	var page readmodels.ListPage[Category]
	n, err := db.keptCount(ctx, CountCategories)
	if err != nil {
		return page, fmt.Errorf("count categories: %w", err)
	}
	page.Count, page.CountExact = n, true
	sel := "SELECT " + categoryColumns + ", LOWER(name) AS sort_name FROM categories"
	page.Items, page.Next, err = listByName(ctx, db, sel, readmodels.Branch{}, p, func(r *categoryRowSorted) (sorted[Category], error) {
		c := r.Category
		c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
		return sorted[Category]{c, r.SortName, c.ID}, nil
	})
	if err != nil {
		return page, fmt.Errorf("list categories: %w", err)
	}
	return page, nil
}

// ListTags returns a page of tags by name (those whose name contains
// search, if given), read in index order, and how many there are (with a
// search, counted up to readmodels.CountBound).
func (db *Store) ListTags(ctx context.Context, search string, p readmodels.Page) (readmodels.ListPage[Tag], error) {
	var page readmodels.ListPage[Tag]
	var b readmodels.Branch
	var err error
	if search == "" {
		page.Count, err = db.keptCount(ctx, CountTags)
		page.CountExact = true
	} else {
		b = b.And(`LOWER(name) LIKE ? ESCAPE '\'`, readmodels.LikePattern(search))
		page.Count, page.CountExact, err = readmodels.CountUpTo(ctx, db.DB, "tags", b.Cond, b.Args...)
	}
	if err != nil {
		return page, fmt.Errorf("count tags: %w", err)
	}
	sel := "SELECT " + tagColumns + ", LOWER(name) AS sort_name FROM tags"
	page.Items, page.Next, err = listByName(ctx, db, sel, b, p, func(r *tagRowSorted) (sorted[Tag], error) {
		t := r.Tag
		t.CreatedAt = t.CreatedAt.UTC()
		return sorted[Tag]{t, r.SortName, t.ID}, nil
	})
	if err != nil {
		return page, fmt.Errorf("list tags: %w", err)
	}
	return page, nil
}
