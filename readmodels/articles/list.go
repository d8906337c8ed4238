package articles

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"time"

	"inkwell/migrations"
	"inkwell/projections"
	"inkwell/readmodels"
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

// Scopes of article_counts.
const CountAll = "all"

// CountAuthor, CountCategory and CountTag are the count scopes of one
// author's, category's and tag's articles.
func CountAuthor(id string) string   { return "author:" + id }
func CountCategory(id string) string { return "category:" + id }
func CountTag(id string) string      { return "tag:" + id }

// Published is the scope of the published articles of scope.
func Published(scope string) string { return scope + "|p" }

// articleKeys turns an ordering into the keys of the list's order, ending
// with the id (in the direction of the last term, so that one index scan
// serves a single term either way). splitNulls reports that published_at
// comes first: the list is then read as articles with and without one.
func (db *Store) articleKeys(terms []readmodels.OrderTerm) (keys []readmodels.SortKey[View], splitNulls bool) {
	for i, t := range terms {
		switch t.Field {
		case "created_at":
			keys = append(keys, readmodels.SortKey[View]{Expr: "a.created_at", Desc: t.Desc, Kind: readmodels.KeyTime, Value: func(v *View) any { return v.CreatedAt }})
		case "updated_at":
			keys = append(keys, readmodels.SortKey[View]{Expr: "a.updated_at", Desc: t.Desc, Kind: readmodels.KeyTime, Value: func(v *View) any { return v.UpdatedAt }})
		case "title":
			keys = append(keys, readmodels.SortKey[View]{Expr: migrations.SortText(string(db.Dialect), "a.title"), Desc: t.Desc, Kind: readmodels.KeyText, Value: func(v *View) any { return v.sortTitle }})
		case "published_at":
			// Drafts with no published_at last, in both directions.
			splitNulls = splitNulls || i == 0
			keys = append(keys,
				readmodels.SortKey[View]{Expr: "(CASE WHEN a.published_at IS NULL THEN 1 ELSE 0 END)", Desc: false, Kind: readmodels.KeyFlag, Value: func(v *View) any {
					if v.PublishedAt == nil {
						return 1
					}
					return 0
				}},
				readmodels.SortKey[View]{Expr: "a.published_at", Desc: t.Desc, Kind: readmodels.KeyNullTime, Value: func(v *View) any { return v.PublishedAt }})
		}
	}
	last := terms[len(terms)-1].Desc
	keys = append(keys, readmodels.SortKey[View]{Expr: "a.id", Desc: last, Kind: readmodels.KeyText, Value: func(v *View) any { return v.ID }})
	return keys, splitNulls
}

// articleBranches returns the branches of what the viewer may see of the
// articles f selects (none: the filter selects nothing the viewer may see).
func (db *Store) articleBranches(f Filter) []readmodels.Branch {
	published, drafts := f.IsPublished == nil || *f.IsPublished, f.IsPublished == nil || !*f.IsPublished
	var out []readmodels.Branch
	if published {
		out = append(out, readmodels.Branch{}.And("a.is_published = ?", true))
	}
	switch {
	case !drafts || f.Viewer.IsAnonymous():
	case f.Viewer.IsStaff():
		out = append(out, readmodels.Branch{}.And("a.is_published = ?", false))
	default:
		out = append(out, readmodels.Branch{}.And("a.author_id = ?", f.Viewer.ID).And("a.is_published = ?", false))
	}
	return out
}

