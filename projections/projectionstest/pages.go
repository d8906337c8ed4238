package projectionstest

import (
	"slices"
	"testing"
)

// Page is a page of a list as CheckPages reads it: the ids of its items,
// the count of the whole list (and whether it is exact) and the cursor of
// the next page ("" on the last).
type Page struct {
	IDs   []string
	Count int
	Exact bool
	Next  string
}

// CheckPages reads a whole list, limit items a page, once by offset and
// once by cursor (list reads the page it is asked for), and checks that
// each way reads the ids want, in order: every page by offset counts want
// exactly, and has a next cursor unless it is the last.
func CheckPages(t testing.TB, what string, want []string, limit int, list func(limit, offset int, cursor string) (Page, error)) {
	t.Helper()
	var byOffset []string
	for off := 0; ; off += limit {
		page, err := list(limit, off, "")
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if page.Count != len(want) || !page.Exact {
			t.Fatalf("%s: count %d (exact %v), want %d", what, page.Count, page.Exact, len(want))
		}
		byOffset = append(byOffset, page.IDs...)
		if (page.Next == "") != (off+limit >= len(want)) {
			t.Fatalf("%s: next %q at offset %d of %d", what, page.Next, off, len(want))
		}
		if page.Next == "" {
			break
		}
	}
	if !slices.Equal(byOffset, want) {
		t.Fatalf("%s: by offset\n got %q\nwant %q", what, byOffset, want)
	}

	var byCursor []string
	cursor := ""
	for pages := 0; ; pages++ {
		page, err := list(limit, 0, cursor)
		if err != nil {
			t.Fatalf("%s: cursor: %v", what, err)
		}
		byCursor = append(byCursor, page.IDs...)
		if page.Next == "" || pages > len(want) {
			break
		}
		cursor = page.Next
	}
	if !slices.Equal(byCursor, want) {
		t.Fatalf("%s: by cursor\n got %q\nwant %q", what, byCursor, want)
	}
}
