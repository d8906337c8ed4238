package users_test

import (
	"cmp"
	"context"
	"fmt"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
	"inkwell/readmodels/users"
	"strings"
	"testing"
)

// referenceUsers selects and orders users as the API documents it, in Go.
func referenceUsers(all []users.User, f users.Filter) []string {
	var out []users.User
	for _, u := range all {
		text := strings.ToLower(u.Username + "\n" + u.Email + "\n" + u.FirstName + "\n" + u.LastName)
		switch {
		case f.IsActive != nil && u.IsActive != *f.IsActive,
			f.IsStaff != nil && u.IsStaff != *f.IsStaff,
			f.Search != "" && !strings.Contains(text, f.Search):
			continue
		}
		out = append(out, u)
	}
	projectionstest.SortByOrdering(out, cmp.Or(f.Ordering, "username"), func(x, y users.User, field string) (int, bool) {
		if field == "date_joined" {
			return x.DateJoined.Compare(y.DateJoined), false
		}
		text := map[string]func(users.User) string{
			"username":   func(u users.User) string { return u.Username },
			"email":      func(u users.User) string { return u.Email },
			"first_name": func(u users.User) string { return u.FirstName },
			"last_name":  func(u users.User) string { return u.LastName },
		}[field]
		return strings.Compare(strings.ToLower(text(x)), strings.ToLower(text(y))), false
	}, userID)
	return projectionstest.Pluck(out, userID)
}

func userID(u users.User) string { return u.ID }

// TestUserListAgreesWithTheReference holds the admin user list (each filter
// and ordering) to the simple reference, by offsets and by cursors, and its
// count to the number of users it selects.
func TestUserListAgreesWithTheReference(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		recs := projectionstest.RandomHistory(13, 900)
		projectionstest.MustEnsure(t, db, users.ReadModel{})
		projectionstest.ApplyAll(t, db, users.ReadModel{}, recs, 37)
		all := allUsers(t, db)
		if len(all) < 30 {
			t.Fatalf("the random blog has only %d users", len(all))
		}
		yes, no := true, false
		filters := map[string]users.Filter{
			"all": {}, "active": {IsActive: &yes}, "disabled": {IsActive: &no}, "staff": {IsStaff: &yes},
			"active regular": {IsActive: &yes, IsStaff: &no}, "a search": {Search: "e"},
		}
		orderings := []string{"", "-username", "email", "-first_name", "last_name", "date_joined", "-date_joined", "last_name,-date_joined"}
		for fname, f := range filters {
			for _, ordering := range orderings {
				f := f
				f.Ordering = ordering
				want := referenceUsers(all, f)
				what := fmt.Sprintf("%s, ordering %q", fname, ordering)
				projectionstest.CheckPages(t, what, want, 7, func(limit, offset int, cursor string) (projectionstest.Page, error) {
					f.Page = readmodels.Page{Limit: limit, Offset: offset, Cursor: cursor}
					l, err := users.NewStore(db).ListUsers(ctx, f)
					ids := projectionstest.Pluck(l.Items, func(u users.User) string { return u.ID })
					return projectionstest.Page{IDs: ids, Count: l.Count, Exact: l.CountExact, Next: l.Next}, err
				})
			}
		}
	})
}
