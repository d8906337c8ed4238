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
	"inkwell/projections"
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

// CountUpTo counts the rows of from (a table, with its alias if cond uses
// one) that every condition of cond selects, up to CountBound: a count past
// it is CountBound, and not exact.
func CountUpTo(ctx context.Context, db *projections.DB, from string, cond []string, args ...any) (n int, exact bool, err error) {
	q := "SELECT COUNT(*) FROM (SELECT 1 FROM " + from + " WHERE " + strings.Join(cond, " AND ") + " LIMIT ?) x"
	if err := db.GetContext(ctx, &n, db.Rebind(q), append(slices.Clip(args), CountBound+1)...); err != nil {
		return 0, false, err
	}
	if n > CountBound {
		return CountBound, false, nil
	}
	return n, true, nil
}

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

// OrderTerm is one name of an ordering parameter.
type OrderTerm struct {
	Field string
	Desc  bool
}

// ParseOrdering reads an ordering parameter: comma-separated names from
// known, each optionally prefixed with "-" for descending, each at most
// once; fallback when empty. Returns EINVALID naming the name at fault.
func ParseOrdering(ordering, fallback string, known []string) ([]OrderTerm, error) {
	if ordering == "" {
		ordering = fallback
	}
	var terms []OrderTerm
	for _, f := range strings.Split(ordering, ",") {
		f = strings.TrimSpace(f)
		t := OrderTerm{Field: f}
		if strings.HasPrefix(f, "-") {
			t = OrderTerm{Field: f[1:], Desc: true}
		}
		if !slices.Contains(known, t.Field) {
			return nil, domain.FieldError(domain.EINVALID, "ordering",
				fmt.Sprintf("unknown field %q: use %s, each optionally with - for descending", t.Field, strings.Join(known, ", ")))
		}
		// Each field once: so at most len(known) terms, however long the
		// parameter (SQLite refuses an ORDER BY of thousands).
		if slices.ContainsFunc(terms, func(o OrderTerm) bool { return o.Field == t.Field }) {
			return nil, domain.FieldError(domain.EINVALID, "ordering", fmt.Sprintf("field %q appears more than once", t.Field))
		}
		terms = append(terms, t)
	}
	return terms, nil
}

// KeyKind is what a sort key holds.
type KeyKind int

const (
	KeyTime     KeyKind = iota // a time
	KeyNullTime                // a time or NULL
	KeyText                    // a string, compared byte by byte
	KeyFlag                    // 0 or 1
)

// SortKey is one key of a list's order: its SQL, direction, and the value
// of a row.
type SortKey[T any] struct {
	Expr  string
	Desc  bool
	Kind  KeyKind
	Value func(*T) any
}

// compareKey compares two values of a key, in ascending order.
func compareKey(kind KeyKind, x, y any) int {
	switch kind {
	case KeyTime:
		return x.(time.Time).Compare(y.(time.Time))
	case KeyNullTime:
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
	case KeyText:
		return strings.Compare(x.(string), y.(string))
	default:
		return cmp.Compare(x.(int), y.(int))
	}
}

// Branch is one part of a list read in index order: its conditions and the
// keys whose value it fixes (Fixed[i] is that value; such keys are left
// out of its ORDER BY).
type Branch struct {
	Cond  []string
	Args  []any
	Fixed map[int]any
}

// And returns b with one more condition.
func (b Branch) And(cond string, args ...any) Branch {
	return Branch{Cond: append(slices.Clip(b.Cond), cond), Args: append(slices.Clip(b.Args), args...), Fixed: b.Fixed}
}

// cursor is what a cursor holds: the ordering it belongs to and the
// key values of the last article of its page.
type cursor struct {
	Ordering string `json:"o"`
	Keys     []any  `json:"k"`
}

var errBadCursor = domain.FieldError(domain.EINVALID, "cursor", "is not a cursor of this list: take next from a list's answer, with the same ordering")

