// Package migrations holds Inkwell's SQL, embedded in the binary.
//
// Two kinds of SQL live here:
//
//   - sqlite/ and postgres/: numbered migrations of the tables Inkwell keeps
//     for itself (projection checkpoints and generations), applied in order at
//     start-up and recorded in the inkwell_migrations table;
//   - the schema of each read model is not here but beside it (its
//     package's schema.sql, see readmodels): written once for both dialects
//     as a template that RenderSchema fills. Read models are not migrated
//     in place: a new projection version is a new generation of tables,
//     filled by replaying the log and then swapped in (see package
//     projections).
package migrations

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"text/template"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Core returns the numbered migrations for a dialect ("sqlite" or "postgres").
func Core(dialect string) (fs.FS, error) {
	return fs.Sub(files, dialect)
}

// SortText is the expression text columns sort by in lists: lower-cased,
// compared byte by byte on both dialects (PostgreSQL's collations would
// otherwise ignore punctuation). Queries write it the same way, so that the
// indexes on it serve them.
func SortText(dialect, col string) string {
	if dialect == "postgres" {
		return "(LOWER(" + col + ") COLLATE \"C\")"
	}
	return "LOWER(" + col + ")"
}

// WithoutRowID is what a table of small rows with a primary key other than
// one integer declares after its columns: on SQLite, WITHOUT ROWID, so that
// the table is stored in its key's B-tree. A plain SQLite table is a B-tree
// by rowid beside a second one for its key, so each row written costs one
// B-tree more; on a table of narrow rows written at every event (a feed's
// fan-out, a link, a count), that is a third to a half of its writes.
// SQLite advises it for rows of less than a twentieth of a page: never for
// a table holding an article's or a comment's text. PostgreSQL has no such
// option (its tables are heaps with the key an index): nothing.
func WithoutRowID(dialect string) string {
	if dialect == "sqlite" {
		return "WITHOUT ROWID"
	}
	return ""
}

// SchemaParams fills a projection's schema template.
type SchemaParams struct {
	// Dialect is "sqlite" or "postgres".
	Dialect string
	// Table maps a table's logical name to its physical name in the
	// generation being created.
	Table func(logical string) string
}

// RenderSchema renders the DDL of a projection's tables from src, its
// schema's template. Templates call {{t "name"}} for a physical table name
// (also usable as an index-name prefix), {{timestamp}}, {{bigint}},
// {{bool}} and {{text}} for column types, {{sorttext "col"}} for the
// key text sorts by (see SortText), and {{withoutrowid}} after a table's
// closing parenthesis for a table stored in its primary key's order (see
// WithoutRowID).
func RenderSchema(projection, src string, p SchemaParams) (string, error) {
	types := map[string]map[string]string{
		"sqlite":   {"timestamp": "TIMESTAMP", "bigint": "INTEGER", "bool": "BOOLEAN", "text": "TEXT"},
		"postgres": {"timestamp": "TIMESTAMPTZ", "bigint": "BIGINT", "bool": "BOOLEAN", "text": "TEXT"},
	}[p.Dialect]
	if types == nil {
		return "", fmt.Errorf("schema of projection %q: unknown dialect %q", projection, p.Dialect)
	}
	funcs := template.FuncMap{"t": p.Table, "sorttext": func(col string) string { return SortText(p.Dialect, col) },
		"withoutrowid": func() string { return WithoutRowID(p.Dialect) }}
	for k, v := range types {
		funcs[k] = func() string { return v }
	}
	tmpl, err := template.New(projection).Funcs(funcs).Option("missingkey=error").Parse(src)
	if err != nil {
		return "", fmt.Errorf("schema of projection %q: %w", projection, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("schema of projection %q: %w", projection, err)
	}
	return b.String(), nil
}
