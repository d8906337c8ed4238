package comments_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
	"inkwell/readmodels/comments"
)

// ids of the test's aggregates.
func id(n int) string { return fmt.Sprintf("0190f3f5-0000-7000-8000-%012d", n) }

var (
	writer, reader, third, admin = id(1), id(2), id(3), id(4)
	published, draft             = id(10), id(11)
)

// blog is a log of users, a published article and a draft of writer's.
func blog() *projectionstest.LogBuilder {
	l := projectionstest.NewLog()
	for _, u := range []string{writer, reader, third} {
		l.Add(domain.UserStream(u), &domain.UserRegistered{UserID: u, Username: "user" + u[len(u)-1:], Email: u + "@example.com",
			FirstName: "First", LastName: "Last", IsActive: true, DateJoined: l.At})
	}
	for _, a := range []struct {
		id  string
		pub bool
	}{{published, true}, {draft, false}} {
		l.Add(domain.ArticleStream(a.id), &domain.ArticleCreated{ArticleID: a.id, Title: "T", Slug: "t" + a.id[len(a.id)-2:],
			AuthorID: writer, Tags: []string{}, IsPublished: a.pub, CreatedAt: l.At})
	}
	return l
}

// comment adds comment n by author on article to l.
func comment(l *projectionstest.LogBuilder, n int, article, author, body string) string {
	l.Add(domain.CommentStream(id(n)), &domain.CommentAdded{ArticleID: article, AuthorID: author, Body: body, CreatedAt: l.At.Add(time.Minute)})
	return id(n)
}

func bodies(t *testing.T, s *comments.Store, viewer domain.Actor, article string) []string {
	t.Helper()
	page, err := s.ListComments(context.Background(), comments.Filter{Viewer: viewer, ArticleID: article, Page: readmodels.Page{Limit: 100}})
	if err != nil {
		t.Fatalf("list the comments of %s: %v", article, err)
	}
	if page.Count != len(page.Items) || !page.CountExact {
		t.Fatalf("count %d (exact %v) for %d items", page.Count, page.CountExact, len(page.Items))
	}
	return projectionstest.Pluck(page.Items, func(c comments.Comment) string { return c.Body })
}

func storedBodies(t *testing.T, db *projections.DB) []string {
	t.Helper()
	return projectionstest.MustSelect[string](t, db, "SELECT body FROM comments ORDER BY id")
}

