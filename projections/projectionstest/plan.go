package projectionstest

import (
	"context"
	"inkwell/migrations"
	"inkwell/projections"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Plan returns the database's plan of a query, one line per step. On
// PostgreSQL, sequential scans and sorts are priced out first, so that a
// plan that still has one has no index to do without it.
func Plan(t *testing.T, db *projections.DB, q string, args []any) []string {
	t.Helper()
	ctx := context.Background()
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var lines []string
	if db.Dialect == projections.Postgres {
		for _, set := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_sort = off"} {
			if _, err := tx.ExecContext(ctx, set); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.SelectContext(ctx, &lines, "EXPLAIN "+q, args...); err != nil {
			t.Fatalf("explain %s: %v", q, err)
		}
		return lines
	}
	var rows []struct {
		ID, Parent, NotUsed int
		Detail              string
	}
	r, err := tx.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer r.Close()
	for r.Next() {
		var row struct {
			ID, Parent, NotUsed int
			Detail              string
		}
		if err := r.Scan(&row.ID, &row.Parent, &row.NotUsed, &row.Detail); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	for _, row := range rows {
		lines = append(lines, row.Detail)
	}
	return lines
}

// fullScanOrSort matches the plan steps that make a list cost what its
// table holds: a scan of the whole articles table (not in an index's order)
// and a sort.
var fullScanOrSort = regexp.MustCompile(`^SCAN a$|^SCAN a_|^SCAN users_g[0-9]+$|TEMP B-TREE|Seq Scan on|Sort  \(|Incremental Sort`)

// CheckPlan fails the test when the plan of query (of a list of table in
// ordering) scans the table, sorts, or leaves out of its index search what
// bounds the rows read (see needs): that would be a filter of the rows an
// ordered scan goes through, as many as the table holds.
func CheckPlan(t *testing.T, db *projections.DB, table, what, ordering, query string, args []any) {
	t.Helper()
	steps := planWithout(t, db, what, query, args, fullScanOrSort)
	search := indexSearch(db, table, steps)
	for _, n := range needs(db, ordering, query) {
		if !slices.ContainsFunc(n, func(s string) bool { return strings.Contains(search, s) }) {
			t.Errorf("%s: the index search %q lacks %q\nquery: %s\nplan:\n  %s", what, search, n, query, strings.Join(steps, "\n  "))
		}
	}
}

// planWithout returns the steps of the plan of query (logged with PLANDUMP
// set), failing the test for each step that bad matches.
func planWithout(t *testing.T, db *projections.DB, what, query string, args []any, bad *regexp.Regexp) []string {
	t.Helper()
	steps := Plan(t, db, query, args)
	if os.Getenv("PLANDUMP") != "" {
		t.Logf("%s: %s", what, strings.Join(steps, " | "))
	}
	for _, s := range steps {
		if bad.MatchString(strings.TrimSpace(strings.TrimLeft(s, " ->"))) {
			t.Errorf("%s: %q\nquery: %s\nplan:\n  %s", what, s, query, strings.Join(steps, "\n  "))
		}
	}
	return steps
}

// indexSearch returns the conditions of the index search of a table
// ("articles", "users") in a plan.
func indexSearch(db *projections.DB, table string, steps []string) string {
	for i, s := range steps {
		if db.Dialect == projections.Postgres {
			if strings.Contains(s, " on "+table+"_g") && i+1 < len(steps) && strings.Contains(steps[i+1], "Index Cond:") {
				return steps[i+1]
			}
		} else if strings.HasPrefix(s, "SEARCH "+table+"_g") {
			return s[strings.Index(s, "("):]
		}
	}
	return ""
}

// needs returns what the index search of query must hold (one of each
// group): its equalities on is_published, author_id and category_id, and
// the range a cursor puts on the ordering's first key.
func needs(db *projections.DB, ordering, query string) [][]string {
	pg := db.Dialect == projections.Postgres
	var out [][]string
	eq := func(col string) string { return map[bool]string{false: col + "=?", true: "(" + col + " = "}[pg] }
	if strings.Contains(query, "a.is_published = ") {
		out = append(out, []string{eq("is_published")})
	}
	// One author's or one category's articles: searched by one of them
	// (the drafts of the viewer in one category, by either).
	var one []string
	for _, col := range []string{"author_id", "category_id"} {
		if strings.Contains(query, "a."+col+" = ") {
			one = append(one, eq(col))
		}
	}
	if len(one) > 0 {
		out = append(out, one)
	}
	if ordering == "" {
		ordering = "-created_at"
	}
	first := strings.Split(ordering, ",")[0]
	field, op := strings.TrimPrefix(first, "-"), ">"
	if strings.HasPrefix(first, "-") {
		op = "<"
	}
	expr, planned := "a."+field, field
	if strings.Contains(query, " FROM users") {
		expr = field
	}
	if field == "title" || (expr == field && field != "date_joined") {
		expr = migrations.SortText(string(db.Dialect), expr)
		planned = map[bool]string{false: "<expr>", true: `(lower(` + field + `) COLLATE "C")`}[pg]
	}
	if strings.Contains(query, expr+" "+op+"= ?") {
		out = append(out, []string{map[bool]string{false: planned + op + "?", true: planned + " " + op + "= "}[pg]})
	}
	return out
}
