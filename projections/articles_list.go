package projections

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
	"inkwell/migrations"
)

// A list reads one page in index order and stops, whatever the size of the
// table: each documented ordering has an index (see the articles schema),
// the count is a row of article_counts kept by Apply, and a cursor starts a
// page where the previous one ended without skipping the rows before it.
//
// The indexes keep published articles and drafts apart, and visibility is
// an OR (published, or the viewer's own), which no index serves in order:
// a list is read as branches (the published articles; the drafts, or the
// viewer's own), each in index order, and merged. An ordering by
// published_at reads the articles that have one, then those that do not
// (drafts last in both directions), as branches too.

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

// Scopes of article_counts.
const CountAll = "all"

// CountAuthor, CountCategory and CountTag are the count scopes of one
// author's, category's and tag's articles.
func CountAuthor(id string) string   { return "author:" + id }
func CountCategory(id string) string { return "category:" + id }
func CountTag(id string) string      { return "tag:" + id }

// Published is the scope of the published articles of scope.
func Published(scope string) string { return scope + "|p" }

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
type sortKey struct {
	expr  string
	desc  bool
	kind  keyKind
	value func(*ArticleView) any
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

// articleKeys turns an ordering into the keys of the list's order, ending
// with the id (in the direction of the last term, so that one index scan
// serves a single term either way). splitNulls reports that published_at
// comes first: the list is then read as articles with and without one.
func (db *DB) articleKeys(terms []orderTerm) (keys []sortKey, splitNulls bool) {
	for i, t := range terms {
		switch t.field {
		case "created_at":
			keys = append(keys, sortKey{"a.created_at", t.desc, keyTime, func(v *ArticleView) any { return v.CreatedAt }})
		case "updated_at":
			keys = append(keys, sortKey{"a.updated_at", t.desc, keyTime, func(v *ArticleView) any { return v.UpdatedAt }})
		case "title":
			keys = append(keys, sortKey{migrations.SortText(string(db.Dialect), "a.title"), t.desc, keyText, func(v *ArticleView) any { return v.sortTitle }})
		case "published_at":
			// Drafts with no published_at last, in both directions.
			splitNulls = splitNulls || i == 0
			keys = append(keys,
				sortKey{"(CASE WHEN a.published_at IS NULL THEN 1 ELSE 0 END)", false, keyFlag, func(v *ArticleView) any {
					if v.PublishedAt == nil {
						return 1
					}
					return 0
				}},
				sortKey{"a.published_at", t.desc, keyNullTime, func(v *ArticleView) any { return v.PublishedAt }})
		}
	}
	last := terms[len(terms)-1].desc
	keys = append(keys, sortKey{"a.id", last, keyText, func(v *ArticleView) any { return v.ID }})
	return keys, splitNulls
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

// articleBranches returns the branches of what the viewer may see of the
// articles f selects (none: the filter selects nothing the viewer may see).
func (db *DB) articleBranches(f ArticleFilter) []branch {
	published, drafts := f.IsPublished == nil || *f.IsPublished, f.IsPublished == nil || !*f.IsPublished
	var out []branch
	if published {
		out = append(out, branch{}.and("a.is_published = ?", true))
	}
	switch {
	case !drafts || f.Viewer.IsAnonymous():
	case f.Viewer.IsStaff():
		out = append(out, branch{}.and("a.is_published = ?", false))
	default:
		out = append(out, branch{}.and("a.author_id = ?", f.Viewer.ID).and("a.is_published = ?", false))
	}
	return out
}

// articleConditions returns the conditions of f's filters.
func (db *DB) articleConditions(f ArticleFilter) ([]string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	// One category or author is an equality (to a value or to a one-row
	// subquery), so that its index serves the order too.
	if f.Category != "" {
		if isUUID(f.Category) {
			add("a.category_id = ?", f.Category)
		} else {
			cond, a := refCondition("cf", f.Category)
			add("a.category_id = (SELECT cf.id FROM categories cf WHERE "+cond+")", a...)
		}
	}
	if f.Tag != "" {
		cond, a := tagCondition("tf", f.Tag)
		add("EXISTS (SELECT 1 FROM article_tags atf JOIN tags tf ON tf.id = atf.tag_id WHERE atf.article_id = a.id AND "+cond+")", a...)
	}
	if f.Author != "" {
		if isUUID(f.Author) {
			add("a.author_id = ?", f.Author)
		} else {
			add("a.author_id = (SELECT ua.id FROM article_authors ua WHERE LOWER(ua.username) = LOWER(?) LIMIT 1)", f.Author)
		}
	}
	if f.PublishedAfter != nil {
		add("a.published_at >= ?", dbTime(*f.PublishedAfter))
	}
	if f.PublishedBefore != nil {
		add("a.published_at <= ?", dbTime(*f.PublishedBefore))
	}
	if f.Search != "" {
		p := likePattern(f.Search)
		add(`(LOWER(a.title) LIKE ? ESCAPE '\' OR LOWER(a.excerpt) LIKE ? ESCAPE '\' OR LOWER(a.content) LIKE ? ESCAPE '\')`, p, p, p)
	}
	return where, args
}

// tagCondition matches a tag of alias by id, number, slug or name.
func tagCondition(alias, ref string) (string, []any) {
	if isUUID(ref) {
		return alias + ".id = ?", []any{ref}
	}
	if n, ok := refNumber(ref); ok {
		return alias + ".number = ?", []any{n}
	}
	return "(" + alias + ".slug = ? OR LOWER(" + alias + ".name) = LOWER(?))", []any{ref, ref}
}

// articleCursor is what a cursor holds: the ordering it belongs to and the
// key values of the last article of its page.
type articleCursor struct {
	Ordering string `json:"o"`
	Keys     []any  `json:"k"`
}

var errBadCursor = domain.FieldError(domain.EINVALID, "cursor", "is not a cursor of this list: take next from a list's answer, with the same ordering")

func encodeCursor(ordering string, keys []sortKey, v *ArticleView) string {
	c := articleCursor{Ordering: ordering}
	for _, k := range keys {
		c.Keys = append(c.Keys, k.value(v))
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor's key values, refusing one of another
// ordering or shape.
func decodeCursor(s, ordering string, keys []sortKey) ([]any, error) {
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
func afterCursor(keys []sortKey, br branch, cur []any) (string, []any, bool) {
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

// articleList is how a list is read: its keys, the cursor's ordering name,
// and one query per branch.
type articleList struct {
	ordering string
	keys     []sortKey
	stmts    []listStmt
}

// planArticleList builds the queries of the list f asks for. Returns
// EINVALID for an unknown ordering or a cursor not of this list.
func (db *DB) planArticleList(f ArticleFilter) (articleList, error) {
	terms, err := parseOrdering(f.Ordering, "-created_at", ArticleOrderings)
	if err != nil {
		return articleList{}, err
	}
	l := articleList{ordering: f.Ordering}
	if l.ordering == "" {
		l.ordering = "-created_at"
	}
	keys, splitNulls := db.articleKeys(terms)
	l.keys = keys
	var cur []any
	if f.Page.Cursor != "" {
		if cur, err = decodeCursor(f.Page.Cursor, l.ordering, keys); err != nil {
			return l, err
		}
	}
	where, whereArgs := db.articleConditions(f)
	var branches []branch
	for _, b := range db.articleBranches(f) {
		if len(where) > 0 {
			b = b.and(strings.Join(where, " AND "), whereArgs...)
		}
		if !splitNulls {
			branches = append(branches, b)
			continue
		}
		// keys[0] is published_at's null flag and keys[1] published_at.
		// (A cursor's range on published_at says IS NOT NULL too; said
		// twice, it is a second range that can make SQLite's planner
		// prefer an index without the author.)
		withDate := b
		if cur == nil {
			withDate = b.and("a.published_at IS NOT NULL")
		}
		withDate.fixed = map[int]any{0: 0}
		without := b.and("a.published_at IS NULL")
		without.fixed = map[int]any{0: 1, 1: (*time.Time)(nil)}
		branches = append(branches, withDate, without)
	}
	// Each branch reads as far as the page goes (one more, to know whether
	// another page follows); a single branch lets the database skip the
	// offset.
	want, skip := f.Page.Offset+f.Page.Limit+1, 0
	if len(branches) == 1 {
		want, skip = f.Page.Limit+1, f.Page.Offset
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
			// A fixed key is left out of the order, but for a NULL
			// published_at: with it, the order is the index's column for
			// column, which PostgreSQL's planner needs to see.
			if _, fixed := b.fixed[i]; fixed && k.kind != keyNullTime {
				continue
			}
			dir := " ASC"
			if k.desc {
				dir = " DESC"
			}
			order = append(order, k.expr+dir)
		}
		q := articleViewSelect + " WHERE " + strings.Join(cond, " AND ") + " ORDER BY " + strings.Join(order, ", ") + " LIMIT ? OFFSET ?"
		l.stmts = append(l.stmts, listStmt{db.Rebind(q), append(slices.Clip(args), want, skip)})
	}
	return l, nil
}

// ListArticles returns a page of the articles the filter selects, read in
// index order, with how many it selects in all. Returns EINVALID for an
// unknown ordering or a cursor not of this list.
func (db *DB) ListArticles(ctx context.Context, f ArticleFilter) (ListPage[ArticleView], error) {
	var page ListPage[ArticleView]
	l, err := db.planArticleList(f)
	if err != nil {
		return page, err
	}
	if page.Count, page.CountExact, err = db.countArticles(ctx, f); err != nil {
		return page, err
	}
	var all []ArticleView
	for _, st := range l.stmts {
		var rows []articleViewRow
		if err := db.SelectContext(ctx, &rows, st.sql, st.args...); err != nil {
			return page, fmt.Errorf("list articles: %w", err)
		}
		for i := range rows {
			v, err := rows[i].view()
			if err != nil {
				return page, err
			}
			all = append(all, v)
		}
	}
	if len(l.stmts) > 1 {
		// Merge the branches, each already in order, and skip the offset.
		slices.SortStableFunc(all, func(x, y ArticleView) int { return l.compare(&x, &y) })
		all = all[min(f.Page.Offset, len(all)):]
	}
	if len(all) > f.Page.Limit {
		all = all[:f.Page.Limit]
		page.Next = encodeCursor(l.ordering, l.keys, &all[len(all)-1])
	}
	page.Items = all
	if page.Items == nil {
		page.Items = []ArticleView{}
	}
	return page, nil
}

// compare orders two articles as the list does.
func (l articleList) compare(x, y *ArticleView) int {
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

// countArticles returns how many articles f selects for its viewer: from
// article_counts when f has at most one of category, tag and author and no
// other filter, else counted up to CountBound.
func (db *DB) countArticles(ctx context.Context, f ArticleFilter) (int, bool, error) {
	scope, ok, err := db.countScope(ctx, f)
	if err != nil {
		return 0, false, err
	}
	if !ok {
		return db.countArticlesBounded(ctx, f)
	}
	if scope == "" {
		return 0, true, nil // a category, tag or author that is not there
	}
	var counts []struct {
		Scope string `db:"scope"`
		N     int    `db:"n"`
	}
	want := []string{scope, Published(scope)}
	own := ""
	if !f.Viewer.IsStaff() && !f.Viewer.IsAnonymous() && (f.IsPublished == nil || !*f.IsPublished) {
		// The viewer's own drafts, of the scope.
		switch {
		case scope == CountAll:
			own = CountAuthor(f.Viewer.ID)
		case scope == CountAuthor(f.Viewer.ID):
			own = scope
		case strings.HasPrefix(scope, "author:"):
			own = "" // someone else's drafts: none visible
		default:
			return db.countArticlesBounded(ctx, f)
		}
	}
	if own != "" {
		want = append(want, own, Published(own))
	}
	q, args, err := inQuery("SELECT scope, n FROM article_counts WHERE scope IN (?)", want)
	if err != nil {
		return 0, false, err
	}
	if err := db.SelectContext(ctx, &counts, db.Rebind(q), args...); err != nil {
		return 0, false, fmt.Errorf("count articles: %w", err)
	}
	n := map[string]int{}
	for _, c := range counts {
		n[c.Scope] = c.N
	}
	all, pub := n[scope], n[Published(scope)]
	ownDrafts := 0
	if own != "" {
		ownDrafts = n[own] - n[Published(own)]
	}
	switch {
	case f.Viewer.IsStaff() && f.IsPublished == nil:
		return all, true, nil
	case f.Viewer.IsStaff() && *f.IsPublished:
		return pub, true, nil
	case f.Viewer.IsStaff():
		return all - pub, true, nil
	case f.IsPublished == nil:
		return pub + ownDrafts, true, nil
	case *f.IsPublished:
		return pub, true, nil
	default:
		return ownDrafts, true, nil
	}
}

// countScope returns the article_counts scope that counts what f selects
// (before visibility), false when none does, and "" when f names a
// category, tag or author that is not there.
func (db *DB) countScope(ctx context.Context, f ArticleFilter) (string, bool, error) {
	if f.Search != "" || f.PublishedAfter != nil || f.PublishedBefore != nil {
		return "", false, nil
	}
	named := 0
	for _, s := range []string{f.Category, f.Tag, f.Author} {
		if s != "" {
			named++
		}
	}
	switch {
	case named == 0:
		return CountAll, true, nil
	case named > 1:
		return "", false, nil
	}
	var ids []string
	var err error
	var scope func(string) string
	switch {
	case f.Category != "":
		cond, args := refCondition("c", f.Category)
		scope, err = CountCategory, db.SelectContext(ctx, &ids, db.Rebind("SELECT c.id FROM categories c WHERE "+cond), args...)
	case f.Tag != "":
		cond, args := tagCondition("t", f.Tag)
		scope, err = CountTag, db.SelectContext(ctx, &ids, db.Rebind("SELECT t.id FROM tags t WHERE "+cond+" LIMIT 2"), args...)
	default:
		if isUUID(f.Author) {
			ids = []string{f.Author}
		} else {
			err = db.SelectContext(ctx, &ids, db.Rebind("SELECT ua.id FROM article_authors ua WHERE LOWER(ua.username) = LOWER(?) LIMIT 2"), f.Author)
		}
		scope = CountAuthor
	}
	if err != nil {
		return "", false, fmt.Errorf("count articles: %w", err)
	}
	switch len(ids) {
	case 0:
		return "", true, nil
	case 1:
		return scope(ids[0]), true, nil
	}
	return "", false, nil // a name two tags answer to
}

// countArticlesBounded counts what f selects, up to CountBound.
func (db *DB) countArticlesBounded(ctx context.Context, f ArticleFilter) (int, bool, error) {
	var ors []string
	var args []any
	for _, b := range db.articleBranches(f) {
		ors = append(ors, "("+strings.Join(append([]string{"1 = 1"}, b.cond...), " AND ")+")")
		args = append(args, b.args...)
	}
	if len(ors) == 0 {
		return 0, true, nil
	}
	cond := "(" + strings.Join(ors, " OR ") + ")"
	where, whereArgs := db.articleConditions(f)
	for _, w := range where {
		cond += " AND " + w
	}
	var n int
	q := "SELECT COUNT(*) FROM (SELECT 1 FROM articles a WHERE " + cond + " LIMIT ?) x"
	if err := db.GetContext(ctx, &n, db.Rebind(q), append(append(args, whereArgs...), CountBound+1)...); err != nil {
		return 0, false, fmt.Errorf("count articles: %w", err)
	}
	if n > CountBound {
		return CountBound, false, nil
	}
	return n, true, nil
}
