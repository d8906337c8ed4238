// Package readmodels is what Inkwell's read models share: the list engine
// (a page read in index order, with cursors and bounded counts), the
// window of a page, and small helpers of their rows and queries. Each read
// model is a package of its own below it (articles, users, personal): its
// projection (Apply), its schema (schema.sql, embedded), its queries and
// its tests. The projection engine (package projections) keeps their tables
// current and rebuilds them; it knows them only as projections.Projection.
package readmodels

import (
	"database/sql"
	"errors"
	"strings"
	"time"

	"inkwell/domain"
)

// Page selects a window of a list.
type Page struct {
	Limit  int
	Offset int
	// Cursor, when set, starts the page after the row it was taken from
	// (see ListPage.Next); Offset then counts from there.
	Cursor string
}

// DBTime normalizes a time for storage: UTC, microsecond precision (what
// PostgreSQL keeps), so both dialects hold identical values.
func DBTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// IsNoRows reports whether err says a query found no row.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// ByID returns the aggregate of a row whose first value is the id of an
// aggregate of type typ.
func ByID(typ string) func(row []any) domain.StreamID {
	return func(row []any) domain.StreamID { return domain.StreamID{Type: typ, ID: row[0].(string)} }
}

// OrderedSet is a set of keys that keeps the order of their first
// appearance (Keys lists them so).
type OrderedSet struct {
	seen map[string]bool
	Keys []string
}

// Add adds k unless the set holds it.
func (s *OrderedSet) Add(k string) {
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	if !s.seen[k] {
		s.seen[k] = true
		s.Keys = append(s.Keys, k)
	}
}

// SetIf sets *dst to *v when v is not nil (a partial update's field).
func SetIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// IsUUID reports whether s looks like an id (rather than a number or slug).
func IsUUID(s string) bool {
	return len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-'
}

// LikePattern returns a LIKE pattern matching s anywhere, with LIKE's
// wildcards in s escaped (ESCAPE '\').
func LikePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(strings.ToLower(s)) + "%"
}

// Prefixed qualifies each column of a comma-separated list with alias.
func Prefixed(alias, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}
