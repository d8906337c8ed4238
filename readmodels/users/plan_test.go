package users_test

import (
	"inkwell/projections/projectionstest"

	"context"
	"fmt"
	"inkwell/projections"
	"inkwell/readmodels"
	"inkwell/readmodels/users"
	"testing"
)

// TestUserListQueriesReadInIndexOrder runs the planner on the admin user
// list in every documented ordering, both ways, on the first page and after
// a cursor: none scans the table or sorts, and a cursor's range is in the
// index search.
func TestUserListQueriesReadInIndexOrder(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		projectionstest.MustEnsure(t, db, users.ReadModel{})
		projectionstest.ApplyAll(t, db, users.ReadModel{}, projectionstest.RandomHistory(14, 600), 37)
		for _, o := range users.Orderings {
			for _, ordering := range []string{o, "-" + o} {
				f := users.Filter{Ordering: ordering, Page: readmodels.Page{Limit: 1}}
				first, err := users.NewStore(db).ListUsers(ctx, f)
				if err != nil || first.Next == "" {
					t.Fatalf("ordering %q: %v (next %q): the blog is too small for this test", ordering, err, first.Next)
				}
				for _, cursor := range []string{"", first.Next} {
					f.Page.Cursor = cursor
					q, args, err := users.ListQueries(users.NewStore(db), f)
					if err != nil {
						t.Fatal(err)
					}
					projectionstest.CheckPlan(t, db, "users", fmt.Sprintf("ordering %q (cursor %v)", ordering, cursor != ""), ordering, q, args)
				}
			}
		}
	})
}
