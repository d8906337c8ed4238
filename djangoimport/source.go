// Package djangoimport reads the database of the tutorial's Django blog
// (SQLite or PostgreSQL) and records its users, categories, tags and
// articles in Inkwell through the import commands (commands.Imports):
// every row checked against Inkwell's rules first, those that break one
// reported with their key and the rule, and skipped.
package djangoimport

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Tables names the tables of a Django database the import reads. Empty
// names are discovered (see Discover).
type Tables struct {
	App        string // the app label: the prefix of its tables ("blog")
	User       string // "<app>_user" for the tutorial's custom user, else Django's "auth_user"
	Category   string // "<app>_category"
	Tag        string // "<app>_tag"
	Article    string // "<app>_article"
	ArticleTag string // "<app>_article_tags": the articles' many-to-many with tags
}

// Source is an open Django database.
type Source struct {
	db      *sql.DB
	dialect string // "sqlite" or "pgx"
	Tables  Tables
}

// Open opens the Django database at dsn: a PostgreSQL URL
// (postgres://...) or the path of a SQLite file, read only.
func Open(ctx context.Context, dsn string) (*Source, error) {
	s := &Source{dialect: "sqlite"}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s.dialect = "pgx"
		s.db, err = sql.Open("pgx", dsn)
	} else {
		s.db, err = sql.Open("sqlite", "file:"+dsn+"?mode=ro")
	}
	if err != nil {
		return nil, fmt.Errorf("open the Django database: %w", err)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("open the Django database: %w", err)
	}
	return s, nil
}

// Close closes the database.
func (s *Source) Close() error { return s.db.Close() }

// tableNames lists the database's tables (PostgreSQL: those on the search path).
func (s *Source) tableNames(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table'`
	if s.dialect == "pgx" {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = ANY (current_schemas(false))`
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Discover fills the table names t leaves empty: the app is the one whose
// "<app>_article" table exists (it must be one, or be given), the user
// table is "<app>_user" when the app has a custom user model (the
// tutorial's), else Django's "auth_user".
func (s *Source) Discover(ctx context.Context, t Tables) error {
	names, err := s.tableNames(ctx)
	if err != nil {
		return err
	}
	has := func(n string) bool { return slices.Contains(names, n) }
	if t.App == "" && t.Article == "" {
		var apps []string
		for _, n := range names {
			if app, ok := strings.CutSuffix(n, "_article"); ok && !strings.Contains(app, "_") {
				apps = append(apps, app)
			}
		}
		switch len(apps) {
		case 0:
			return errors.New("no table <app>_article: is this the tutorial's database? (give --app or --article-table)")
		case 1:
			t.App = apps[0]
		default:
			return fmt.Errorf("several apps have an article table (%s): give --app", strings.Join(apps, ", "))
		}
	}
	pick := func(name *string, suffix string) {
		if *name == "" {
			*name = t.App + suffix
		}
	}
	pick(&t.Article, "_article")
	pick(&t.Category, "_category")
	pick(&t.Tag, "_tag")
	pick(&t.ArticleTag, "_article_tags")
	if t.User == "" {
		t.User = "auth_user"
		if has(t.App + "_user") {
			t.User = t.App + "_user"
		}
	}
	for _, n := range []string{t.User, t.Category, t.Tag, t.Article, t.ArticleTag} {
		if !has(n) {
			return fmt.Errorf("no table %q in the Django database (give the tables with the --*-table flags)", n)
		}
	}
	s.Tables = t
	return nil
}

// safeName is what a table name given by flag may be.
var safeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// columns lists the columns of table.
func (s *Source) columns(ctx context.Context, table string) (map[string]bool, error) {
	if !safeName.MatchString(table) {
		return nil, fmt.Errorf("table name %q: letters, digits and _ only", table)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT * FROM "+table+" WHERE 1 = 0")
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, c := range cols {
		out[c] = true
	}
	return out, nil
}

// row is one row as a map of column to value.
type row map[string]any

// readTable reads the columns of table that want names and the table has
// (those it lacks read as absent), ordered by key; required columns it
// lacks are an error.
func (s *Source) readTable(ctx context.Context, table, key string, required, optional []string) ([]row, error) {
	have, err := s.columns(ctx, table)
	if err != nil {
		return nil, err
	}
	var cols []string
	for _, c := range required {
		if !have[c] {
			return nil, fmt.Errorf("table %s has no column %s", table, c)
		}
		cols = append(cols, c)
	}
	for _, c := range optional {
		if have[c] {
			cols = append(cols, c)
		}
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + table
	if key != "" {
		q += " ORDER BY " + key
	}
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read table %s: %w", table, err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read table %s: %w", table, err)
		}
		r := row{}
		for i, c := range cols {
			r[c] = vals[i]
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// str reads a text column ("" for NULL or absent).
func (r row) str(col string) string {
	switch v := r[col].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// key reads a primary or foreign key as text ("" for NULL).
func (r row) key(col string) string { return r.str(col) }

// boolean reads a boolean column (SQLite keeps 0 and 1).
func (r row) boolean(col string) bool {
	switch v := r[col].(type) {
	case bool:
		return v
	case int64:
		return v != 0
	case string:
		b, _ := strconv.ParseBool(v)
		return b || v == "1"
	case []byte:
		return string(v) == "1" || string(v) == "true"
	}
	return false
}

// timeLayouts are how SQLite databases written by Django hold times (UTC
// when the project sets USE_TZ, as Django's default project does).
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02",
}

// time reads a time column: nil for NULL or absent, an error for a value
// that is no time.
func (r row) time(col string) (*time.Time, error) {
	var text string
	switch v := r[col].(type) {
	case nil:
		return nil, nil
	case time.Time:
		t := v.UTC()
		return &t, nil
	case string:
		text = v
	case []byte:
		text = string(v)
	default:
		return nil, fmt.Errorf("%s: %v is not a time", col, v)
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, text); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, fmt.Errorf("%s: %q is not a time", col, text)
}
