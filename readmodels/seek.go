package readmodels

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"inkwell/projections"
)

// A page by offset (Page.Offset without a cursor) would read every item it
// skips, whole (an article with its content, its author, its category),
// and throw it away: at 1,000 items that is some 40 times the first page.
// Instead a list seeks: it reads the sort keys alone of the items it skips,
// in index order (a covering read of the index, nothing else), takes those
// of the last one, and reads the page after them as it would after a
// cursor. The page is the same items, and its next the same cursor.

// seek is how a list finds where a page by offset starts.
type seek[T any] struct {
	// stmts read the sort keys of the items of each branch up to the last
	// one skipped, which is at of the rows they read, merged.
	stmts []Stmt
	at    int
	// after plans the page after the item whose keys it is given.
	after func(cur []any) List[T]
}

// planSeek returns the seek of a page by offset (nil for a first page, a
// page after a cursor, or a selectSQL whose FROM it cannot find).
func planSeek[T any](db *projections.DB, ordering string, keys []SortKey[T], branches []Branch, cur []any, selectSQL string, page Page) *seek[T] {
	from := strings.LastIndex(selectSQL, "FROM ")
	if page.Offset <= 0 || cur != nil || from <= 0 || !strings.ContainsAny(selectSQL[from-1:from], " \n\t") {
		return nil
	}
	cols := make([]string, len(keys))
	for i, k := range keys {
		cols[i] = k.Expr
	}
	// One branch: the database skips to the last item skipped (LIMIT 2
	// OFFSET offset-1: it and the one after). Several: each reads the keys
	// of up to offset items (LIMIT offset), merged here.
	keyPage := Page{Limit: page.Offset - 1}
	if len(branches) == 1 {
		keyPage = Page{Limit: 1, Offset: page.Offset - 1}
	}
	keyList := planList(db, ordering, keys, branches, nil, "SELECT "+strings.Join(cols, ", ")+" "+selectSQL[from:], keyPage)
	return &seek[T]{stmts: keyList.Stmts, at: page.Offset - 1 - keyPage.Offset, after: func(cur []any) List[T] {
		return planList(db, ordering, keys, branches, cur, selectSQL, Page{Limit: page.Limit})
	}}
}

// find returns the sort keys of the last item skipped, and false when the
// list has not that many.
func (s *seek[T]) find(ctx context.Context, db *projections.DB, keys []SortKey[T]) ([]any, bool, error) {
	var all [][]any
	for _, st := range s.stmts {
		rows, err := db.QueryContext(ctx, st.SQL, st.Args...)
		if err != nil {
			return nil, false, fmt.Errorf("seek: %w", err)
		}
		for rows.Next() {
			vals, err := scanKeys(rows.Scan, keys)
			if err != nil {
				rows.Close()
				return nil, false, fmt.Errorf("seek: %w", err)
			}
			all = append(all, vals)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("seek: %w", err)
		}
		rows.Close()
	}
	if len(s.stmts) > 1 {
		slices.SortStableFunc(all, func(x, y []any) int { return compareKeys(keys, x, y) })
	}
	if len(all) <= s.at {
		return nil, false, nil
	}
	return all[s.at], true, nil
}

// scanKeys scans one row of sort keys, each as its Value gives it.
func scanKeys[T any](scan func(...any) error, keys []SortKey[T]) ([]any, error) {
	dest := make([]any, len(keys))
	for i, k := range keys {
		switch k.Kind {
		case KeyTime:
			dest[i] = new(time.Time)
		case KeyNullTime:
			dest[i] = new(*time.Time)
		case KeyText:
			dest[i] = new(string)
		default:
			dest[i] = new(int)
		}
	}
	if err := scan(dest...); err != nil {
		return nil, err
	}
	out := make([]any, len(keys))
	for i, d := range dest {
		switch v := d.(type) {
		case *time.Time:
			out[i] = v.UTC()
		case **time.Time:
			if *v != nil {
				u := (*v).UTC()
				out[i] = &u
			} else {
				out[i] = (*time.Time)(nil)
			}
		case *string:
			out[i] = *v
		case *int:
			out[i] = *v
		}
	}
	return out, nil
}

// compareKeys orders two rows of sort keys as the list does.
func compareKeys[T any](keys []SortKey[T], x, y []any) int {
	for i, k := range keys {
		c := compareKey(k.Kind, x[i], y[i])
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