// The read model lists an article's comments as its readers may see the
// article, follows the article's publication and deletion, and hides a
// deleted author's comments (emptied at once for an erased one) until the
// cascade deletes them.
func TestCommentsFollowTheirArticlesAndAuthors(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		projectionstest.MustEnsure(t, db, comments.ReadModel{})
		s := comments.NewStore(db)
		l := blog()
		c1 := comment(l, 20, published, reader, "first")
		comment(l, 21, published, third, "second")
		comment(l, 22, published, writer, "third")
		comment(l, 23, draft, writer, "a note on my draft")
		projectionstest.ApplyAll(t, db, comments.ReadModel{}, l.Recs, 2)
		apply := func(s domain.StreamID, e domain.Event) {
			t.Helper()
			n := len(l.Recs)
			l.Add(s, e)
			projectionstest.ApplyAll(t, db, comments.ReadModel{}, l.Recs[n:], 1)
		}

		anon, staff := domain.Actor{}, domain.Actor{ID: admin, Staff: true}
		if got := bodies(t, s, anon, published); !slices.Equal(got, []string{"first", "second", "third"}) {
			t.Fatalf("comments, oldest first: %q", got)
		}
		for _, v := range []domain.Actor{{ID: writer}, staff} {
			if got := bodies(t, s, v, draft); !slices.Equal(got, []string{"a note on my draft"}) {
				t.Fatalf("the draft's comments for %s: %q", v.ID, got)
			}
		}
		for _, v := range []domain.Actor{anon, {ID: reader}} {
			if _, err := s.ListComments(ctx, comments.Filter{Viewer: v, ArticleID: draft, Page: readmodels.Page{Limit: 5}}); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatalf("the draft's comments for %q: %v", v.ID, err)
			}
			if _, err := s.CommentByID(ctx, v, draft, id(23)); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatalf("a comment of the draft for %q: %v", v.ID, err)
			}
		}
		got, err := s.CommentByID(ctx, anon, published, c1)
		if err != nil || got.Body != "first" || got.Author.ID != reader || got.Author.Username != "user2" || got.ArticleID != published || got.Version != 1 {
			t.Fatalf("comment by id: %+v, %v", got, err)
		}
		if _, err := s.CommentByID(ctx, staff, draft, c1); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("a comment through another article: %v", err)
		}

		// Paging: one at a time, by cursor, in order.
		var paged []string
		page := readmodels.Page{Limit: 1}
		for {
			p, err := s.ListComments(ctx, comments.Filter{Viewer: anon, ArticleID: published, Page: page})
			if err != nil {
				t.Fatal(err)
			}
			paged = append(paged, projectionstest.Pluck(p.Items, func(c comments.Comment) string { return c.Body })...)
			if p.Next == "" {
				break
			}
			page.Cursor = p.Next
		}
		if !slices.Equal(paged, []string{"first", "second", "third"}) {
			t.Fatalf("paged: %q", paged)
		}
		if _, err := s.ListComments(ctx, comments.Filter{Viewer: anon, ArticleID: published, Page: readmodels.Page{Limit: 1, Cursor: "bad"}}); domain.ErrorCode(err) != domain.EINVALID {
			t.Fatalf("a bad cursor: %v", err)
		}

		// Unpublished, the article's comments are its author's and staff's.
		apply(domain.ArticleStream(published), &domain.ArticleUnpublished{})
		if _, err := s.ListComments(ctx, comments.Filter{Viewer: anon, ArticleID: published, Page: readmodels.Page{Limit: 5}}); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("an unpublished article's comments: %v", err)
		}
		apply(domain.ArticleStream(published), &domain.ArticlePublished{PublishedAt: l.At})

		// A deleted author's comments are hidden, not gone: the cascade
		// finds them.
		apply(domain.UserStream(third), &domain.UserDeleted{})
		if got := bodies(t, s, anon, published); !slices.Equal(got, []string{"first", "third"}) {
			t.Fatalf("after the deletion of an author: %q", got)
		}
		if ids, err := s.CommentIDsByAuthor(ctx, third); err != nil || !slices.Equal(ids, []string{id(21)}) {
			t.Fatalf("the deleted author's comments: %q, %v", ids, err)
		}
		apply(domain.CommentStream(id(21)), &domain.CommentDeleted{Reason: "author deleted"})
		if ids, _ := s.CommentIDsByAuthor(ctx, third); len(ids) != 0 {
			t.Fatalf("after the cascade: %q", ids)
		}

		// An erased author's bodies leave at once.
		apply(domain.UserStream(reader), &domain.UserErased{})
		if got := storedBodies(t, db); slices.Contains(got, "first") {
			t.Fatalf("an erased author's body stays: %q", got)
		}
		if got := bodies(t, s, anon, published); !slices.Equal(got, []string{"third"}) {
			t.Fatalf("after the erasure of an author: %q", got)
		}

		// Deleted by its author: gone.
		apply(domain.CommentStream(id(22)), &domain.CommentDeleted{})
		if got := bodies(t, s, anon, published); len(got) != 0 {
			t.Fatalf("after a deletion: %q", got)
		}
		// A deleted article's comments go with it; a comment on it after
		// (a race with the deletion) is never shown.
		apply(domain.ArticleStream(draft), &domain.ArticleDeleted{})
		comment(l, 24, draft, writer, "late")
		projectionstest.ApplyAll(t, db, comments.ReadModel{}, l.Recs[len(l.Recs)-1:], 1)
		if got := storedBodies(t, db); slices.Contains(got, "a note on my draft") || slices.Contains(got, "late") {
			t.Fatalf("a deleted article's comments stay: %q", got)
		}
		if _, err := s.ListComments(ctx, comments.Filter{Viewer: staff, ArticleID: draft, Page: readmodels.Page{Limit: 5}}); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("a deleted article's comments: %v", err)
		}
	})
}

// history is a log that goes through every case of Apply, with an erasure
// whose records read Erased as a rebuild after it reads them.
func history(erased bool) []domain.Record {
	l := blog()
	comment(l, 20, published, reader, "by the reader")
	comment(l, 21, published, third, "by the third")
	comment(l, 22, draft, writer, "on the draft")
	l.Add(domain.UserStream(third), &domain.UserProfileUpdated{FirstName: ptr("Renamed")})
	comment(l, 23, published, reader, "again")
	l.Add(domain.UserStream(reader), &domain.UserErased{})
	comment(l, 24, published, third, "later")
	l.Add(domain.UserStream(third), &domain.UserDeleted{})
	comment(l, 25, published, third, "after the deletion")
	l.Add(domain.CommentStream(id(21)), &domain.CommentDeleted{Reason: "author deleted"})
	l.Add(domain.ArticleStream(draft), &domain.ArticleUnpublished{})
	l.Add(domain.ArticleStream(draft), &domain.ArticleDeleted{})
	comment(l, 26, published, writer, "kept")
	recs := l.Recs
	if erased {
		// A rebuild after the erasure reads the reader's personal fields
		// as Erased.
		for i := range recs {
			switch e := recs[i].Event.(type) {
			case *domain.UserRegistered:
				if e.UserID == reader {
					recs[i].Erased = true
				}
			case *domain.CommentAdded:
				if e.AuthorID == reader {
					c := *e
					c.Body = domain.Erased
					recs[i].Event, recs[i].Erased = &c, true
				}
			}
		}
	}
	return recs
}

func ptr(s string) *string { return &s }

