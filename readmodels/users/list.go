package users

import (
	"cmp"
	"context"
	"fmt"

	"inkwell/migrations"
	"inkwell/projections"
	"inkwell/readmodels"
)

// Filter selects and orders users for the admin list.
type Filter struct {
	Search   string // in username, email, first and last name, ignoring case
	IsActive *bool
	IsStaff  *bool
	// Ordering is a comma-separated list of username, email, first_name,
	// last_name and date_joined, each optionally readmodels.Prefixed with "-".
	Ordering string
	Page     readmodels.Page
}

// Orderings are the names Filter.Ordering accepts.
var Orderings = []string{"username", "email", "first_name", "last_name", "date_joined"}

// countScope is the user_counts scope a user counts in.
func (u *User) countScope() string {
	return fmt.Sprintf("active:%t,staff:%t", u.IsActive, u.IsStaff)
}

// CountAll implements Counter: user_counts from the rows.
func (ReadModel) CountAll(ctx context.Context, tx *projections.Tx) error {
	flag := func(col string) string { return "CASE WHEN " + col + " = ? THEN 'true' ELSE 'false' END" }
	scope := "'active:' || " + flag("is_active") + " || ',staff:' || " + flag("is_staff")
	q := "INSERT INTO " + tx.T("user_counts") + " (scope, n) SELECT " + scope + ", COUNT(*) FROM " + tx.T("users") + " GROUP BY is_active, is_staff"
	if _, err := tx.ExecContext(ctx, tx.Rebind(q), true, true); err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	return nil
}

// userListRow is a user with the keys the list sorts by.
type userListRow struct {
	User
	SortUsername  string `db:"sort_username"`
	SortEmail     string `db:"sort_email"`
	SortFirstName string `db:"sort_first_name"`
	SortLastName  string `db:"sort_last_name"`
}

// userListItem is a user in a list, with its sort keys.
type userListItem struct {
	User
	sort map[string]string
}

const userListSelect = "SELECT " + userColumns + ", LOWER(username) AS sort_username, LOWER(email) AS sort_email," +
	" LOWER(first_name) AS sort_first_name, LOWER(last_name) AS sort_last_name FROM users"

func (r *userListRow) item() (userListItem, error) {
	return userListItem{User: r.User, sort: map[string]string{
		"username": r.SortUsername, "email": r.SortEmail, "first_name": r.SortFirstName, "last_name": r.SortLastName,
	}}, nil
}

// planUserList builds the query of the user list f asks for.
func (db *Store) planUserList(f Filter) (readmodels.List[userListItem], error) {
	terms, err := readmodels.ParseOrdering(f.Ordering, "username", Orderings)
	if err != nil {
		return readmodels.List[userListItem]{}, err
	}
	ordering := cmp.Or(f.Ordering, "username")
	var keys []readmodels.SortKey[userListItem]
	for _, t := range terms {
		if t.Field == "date_joined" {
			keys = append(keys, readmodels.SortKey[userListItem]{Expr: "date_joined", Desc: t.Desc, Kind: readmodels.KeyTime, Value: func(u *userListItem) any { return u.DateJoined.UTC() }})
			continue
		}
		field := t.Field
		keys = append(keys, readmodels.SortKey[userListItem]{Expr: migrations.SortText(string(db.Dialect), field), Desc: t.Desc, Kind: readmodels.KeyText,
			Value: func(u *userListItem) any { return u.sort[field] }})
	}
	keys = append(keys, readmodels.SortKey[userListItem]{Expr: "id", Desc: terms[len(terms)-1].Desc, Kind: readmodels.KeyText, Value: func(u *userListItem) any { return u.ID }})
	var cur []any
	if f.Page.Cursor != "" {
		if cur, err = readmodels.DecodeCursor(f.Page.Cursor, ordering, keys); err != nil {
			return readmodels.List[userListItem]{}, err
		}
	}
	var b readmodels.Branch
	if f.Search != "" {
		p := readmodels.LikePattern(f.Search)
		b = b.And(`(LOWER(username) LIKE ? ESCAPE '\' OR LOWER(email) LIKE ? ESCAPE '\' OR LOWER(first_name) LIKE ? ESCAPE '\' OR LOWER(last_name) LIKE ? ESCAPE '\')`, p, p, p, p)
	}
	if f.IsActive != nil {
		b = b.And("is_active = ?", *f.IsActive)
	}
	if f.IsStaff != nil {
		b = b.And("is_staff = ?", *f.IsStaff)
	}
	return readmodels.PlanList(db.DB, ordering, keys, []readmodels.Branch{b}, cur, userListSelect, f.Page), nil
}

// ListUsers returns a page of the users the filter selects, read in index
// order, and how many it selects in all (kept in user_counts; with a
// search, counted up to readmodels.CountBound). Returns EINVALID for an unknown
// ordering or a cursor not of this list.
func (db *Store) ListUsers(ctx context.Context, f Filter) (readmodels.ListPage[User], error) {
	var page readmodels.ListPage[User]
	l, err := db.planUserList(f)
	if err != nil {
		return page, err
	}
	if page.Count, page.CountExact, err = db.countUsers(ctx, f); err != nil {
		return page, err
	}
	items, next, err := readmodels.RunList(ctx, db.DB, l, f.Page, (*userListRow).item)
	if err != nil {
		return page, fmt.Errorf("list users: %w", err)
	}
	page.Items, page.Next = make([]User, len(items)), next
	for i := range items {
		page.Items[i] = items[i].User
	}
	return page, nil
}

func (db *Store) countUsers(ctx context.Context, f Filter) (int, bool, error) {
	if f.Search != "" {
		var where []string
		var args []any
		p := readmodels.LikePattern(f.Search)
		where, args = append(where, `(LOWER(username) LIKE ? ESCAPE '\' OR LOWER(email) LIKE ? ESCAPE '\' OR LOWER(first_name) LIKE ? ESCAPE '\' OR LOWER(last_name) LIKE ? ESCAPE '\')`), append(args, p, p, p, p)
		if f.IsActive != nil {
			where, args = append(where, "is_active = ?"), append(args, *f.IsActive)
		}
		if f.IsStaff != nil {
			where, args = append(where, "is_staff = ?"), append(args, *f.IsStaff)
		}
		n, exact, err := readmodels.CountUpTo(ctx, db.DB, "users", where, args...)
		if err != nil {
			return 0, false, fmt.Errorf("count users: %w", err)
		}
		return n, exact, nil
	}
	var counts []struct {
		Scope string `db:"scope"`
		N     int    `db:"n"`
	}
	if err := db.SelectContext(ctx, &counts, "SELECT scope, n FROM user_counts"); err != nil {
		return 0, false, fmt.Errorf("count users: %w", err)
	}
	n := 0
	for _, active := range []bool{false, true} {
		for _, staff := range []bool{false, true} {
			if (f.IsActive != nil && *f.IsActive != active) || (f.IsStaff != nil && *f.IsStaff != staff) {
				continue
			}
			scope := (&User{IsActive: active, IsStaff: staff}).countScope()
			for _, c := range counts {
				if c.Scope == scope {
					n += c.N
				}
			}
		}
	}
	return n, true, nil
}

// ListQueries returns the statement (SQL and arguments) that ListUsers runs
// for f's page: what to give the database's EXPLAIN to see how it reads
// the list (the planner tests do).
func ListQueries(db *Store, f Filter) (string, []any, error) {
	l, err := db.planUserList(f)
	if err != nil {
		return "", nil, err
	}
	return l.Stmts[0].SQL, l.Stmts[0].Args, nil
}
