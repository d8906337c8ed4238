package readmodels

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"inkwell/domain"
)

// A list reads one page in index order and stops, whatever the size of the
// table. Its order is a list of sort keys ending with the id; a branch is a
// part of the list that one index serves in that order (a list whose rows no
// one index serves in order, such as published articles or the viewer's own
// drafts, reads several and merges them); a cursor holds the sort keys of
// the last row of a page, and the next page starts each branch with a range
// on them, so it costs what the first page does.

// CountBound is how far a list counts the rows of a query no kept count
// answers (a search, a date range, two filters at once): a count past it
// is reported as CountBound, and as not exact.
const CountBound = 10_000

// ListPage is a page of a list.
type ListPage[T any] struct {
	Items []T
	// Count is how many items the query selects in all, or CountBound when
	// CountExact is false and there are more.
	Count      int
	CountExact bool
	// Next is the cursor of the page after this one ("" on the last page).
	Next string
}

// orderTerm is one name of an ordering parameter.
type orderTerm struct {
	field string
	desc  bool
}

// parseOrdering reads an ordering parameter: comma-separated names from
// known, each optionally prefixed with "-" for descending, each at most
// once; fallback when empty. Returns EINVALID naming the name at fault.
func parseOrdering(ordering, fallback string, known []string) ([]orderTerm, error) {
	if ordering == "" {
		ordering = fallback
	}
	var terms []orderTerm
	for _, f := range strings.Split(ordering, ",") {
		f = strings.TrimSpace(f)
		t := orderTerm{field: f}
		if strings.HasPrefix(f, "-") {
			t = orderTerm{field: f[1:], desc: true}
		}
		if !slices.Contains(known, t.field) {
			return nil, domain.FieldError(domain.EINVALID, "ordering",
				fmt.Sprintf("unknown field %q: use %s, each optionally with - for descending", t.field, strings.Join(known, ", ")))
		}
		// Each field once: so at most len(known) terms, however long the
		// parameter (SQLite refuses an ORDER BY of thousands).
		if slices.ContainsFunc(terms, func(o orderTerm) bool { return o.field == t.field }) {
			return nil, domain.FieldError(domain.EINVALID, "ordering", fmt.Sprintf("field %q appears more than once", t.field))
		}
		terms = append(terms, t)
	}
	return terms, nil
}

// keyKind is what a sort key holds.
type keyKind int

const (
	keyTime     keyKind = iota // a time
	keyNullTime                // a time or NULL
	keyText                    // a string, compared byte by byte
	keyFlag                    // 0 or 1
)

// sortKey is one key of a list's order: its SQL, direction, and the value
// of a row.
type sortKey[T any] struct {
	expr  string
	desc  bool
	kind  keyKind
	value func(*T) any
}

// compareKey compares two values of a key, in ascending order.
func compareKey(kind keyKind, x, y any) int {
	switch kind {
	case keyTime:
		return x.(time.Time).Compare(y.(time.Time))
	case keyNullTime:
		xt, yt := x.(*time.Time), y.(*time.Time)
		switch {
		case xt == nil && yt == nil:
			return 0
		case xt == nil:
			return 1
		case yt == nil:
			return -1
		}
		return xt.Compare(*yt)
	case keyText:
		return strings.Compare(x.(string), y.(string))
	default:
		return cmp.Compare(x.(int), y.(int))
	}
}

// branch is one part of a list read in index order: its conditions and the
// keys whose value it fixes (fixed[i] is that value; such keys are left
// out of its ORDER BY).
type branch struct {
	cond  []string
	args  []any
	fixed map[int]any
}

func (b branch) and(cond string, args ...any) branch {
	return branch{cond: append(slices.Clip(b.cond), cond), args: append(slices.Clip(b.args), args...), fixed: b.fixed}
}

// articleCursor is what a cursor holds: the ordering it belongs to and the
// key values of the last article of its page.
type articleCursor struct {
	Ordering string `json:"o"`
	Keys     []any  `json:"k"`
}