// articleConditions returns the conditions of f's filters.
func (db *Store) articleConditions(f Filter) ([]string, []any) {
	var where []string
	var args []any
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	// One category or author is an equality (to a value or to a one-row
	// subquery), so that its index serves the order too.
	if f.Category != "" {
		if readmodels.IsUUID(f.Category) {
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
		if readmodels.IsUUID(f.Author) {
			add("a.author_id = ?", f.Author)
		} else {
			add("a.author_id = (SELECT ua.id FROM article_authors ua WHERE LOWER(ua.username) = LOWER(?) LIMIT 1)", f.Author)
		}
	}
	if f.PublishedAfter != nil {
		add("a.published_at >= ?", readmodels.DBTime(*f.PublishedAfter))
	}
	if f.PublishedBefore != nil {
		add("a.published_at <= ?", readmodels.DBTime(*f.PublishedBefore))
	}
	if f.Search != "" {
		p := readmodels.LikePattern(f.Search)
		add(`(LOWER(a.title) LIKE ? ESCAPE '\' OR LOWER(a.excerpt) LIKE ? ESCAPE '\' OR LOWER(a.content) LIKE ? ESCAPE '\')`, p, p, p)
	}
	return where, args
}

// tagCondition matches a tag of alias by id, number, slug or name.
func tagCondition(alias, ref string) (string, []any) {
	return idNumberOr(alias, ref, "("+alias+".slug = ? OR LOWER("+alias+".name) = LOWER(?))", ref, ref)
}

// planArticleList builds the queries of the list f asks for. Returns
// EINVALID for an unknown ordering or a cursor not of this list.
func (db *Store) planArticleList(f Filter) (readmodels.List[View], error) {
	if f.Favorited != "" {
		return db.planFavoritedList(f)
	}
	terms, err := readmodels.ParseOrdering(f.Ordering, "-created_at", Orderings)
	if err != nil {
		return readmodels.List[View]{}, err
	}
	ordering := cmp.Or(f.Ordering, "-created_at")
	keys, splitNulls := db.articleKeys(terms)
	var cur []any
	if f.Page.Cursor != "" {
		if cur, err = readmodels.DecodeCursor(f.Page.Cursor, ordering, keys); err != nil {
			return readmodels.List[View]{}, err
		}
	}
	where, whereArgs := db.articleConditions(f)
	var branches []readmodels.Branch
	for _, b := range db.articleBranches(f) {
		if len(where) > 0 {
			b = b.And(strings.Join(where, " AND "), whereArgs...)
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
			withDate = b.And("a.published_at IS NOT NULL")
		}
		withDate.Fixed = map[int]any{0: 0}
		without := b.And("a.published_at IS NULL")
		without.Fixed = map[int]any{0: 1, 1: (*time.Time)(nil)}
		branches = append(branches, withDate, without)
	}
	return readmodels.PlanList(db.DB, ordering, keys, branches, cur, articleViewSelect, f.Page), nil
}

// ListArticles returns a page of the articles the filter selects, read in
// index order, with how many it selects in all. Returns EINVALID for an
// unknown ordering or a cursor not of this list.
func (db *Store) ListArticles(ctx context.Context, f Filter) (readmodels.ListPage[View], error) {
	var page readmodels.ListPage[View]
	l, err := db.planArticleList(f)
	if err != nil {
		return page, err
	}
	if page.Count, page.CountExact, err = db.countArticles(ctx, f); err != nil {
		return page, err
	}
	page.Items, page.Next, err = readmodels.RunList(ctx, db.DB, l, f.Page, (*articleViewRow).view)
	if err != nil {
		return page, fmt.Errorf("list articles: %w", err)
	}
	return page, db.markFavorited(ctx, f.Viewer, page.Items)
}

// countArticles returns how many articles f selects for its viewer: from
// article_counts when f has at most one of category, tag and author and no
// other filter, else counted up to readmodels.CountBound.
func (db *Store) countArticles(ctx context.Context, f Filter) (int, bool, error) {
	if f.Favorited != "" {
		return db.countFavorited(ctx, f)
	}
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
	q, args, err := projections.InQuery("SELECT scope, n FROM article_counts WHERE scope IN (?)", want)
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
func (db *Store) countScope(ctx context.Context, f Filter) (string, bool, error) {
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
		if readmodels.IsUUID(f.Author) {
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

// countArticlesBounded counts what f selects, up to readmodels.CountBound.
func (db *Store) countArticlesBounded(ctx context.Context, f Filter) (int, bool, error) {
	var ors []string
	var args []any
	for _, b := range db.articleBranches(f) {
		ors = append(ors, "("+strings.Join(append([]string{"1 = 1"}, b.Cond...), " AND ")+")")
		args = append(args, b.Args...)
	}
	if len(ors) == 0 {
		return 0, true, nil
	}
	where, whereArgs := db.articleConditions(f)
	cond := append([]string{"(" + strings.Join(ors, " OR ") + ")"}, where...)
	n, exact, err := readmodels.CountUpTo(ctx, db.DB, "articles a", cond, append(args, whereArgs...)...)
	if err != nil {
		return 0, false, fmt.Errorf("count articles: %w", err)
	}
	return n, exact, nil
}

// ListQueries returns the statements (SQL and arguments) that ListArticles
// runs for f's page, one per branch: what to give the database's EXPLAIN to
// see how it reads a list (the planner tests do).
func ListQueries(db *Store, f Filter) ([]string, [][]any, error) {
	l, err := db.planArticleList(f)
	if err != nil {
		return nil, nil, err
	}
	var qs []string
	var args [][]any
	for _, st := range l.Stmts {
		qs, args = append(qs, st.SQL), append(args, st.Args)
	}
	return qs, args, nil
}
