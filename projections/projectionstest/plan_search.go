package projectionstest

import (
	"regexp"
	"strings"
	"testing"

	"inkwell/projections"
)

// anyScanOrSort matches the plan steps of a query that reads a table
// through (SQLite's SCAN of a table, PostgreSQL's Seq Scan) or sorts.
var anyScanOrSort = regexp.MustCompile(`^SCAN |TEMP B-TREE|Seq Scan on|Sort  \(|Incremental Sort`)

// CheckIndexSearch fails the test when the plan of query scans a table or
// sorts, or when the index search of table (its logical name) lacks one of
// columns: the conditions that bound the rows a page reads (an equality on
// the list's owner, a cursor's range). It serves lists read from one index
// of a table joined by key to others (a user's favorites, a feed).
func CheckIndexSearch(t *testing.T, db *projections.DB, table, what, query string, args []any, columns ...string) {
	t.Helper()
	steps := planWithout(t, db, what, query, args, anyScanOrSort)
	search := indexSearch(db, table, steps)
	for _, c := range columns {
		if !strings.Contains(search, c) {
			t.Errorf("%s: the index search %q of %s lacks %s\nquery: %s\nplan:\n  %s", what, search, table, c, query, strings.Join(steps, "\n  "))
		}
	}
}
