// Package readmodels is what Inkwell's read models share: their
// description (Described), the list engine (a page read in index order,
// with cursors and bounded counts), the window of a page, the authors'
// public names some keep beside their rows (Names), and small helpers of
// their rows and queries. Each read model is a package of its own below it
// (articles, comments, follows, personal, users): its projection (Apply),
// its schema (schema.sql, embedded), its queries and its tests; the
// fingerprints of every schema are recorded here (schema_test.go). The
// projection engine (package projections) keeps their tables current and
// rebuilds them; it knows them only as projections.Projection.
package readmodels

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"inkwell/domain"
	"inkwell/projections"
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

// Get reads into a T the one row query (with ? placeholders) selects.
// Returns notFound if it selects none; other errors are prefixed with what.
func Get[T any](ctx context.Context, db *projections.DB, notFound error, what, query string, args ...any) (T, error) {
	var v T
	err := db.GetContext(ctx, &v, db.Rebind(query), args...)
	if IsNoRows(err) {
		return v, notFound
	} else if err != nil {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// ByID returns the aggregate of a row whose first value is the id of an
// aggregate of type typ.
func ByID(typ string) func(row []any) domain.StreamID {
	return func(row []any) domain.StreamID { return domain.StreamID{Type: typ, ID: row[0].(string)} }
}

// Stored holds, by aggregate type, the ids of the streams of a batch's
// events whose rows the read model may hold already (see
// projections.Tx.MayHave): the rows the batch loads before applying them.
type Stored map[string]*OrderedSet

// StoredOf returns the streams of recs whose rows tx may hold.
func StoredOf(tx *projections.Tx, recs []domain.Record) Stored {
	s := Stored{}
	for _, r := range recs {
		if tx.MayHave(r.Stream) {
			s.Of(r.Stream.Type).Add(r.Stream.ID)
		}
	}
	return s
}

// Of returns the ids of the streams of aggregate type typ (a set of s:
// adding to it adds to s).
func (s Stored) Of(typ string) *OrderedSet {
	if s[typ] == nil {
		s[typ] = &OrderedSet{}
	}
	return s[typ]
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
