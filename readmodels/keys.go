package readmodels

import (
	"strings"
	"time"
)

// Key is where a row stands among a user's rows in the order of their
// creation (oldest first, the id breaking ties), as the export pages
// through them. Both keys are fixed when the row is created, so a page's
// place holds whatever happens to the rows meanwhile.
type Key struct {
	ID        string    `db:"id"`
	CreatedAt time.Time `db:"created_at"`
}

// Compare orders keys: by creation, then by id.
func (k Key) Compare(o Key) int {
	if c := k.CreatedAt.Compare(o.CreatedAt); c != 0 {
		return c
	}
	return strings.Compare(k.ID, o.ID)
}

// PageAfter completes q, a query of the rows of alias whose arguments are
// args, into the query of a page of limit rows in the order of Key after
// the row after (nil: the first page). The range on created_at alone is
// what the planners take into the index; the rest only settles ties, which
// the index keeps together.
func PageAfter(q string, args []any, alias string, after *Key, limit int) (string, []any) {
	if after != nil {
		at := DBTime(after.CreatedAt)
		q += " AND " + alias + ".created_at >= ? AND (" + alias + ".created_at > ? OR " + alias + ".id > ?)"
		args = append(args, at, at, after.ID)
	}
	return q + " ORDER BY " + alias + ".created_at, " + alias + ".id LIMIT ?", append(args, limit)
}