var errBadCursor = domain.FieldError(domain.EINVALID, "cursor", "is not a cursor of this list: take next from a list's answer, with the same ordering")

func encodeCursor[T any](ordering string, keys []sortKey[T], v *T) string {
	c := articleCursor{Ordering: ordering}
	for _, k := range keys {
		c.Keys = append(c.Keys, k.value(v))
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor's key values, refusing one of another
// ordering or shape.
func decodeCursor[T any](s, ordering string, keys []sortKey[T]) ([]any, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 4096 {
		return nil, errBadCursor
	}
	var c struct {
		Ordering string            `json:"o"`
		Keys     []json.RawMessage `json:"k"`
	}
	if json.Unmarshal(b, &c) != nil || c.Ordering != ordering || len(c.Keys) != len(keys) {
		return nil, errBadCursor
	}
	out := make([]any, len(keys))
	for i, k := range keys {
		raw := c.Keys[i]
		switch k.kind {
		case keyTime, keyNullTime:
			var t *time.Time
			if json.Unmarshal(raw, &t) != nil || (t == nil && k.kind == keyTime) {
				return nil, errBadCursor
			}
			if k.kind == keyTime {
				out[i] = t.UTC()
			} else {
				if t != nil {
					u := t.UTC()
					t = &u
				}
				out[i] = t
			}
		case keyText:
			var s string
			if json.Unmarshal(raw, &s) != nil || !validText(s) {
				return nil, errBadCursor
			}
			out[i] = s
		case keyFlag:
			var n int
			if json.Unmarshal(raw, &n) != nil || (n != 0 && n != 1) {
				return nil, errBadCursor
			}
			out[i] = n
		}
	}
	return out, nil
}

// validText reports whether s may be a bind parameter of text: UTF-8 with no
// NUL (which PostgreSQL refuses).
func validText(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsRune(s, 0)
}

// arg is a key value as a bind parameter.
func arg(v any) any {
	switch t := v.(type) {
	case time.Time:
		return dbTime(t)
	case *time.Time:
		return dbTime(*t)
	}
	return v
}

// afterCursor returns the condition that a row of br comes after the cursor
// values cur in the order of keys, and false when no row of br can.
func afterCursor[T any](keys []sortKey[T], br branch, cur []any) (string, []any, bool) {
	// The keys br fixes come first (published_at's null flag and, for the
	// articles without one, published_at): they decide for the whole branch
	// unless they equal the cursor's.
	free := 0
	for ; free < len(keys); free++ {
		fv, ok := br.fixed[free]
		if !ok {
			break
		}
		c := compareKey(keys[free].kind, fv, cur[free])
		if keys[free].desc {
			c = -c
		}
		if c != 0 {
			return "", nil, c > 0
		}
	}
	rest := keys[free:]
	vals := cur[free:]
	// (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ... ("<" for a descending key),
	// after k1 >= v1 when k1 is not NULL: a range on the first key, which
	// every planner takes in an index (a row value is not taken as one over
	// an expression, nor always chosen).
	var lead []string
	var leadArgs []any
	if len(rest) > 1 && !isNilKey(vals[0]) {
		op := ">="
		if rest[0].desc {
			op = "<="
		}
		lead, leadArgs = []string{rest[0].expr + " " + op + " ?"}, []any{arg(vals[0])}
	}
	var ors, eqs []string
	var args, eqArgs []any
	for i, k := range rest {
		v := vals[i]
		op := ">"
		if k.desc {
			op = "<"
		}
		var after string
		switch {
		case isNilKey(v):
			// Nothing is after NULL (NULLs come last) among rows equal so far.
		case k.kind == keyNullTime:
			after = "(" + k.expr + " " + op + " ? OR " + k.expr + " IS NULL)"
		default:
			after = k.expr + " " + op + " ?"
		}
		if after != "" {
			ors = append(ors, "("+strings.Join(append(slices.Clone(eqs), after), " AND ")+")")
			args = append(append(args, eqArgs...), arg(v))
		}
		if isNilKey(v) {
			eqs = append(eqs, k.expr+" IS NULL")
		} else {
			eqs, eqArgs = append(eqs, k.expr+" = ?"), append(eqArgs, arg(v))
		}
	}
	if len(ors) == 0 {
		return "", nil, false
	}
	return strings.Join(append(lead, "("+strings.Join(ors, " OR ")+")"), " AND "), append(leadArgs, args...), true
}

func isNilKey(v any) bool {
	t, ok := v.(*time.Time)
	return ok && t == nil
}

// listStmt is one branch's query of a list.
type listStmt struct {
	sql  string
	args []any
}

// list is how a list is read: its keys, the cursor's ordering name, and
// one query per branch.
type list[T any] struct {
	ordering string
	keys     []sortKey[T]
	stmts    []listStmt
}

// planList builds the queries of a list: for each branch, selectSQL with
// the branch's conditions and the cursor's, in the order of keys (less
// those the branch fixes), as far as the page goes.
func planList[T any](db *Store, ordering string, keys []sortKey[T], branches []branch, cur []any, selectSQL string, page Page) list[T] {
	l := list[T]{ordering: ordering, keys: keys}
	// Each branch reads as far as the page goes (one more, to know whether
	// another page follows); a single branch lets the database skip the
	// offset.
	want, skip := page.Offset+page.Limit+1, 0
	if len(branches) == 1 {
		want, skip = page.Limit+1, page.Offset
	}
	for _, b := range branches {
		cond, args := b.cond, b.args
		if cur != nil {
			c, a, ok := afterCursor(keys, b, cur)
			if !ok {
				continue
			}
			if c != "" {
				cond, args = append(slices.Clip(cond), c), append(slices.Clip(args), a...)
			}
		}
		if len(cond) == 0 {
			cond = []string{"1 = 1"}
		}
		var order []string
		for i, k := range keys {
			// A fixed key is left out of the order, but for a NULL time:
			// with it, the order is the index's column for column, which
			// PostgreSQL's planner needs to see.
			if _, fixed := b.fixed[i]; fixed && k.kind != keyNullTime {
				continue
			}
			dir := " ASC"
			if k.desc {
				dir = " DESC"
			}
			order = append(order, k.expr+dir)
		}
		q := selectSQL + " WHERE " + strings.Join(cond, " AND ") + " ORDER BY " + strings.Join(order, ", ") + " LIMIT ? OFFSET ?"
		l.stmts = append(l.stmts, listStmt{db.Rebind(q), append(slices.Clip(args), want, skip)})
	}
	return l
}

// runList runs a list's queries, scanning rows of type R and converting
// each to a T, merges the branches and cuts the page, with the cursor of
// the next page ("" on the last).
func runList[T, R any](ctx context.Context, db *Store, l list[T], page Page, conv func(*R) (T, error)) ([]T, string, error) {
	var all []T
	for _, st := range l.stmts {
		var rows []R
		if err := db.SelectContext(ctx, &rows, st.sql, st.args...); err != nil {
			return nil, "", err
		}
		for i := range rows {
			v, err := conv(&rows[i])
			if err != nil {
				return nil, "", err
			}
			all = append(all, v)
		}
	}
	if len(l.stmts) > 1 {
		// Merge the branches, each already in order, and skip the offset.
		slices.SortStableFunc(all, func(x, y T) int { return l.compare(&x, &y) })
		all = all[min(page.Offset, len(all)):]
	}
	next := ""
	if len(all) > page.Limit {
		all = all[:page.Limit]
		next = encodeCursor(l.ordering, l.keys, &all[len(all)-1])
	}
	if all == nil {
		all = []T{}
	}
	return all, next, nil
}

// compare orders two items as the list does.
func (l list[T]) compare(x, y *T) int {
	for _, k := range l.keys {
		c := compareKey(k.kind, k.value(x), k.value(y))
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