func encodeCursor[T any](ordering string, keys []SortKey[T], v *T) string {
	c := cursor{Ordering: ordering}
	for _, k := range keys {
		c.Keys = append(c.Keys, k.Value(v))
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads a cursor's key values, refusing one of another
// ordering or shape.
func DecodeCursor[T any](s, ordering string, keys []SortKey[T]) ([]any, error) {
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
		switch k.Kind {
		case KeyTime, KeyNullTime:
			var t *time.Time
			if json.Unmarshal(raw, &t) != nil || (t == nil && k.Kind == KeyTime) {
				return nil, errBadCursor
			}
			if k.Kind == KeyTime {
				out[i] = t.UTC()
			} else {
				if t != nil {
					u := t.UTC()
					t = &u
				}
				out[i] = t
			}
		case KeyText:
			var s string
			if json.Unmarshal(raw, &s) != nil || !validText(s) {
				return nil, errBadCursor
			}
			out[i] = s
		case KeyFlag:
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
		return DBTime(t)
	case *time.Time:
		return DBTime(*t)
	}
	return v
}

// afterCursor returns the condition that a row of br comes after the cursor
// values cur in the order of keys, and false when no row of br can.
func afterCursor[T any](keys []SortKey[T], br Branch, cur []any) (string, []any, bool) {
	// The keys br fixes come first (published_at's null flag and, for the
	// articles without one, published_at): they decide for the whole Branch
	// unless they equal the cursor's.
	free := 0
	for ; free < len(keys); free++ {
		fv, ok := br.Fixed[free]
		if !ok {
			break
		}
		c := compareKey(keys[free].Kind, fv, cur[free])
		if keys[free].Desc {
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
		if rest[0].Desc {
			op = "<="
		}
		lead, leadArgs = []string{rest[0].Expr + " " + op + " ?"}, []any{arg(vals[0])}
	}
	var ors, eqs []string
	var args, eqArgs []any
	for i, k := range rest {
		v := vals[i]
		op := ">"
		if k.Desc {
			op = "<"
		}
		var after string
		switch {
		case isNilKey(v):
			// Nothing is after NULL (NULLs come last) among rows equal so far.
		case k.Kind == KeyNullTime:
			after = "(" + k.Expr + " " + op + " ? OR " + k.Expr + " IS NULL)"
		default:
			after = k.Expr + " " + op + " ?"
		}
		if after != "" {
			ors = append(ors, "("+strings.Join(append(slices.Clone(eqs), after), " AND ")+")")
			args = append(append(args, eqArgs...), arg(v))
		}
		if isNilKey(v) {
			eqs = append(eqs, k.Expr+" IS NULL")
		} else {
			eqs, eqArgs = append(eqs, k.Expr+" = ?"), append(eqArgs, arg(v))
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

// Stmt is one branch's query of a list.
type Stmt struct {
	SQL  string
	Args []any
}

// List is how a list is read: its keys, the cursor's ordering name, and
// one query per branch.
type List[T any] struct {
	ordering string
	keys     []SortKey[T]
	// Stmts are its queries, one per branch: what EXPLAIN is given to see
	// how a list is read (the planner tests).
	Stmts []Stmt
	// seek, for a page by offset, finds where it starts (see seek.go).
	seek *seek[T]
}

// PlanList builds the queries of a list: for each Branch, selectSQL with
// the Branch's conditions and the cursor's, in the order of keys (less
// those the Branch fixes), as far as the page goes. A page by offset seeks
// past the items it skips by their keys alone (see seek.go); Stmts are
// then what it would read without seeking.
func PlanList[T any](db *projections.DB, ordering string, keys []SortKey[T], branches []Branch, cur []any, selectSQL string, page Page) List[T] {
	l := planList(db, ordering, keys, branches, cur, selectSQL, page)
	l.seek = planSeek(db, ordering, keys, branches, cur, selectSQL, page)
	return l
}

// planList is PlanList without a seek: a page by offset reads the rows it
// skips.
func planList[T any](db *projections.DB, ordering string, keys []SortKey[T], branches []Branch, cur []any, selectSQL string, page Page) List[T] {
	l := List[T]{ordering: ordering, keys: keys}
	// Each Branch reads as far as the page goes (one more, to know whether
	// another page follows); a single Branch lets the database skip the
	// offset.
	want, skip := page.Offset+page.Limit+1, 0
	if len(branches) == 1 {
		want, skip = page.Limit+1, page.Offset
	}
	for _, b := range branches {
		cond, args := b.Cond, b.Args
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
			if _, fixed := b.Fixed[i]; fixed && k.Kind != KeyNullTime {
				continue
			}
			dir := " ASC"
			if k.Desc {
				dir = " DESC"
			}
			order = append(order, k.Expr+dir)
		}
		q := selectSQL + " WHERE " + strings.Join(cond, " AND ") + " ORDER BY " + strings.Join(order, ", ") + " LIMIT ? OFFSET ?"
		l.Stmts = append(l.Stmts, Stmt{db.Rebind(q), append(slices.Clip(args), want, skip)})
	}
	return l
}

// RunList runs a list's queries, scanning rows of type R and converting
// each to a T, merges the branches and cuts the page, with the cursor of
// the next page ("" on the last).
func RunList[T, R any](ctx context.Context, db *projections.DB, l List[T], page Page, conv func(*R) (T, error)) ([]T, string, error) {
	if l.seek != nil {
		cur, ok, err := l.seek.find(ctx, db, l.keys)
		if err != nil {
			return nil, "", err
		}
		if !ok {
			return []T{}, "", nil // past the end: an empty last page
		}
		l, page = l.seek.after(cur), Page{Limit: page.Limit}
	}
	var all []T
	for _, st := range l.Stmts {
		var rows []R
		if err := db.SelectContext(ctx, &rows, st.SQL, st.Args...); err != nil {
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
	if len(l.Stmts) > 1 {
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
func (l List[T]) compare(x, y *T) int {
	for _, k := range l.keys {
		c := compareKey(k.Kind, k.Value(x), k.Value(y))
		if k.Desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}
