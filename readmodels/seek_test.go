package readmodels_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
)

// seekItem is a row of the table TestPageByOffsetSeeks lists.
type seekItem struct {
	ID   string `db:"id"`
	Name string `db:"name"`
	Grp  int    `db:"grp"`
}

// A page by offset, on both dialects, is the items the whole list has at
// that offset, with the same next cursor, for every offset; and the rows it
// skips are not read whole (only the page's are converted), though the list
// is read as two branches merged.
func TestPageByOffsetSeeks(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, "CREATE TABLE seek_items (id TEXT PRIMARY KEY, name TEXT NOT NULL, grp INTEGER NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		var all []seekItem
		for i := range 120 {
			// Names repeat, so that ties go by id; the two groups interleave.
			it := seekItem{ID: fmt.Sprintf("id-%03d", (i*37)%120), Name: fmt.Sprintf("name %02d", i%40), Grp: i % 3 % 2}
			all = append(all, it)
			if _, err := db.ExecContext(ctx, db.Rebind("INSERT INTO seek_items (id, name, grp) VALUES (?, ?, ?)"), it.ID, it.Name, it.Grp); err != nil {
				t.Fatal(err)
			}
		}
		for _, desc := range []bool{false, true} {
			keys := []readmodels.SortKey[seekItem]{
				{Expr: "name", Desc: desc, Kind: readmodels.KeyText, Value: func(s *seekItem) any { return s.Name }},
				{Expr: "id", Desc: desc, Kind: readmodels.KeyText, Value: func(s *seekItem) any { return s.ID }},
			}
			want := slices.Clone(all)
			slices.SortFunc(want, func(x, y seekItem) int {
				c := strings.Compare(x.Name+"\x00"+x.ID, y.Name+"\x00"+y.ID)
				if desc {
					return -c
				}
				return c
			})
			for _, branches := range [][]readmodels.Branch{
				{{}},
				{readmodels.Branch{}.And("grp = ?", 0), readmodels.Branch{}.And("grp = ?", 1)},
			} {
				list := func(page readmodels.Page) ([]seekItem, string, int) {
					t.Helper()
					converted := 0
					l := readmodels.PlanList(db, "name", keys, branches, nil, "SELECT id, name, grp FROM seek_items", page)
					items, next, err := readmodels.RunList(ctx, db, l, page, func(r *seekItem) (seekItem, error) {
						converted++
						return *r, nil
					})
					if err != nil {
						t.Fatal(err)
					}
					return items, next, converted
				}
				what := fmt.Sprintf("descending %v, %d branches", desc, len(branches))
				for off := 0; off <= len(want)+1; off += 7 {
					got, next, converted := list(readmodels.Page{Limit: 5, Offset: off})
					end := min(off+5, len(want))
					if start := min(off, len(want)); !slices.Equal(got, want[start:end]) {
						t.Fatalf("%s, offset %d: %v, want %v", what, off, got, want[start:end])
					}
					if converted > len(branches)*6 {
						t.Errorf("%s, offset %d: %d rows read whole, for a page of 5", what, off, converted)
					}
					// The same next as the page that reads from the start.
					_, wantNext, _ := list(readmodels.Page{Limit: end})
					if end == 0 || off >= len(want) {
						wantNext = ""
					}
					if next != wantNext {
						t.Errorf("%s, offset %d: next %q, want %q", what, off, next, wantNext)
					}
				}
			}
		}
	})
}
