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
// {{bool}} and {{text}} for column types, and {{sorttext "col"}} for the
// key text sorts by (see SortText).
func RenderSchema(projection, src string, p SchemaParams) (string, error) {
	types := map[string]map[string]string{
		"sqlite":   {"timestamp": "TIMESTAMP", "bigint": "INTEGER", "bool": "BOOLEAN", "text": "TEXT"},
		"postgres": {"timestamp": "TIMESTAMPTZ", "bigint": "BIGINT", "bool": "BOOLEAN", "text": "TEXT"},
	}[p.Dialect]
	if types == nil {
		return "", fmt.Errorf("schema of projection %q: unknown dialect %q", projection, p.Dialect)
	}
	funcs := template.FuncMap{"t": p.Table, "sorttext": func(col string) string { return SortText(p.Dialect, col) }}
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
