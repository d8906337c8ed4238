package follows_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/follows"
)

// A rebuild fills the tables without the feeds and the counts, and adds
// them once from the rows (CountAll): the same rows as the live model that
// applied each event, at every point of the log.
func TestRebuildEqualsLive(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		all := followsLog().Recs
		for _, n := range []int{len(all) - 3, len(all)} { // before bob's deletion, and after
			recs := all[:n]
			store := eventstoretest.MustOpen(t)
			if err := projectionstest.NewAppender(store).Append(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			live := projectionstest.ApplyInBatches(t, open, follows.ReadModel{}, recs, 1)
			want := sorted(projectionstest.Snapshot(t, live, follows.ReadModel{}))
			if len(want["feed"]) == 0 || len(want["author_counts"]) == 0 {
				t.Fatalf("the log leaves no feed or no count to compare: %v", want)
			}
			for _, batch := range []int{2, 1000} {
				db := open(t)
				projectionstest.MustRebuild(t, db, store, batch, follows.ReadModel{})
				projectionstest.SameRows(t, fmt.Sprintf("%d events rebuilt in batches of %d", n, batch), sorted(projectionstest.Snapshot(t, db, follows.ReadModel{})), want)
			}
		}
	})
}

// sorted orders the rows of each table by all their columns (Snapshot
// orders them by the first two only: a feed's rows of one viewer and one
// author come in any order).
func sorted(rows projectionstest.Rows) projectionstest.Rows {
	for _, list := range rows {
		slices.SortFunc(list, func(a, b map[string]any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
	return rows
}