// Whatever the batches, and whether the erased author's events read
// Erased (a rebuild after the erasure) or not (the live read model), the
// read model holds the same rows; and applying a batch again changes
// nothing.
func TestCommentsSameRowsWhateverTheBatches(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		var want projectionstest.Rows
		for i, c := range []struct {
			batch  int
			erased bool
		}{{1, false}, {1000, false}, {3, true}, {1000, true}, {7, false}} {
			db := open(t)
			projectionstest.MustEnsure(t, db, comments.ReadModel{})
			recs := history(c.erased)
			projectionstest.ApplyAll(t, db, comments.ReadModel{}, recs, c.batch)
			projectionstest.ApplyAll(t, db, comments.ReadModel{}, recs[len(recs)/2:], c.batch) // redelivered
			got := projectionstest.Snapshot(t, db, comments.ReadModel{})
			if i == 0 {
				want = got
				if n := len(got["comments"]); n != 5 {
					t.Fatalf("%d comments kept, want 5: %v", n, got["comments"])
				}
				continue
			}
			projectionstest.SameRows(t, fmt.Sprintf("batches of %d, erased %v", c.batch, c.erased), got, want)
		}
	})
}

// Comments are numbered 1, 2, 3, ... in log order (the Conduit surface's
// ids): a comment on an article the read model does not hold takes its
// number all the same, so that every later one keeps the number it has
// whatever the batches; a deleted comment's number finds nothing.
func TestCommentsAreNumberedInLogOrder(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		projectionstest.MustEnsure(t, db, comments.ReadModel{})
		s := comments.NewStore(db)
		l := blog()
		c1 := comment(l, 20, published, reader, "first")
		comment(l, 21, id(99), reader, "on no article")
		c3 := comment(l, 22, published, third, "third")
		c4 := comment(l, 23, published, reader, "fourth")
		l.Add(domain.CommentStream(c4), &domain.CommentDeleted{})
		projectionstest.ApplyAll(t, db, comments.ReadModel{}, l.Recs, 2)
		for n, want := range map[int64]string{1: c1, 3: c3} {
			got, err := s.CommentIDByNumber(ctx, n)
			if err != nil || got != want {
				t.Fatalf("comment %d: %q, %v; want %q", n, got, err, want)
			}
			c, err := s.CommentByID(ctx, domain.Actor{}, published, want)
			if err != nil || c.Number != n {
				t.Fatalf("comment %s: number %d, %v; want %d", want, c.Number, err, n)
			}
		}
		for _, n := range []int64{2, 4, 5} {
			if _, err := s.CommentIDByNumber(ctx, n); domain.ErrorCode(err) != domain.ENOTFOUND {
				t.Fatalf("comment %d: %v, want ENOTFOUND", n, err)
			}
		}
		c5 := comment(l, 24, published, reader, "fifth")
		projectionstest.ApplyAll(t, db, comments.ReadModel{}, l.Recs[len(l.Recs)-1:], 1)
		if got, err := s.CommentIDByNumber(ctx, 5); err != nil || got != c5 {
			t.Fatalf("comment 5: %q, %v; want %q", got, err, c5)
		}
	})
}

// The list of an article's comments and the pages of an author's read in
// index order: no scan of the table, no sort.
func TestCommentListQueriesReadInIndexOrder(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		projectionstest.MustEnsure(t, db, comments.ReadModel{})
		l := blog()
		for i := range 300 {
			article := published
			if i%3 == 0 {
				article = draft
			}
			comment(l, 100+i, article, []string{writer, reader, third}[i%3], "c")
		}
		projectionstest.ApplyAll(t, db, comments.ReadModel{}, l.Recs, 50)
		s := comments.NewStore(db)
		first, err := s.ListComments(ctx, comments.Filter{ArticleID: published, Page: readmodels.Page{Limit: 2}})
		if err != nil || first.Next == "" {
			t.Fatalf("%v (next %q)", err, first.Next)
		}
		for _, cursor := range []string{"", first.Next} {
			after := comments.Key{ID: first.Items[1].ID, CreatedAt: first.Items[1].CreatedAt}
			qs, args, err := comments.ListQueries(s, comments.Filter{ArticleID: published, Page: readmodels.Page{Limit: 20, Cursor: cursor}}, reader, after)
			if err != nil {
				t.Fatal(err)
			}
			for i, q := range qs {
				steps := projectionstest.Plan(t, db, q, args[i])
				plan := strings.Join(steps, "\n  ")
				for _, bad := range []string{"SCAN c\n", "TEMP B-TREE", "Seq Scan", "Sort  ("} {
					if strings.Contains(plan+"\n", bad) {
						t.Errorf("query %d (cursor %v) has %q:\n%s\nplan:\n  %s", i, cursor != "", strings.TrimSpace(bad), q, plan)
					}
				}
				idx := map[bool]string{true: "_article_idx", false: "_author_idx"}[i == 0]
				if !strings.Contains(plan, idx) {
					t.Errorf("query %d (cursor %v) does not read %s:\n%s\nplan:\n  %s", i, cursor != "", idx, q, plan)
				}
			}
		}
	})
}
