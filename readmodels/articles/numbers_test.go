package articles_test

import (
	"context"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
)

// A number's id is remembered for a while, so that writes naming a category
// or a tag by number do not ask the database each time; what the read model
// does not know is asked again at once.
func TestNumbersAreRememberedForAWhile(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		projectionstest.MustEnsure(t, db, articles.ReadModel{})
		l := blog()
		projectionstest.ApplyAll(t, db, articles.ReadModel{}, l.Recs, 4)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		store := articles.NewStoreWithClock(db, func() time.Time { return now })

		resolve := func(what string, f func(context.Context, string) (string, error), ref, want string) {
			t.Helper()
			id, err := f(ctx, ref)
			if want == "" {
				if domain.ErrorCode(err) != domain.ENOTFOUND {
					t.Fatalf("%s %s: got %q, %v; want not found", what, ref, id, err)
				}
				return
			}
			if err != nil || id != want {
				t.Fatalf("%s %s: got %q, %v; want %s", what, ref, id, err, want)
			}
		}
		resolve("category", store.CategoryID, "2", tech)
		resolve("category", store.CategoryID, "tech", tech)
		resolve("tag", store.TagID, "1", tagGo)
		resolve("tag", store.TagID, "go", tagGo)
		resolve("category", store.CategoryID, "3", "")
		resolve("tag", store.TagID, "3", "")

		// The read model changes under the remembered numbers: category 2
		// is deleted (tags never are), category 3 and tag 3 are created.
		const third, tagThird = "00000000-0000-7000-8000-0000000000c3", "00000000-0000-7000-8000-0000000000f3"
		from := len(l.Recs)
		l.Add(domain.CategoryStream(tech), &domain.CategoryDeleted{})
		l.Add(domain.CategoryStream(third), &domain.CategoryCreated{CategoryID: third, Name: "Third", Slug: "third", CreatedAt: l.At})
		l.Add(domain.TagStream(tagThird), &domain.TagCreated{TagID: tagThird, Name: "Third", Slug: "third", CreatedAt: l.At})
		projectionstest.ApplyAll(t, db, articles.ReadModel{}, l.Recs[from:], 4)
		if _, err := articles.NewStore(db).CategoryID(ctx, "2"); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("the read model still has category 2: %v", err)
		}

		resolve("category", store.CategoryID, "3", third) // not remembered as unknown
		resolve("tag", store.TagID, "3", tagThird)
		now = now.Add(articles.NumberTTL - time.Millisecond)
		resolve("category", store.CategoryID, "2", tech) // remembered
		now = now.Add(time.Millisecond)
		resolve("category", store.CategoryID, "2", "")
		resolve("category", store.CategoryID, "tech", "") // slugs are never remembered
		resolve("tag", store.TagID, "1", tagGo)
	})
}
