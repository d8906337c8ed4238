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
	"testing"

	"github.com/jmoiron/sqlx"

	"inkwell/projections"
)

// MustOpenSQLite opens a migrated SQLite database in a temporary directory.
func MustOpenSQLite(tb testing.TB) *projections.DB {
	tb.Helper()
	db, err := projections.Open(context.Background(), filepath.Join(tb.TempDir(), "inkwell.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
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
		tb.Skip("SKIP: INKWELL_TEST_DATABASE_URL is not set; this test needs PostgreSQL (.ci/run sets it)")
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
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := projections.Open(context.Background(), u.String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background(), nil); err != nil {
		tb.Fatal(err)
	}
	return db, u.String()
}

// Dialects runs fn once per dialect as subtests: SQLite always, PostgreSQL
// when INKWELL_TEST_DATABASE_URL is set (the subtest says so when skipped).
func Dialects(t *testing.T, fn func(t *testing.T, open func(testing.TB) *projections.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, MustOpenSQLite) })
	t.Run("postgres", func(t *testing.T) {
		PostgresURL(t)
		fn(t, MustOpenPostgres)
	})
}
