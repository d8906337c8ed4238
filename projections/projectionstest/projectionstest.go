// Package projectionstest opens read-model databases for tests: a SQLite file
// in a temporary directory, and a PostgreSQL schema of its own on the server
// named by INKWELL_TEST_DATABASE_URL.
package projectionstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"inkwell/projections"
	"inkwell/testkit"
)

// MustOpenSQLite opens a migrated SQLite database in a temporary directory.
func MustOpenSQLite(tb testing.TB) *projections.DB {
	tb.Helper()
	db := MustOpenURL(tb, filepath.Join(tb.TempDir(), "inkwell.db"))
	if err := db.Migrate(context.Background(), nil); err != nil {
		tb.Fatal(err)
	}
	return db
}

// PostgresURL returns INKWELL_TEST_DATABASE_URL, skipping the test (and
// saying why) when it is unset.
func PostgresURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("INKWELL_TEST_DATABASE_URL")
	if u == "" {
		testkit.Skip(tb, "INKWELL_TEST_DATABASE_URL", "set it to a PostgreSQL database it may create schemas in, such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable (.ci/run does)")
	}
	return u
}

// MustOpenPostgres creates a schema of the test's own on the test server,
// opens a migrated database whose search_path is that schema, and drops the
// schema when the test ends.
func MustOpenPostgres(tb testing.TB) *projections.DB {
	tb.Helper()
	db, _ := MustOpenPostgresURL(tb)
	return db
}

// MustOpenPostgresURL is MustOpenPostgres that also returns the URL of the
// test's schema, for tests that start more processes on it.
func MustOpenPostgresURL(tb testing.TB) (*projections.DB, string) {
	tb.Helper()
	base := PostgresURL(tb)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sqlx.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	u := WithParam(tb, base, "search_path", schema)
	db := MustOpenURL(tb, u)
	if err := db.Migrate(context.Background(), nil); err != nil {
		tb.Fatal(err)
	}
	return db, u
}

// MustOpenURL opens the read-model database at raw (a file or a
// PostgreSQL URL) as it stands, without migrating it, and closes it when
// the test ends: one more process's connection to a test's database.
func MustOpenURL(tb testing.TB, raw string) *projections.DB {
	tb.Helper()
	db, err := projections.Open(context.Background(), raw)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// WithParam returns the URL raw with its query parameter name set to value
// (a PostgreSQL URL's search_path or application_name).
func WithParam(tb testing.TB, raw, name, value string) string {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Dialects runs fn once per dialect as subtests: SQLite always, PostgreSQL
// when INKWELL_TEST_DATABASE_URL is set (the subtest says so when skipped).
// The test runs in parallel with the others (t.Parallel): each database it
// opens is its own.
func Dialects(t *testing.T, fn func(t *testing.T, open func(testing.TB) *projections.DB)) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) { fn(t, MustOpenSQLite) })
	t.Run("postgres", func(t *testing.T) {
		PostgresURL(t)
		fn(t, MustOpenPostgres)
	})
}

// EachDialect runs fn on a fresh database of each dialect, as Dialects
// does, for a test that needs one database.
func EachDialect(t *testing.T, fn func(t *testing.T, db *projections.DB)) {
	Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) { fn(t, open(t)) })
}

// Rows are the rows of a read model's tables, by table, in a stable order
// and with times in UTC: two read models built from one log compare equal.
type Rows map[string][]map[string]any

// Snapshot reads every table of ps (through their views).
func Snapshot(tb testing.TB, db *projections.DB, ps ...projections.Projection) Rows {
	tb.Helper()
	out := Rows{}
	for _, p := range ps {
		for _, table := range p.Tables() {
			rows, err := db.Queryx("SELECT * FROM " + table + " ORDER BY 1, 2")
			if err != nil {
				tb.Fatalf("read %s: %v", table, err)
			}
			list := []map[string]any{}
			for rows.Next() {
				m := map[string]any{}
				if err := rows.MapScan(m); err != nil {
					tb.Fatal(err)
				}
				for k, v := range m {
					switch x := v.(type) {
					case time.Time:
						m[k] = x.UTC()
					case []byte:
						m[k] = string(x)
					}
				}
				list = append(list, m)
			}
			if err := rows.Err(); err != nil {
				tb.Fatal(err)
			}
			rows.Close()
			out[table] = list
		}
	}
	return out
}

// SameRows fails the test, naming the first difference, unless got and want
// hold the same rows.
func SameRows(tb testing.TB, what string, got, want Rows) {
	tb.Helper()
	for table, w := range want {
		g := got[table]
		if len(g) != len(w) {
			tb.Fatalf("%s: table %s has %d rows, want %d", what, table, len(g), len(w))
		}
		for i := range w {
			if !reflect.DeepEqual(g[i], w[i]) {
				tb.Fatalf("%s: table %s row %d differs:\n got  %v\n want %v", what, table, i, g[i], w[i])
			}
		}
	}
	if len(got) != len(want) {
		tb.Fatalf("%s: %d tables, want %d", what, len(got), len(want))
	}
}
