package follows_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
	"inkwell/readmodels/follows"
)

const (
	alice = "00000000-0000-7000-8000-00000000a11c"
	bob   = "00000000-0000-7000-8000-000000000b0b"
	carol = "00000000-0000-7000-8000-0000000ca201"
	dave  = "00000000-0000-7000-8000-00000000da7e"
)

func artID(n int) string { return fmt.Sprintf("00000000-0000-7000-8000-%012d", n) }

// followsLog: four users; alice and bob write; carol follows both, dave
// follows bob; articles are published, unpublished, republished and
// deleted; follows end and begin again; bob is deleted.
func followsLog() *projectionstest.LogBuilder {
	l := projectionstest.NewLog()
	for _, u := range []struct{ id, name string }{{alice, "Alice"}, {bob, "bob"}, {carol, "carol"}, {dave, "dave"}} {
		l.Add(domain.UserStream(u.id), &domain.UserRegistered{UserID: u.id, Username: u.name, Bio: "I am " + u.name})
	}
	follow := func(a, b string) {
		l.Add(domain.FollowStream(a, b), &domain.FollowAdded{FollowerID: a, FolloweeID: b, At: l.At})
	}
	unfollow := func(a, b string) {
		l.Add(domain.FollowStream(a, b), &domain.FollowRemoved{FollowerID: a, FolloweeID: b})
	}
	create := func(n int, author string, published bool) {
		e := &domain.ArticleCreated{ArticleID: artID(n), AuthorID: author, Tags: []string{}, CreatedAt: l.At, IsPublished: published}
		if published {
			t := l.At
			e.PublishedAt = &t
		}
		l.Add(domain.ArticleStream(artID(n)), e)
	}
	create(1, alice, true) // before any follow
	follow(carol, alice)
	follow(carol, bob)
	follow(dave, bob)
	create(2, bob, true)
	create(3, bob, false)
	create(4, alice, true)
	l.Add(domain.ArticleStream(artID(3)), &domain.ArticlePublished{PublishedAt: l.At})
	l.Add(domain.ArticleStream(artID(4)), &domain.ArticleUnpublished{})
	create(5, alice, true)
	l.Add(domain.ArticleStream(artID(5)), &domain.ArticleDeleted{})
	unfollow(dave, bob)
	follow(dave, alice) // gets alice's published articles
	l.Add(domain.UserStream(alice), &domain.UserProfileUpdated{Bio: strp("Writer"), Avatar: strp("https://example.com/a.png")})
	l.Add(domain.UserStream(bob), &domain.UserDeleted{})
	follow(dave, bob) // after bob's deletion: not kept
	return l
}

func strp(s string) *string { return &s }

func feedOf(t *testing.T, s *follows.Store, viewer string) []string {
	t.Helper()
	var out []string
	var counts []int
	page := readmodels.Page{Limit: 1}
	for {
		p, err := s.Feed(context.Background(), viewer, page)
		if err != nil {
			t.Fatal(err)
		}
		if !p.CountExact {
			t.Fatalf("count %d of a small feed not exact", p.Count)
		}
		counts = append(counts, p.Count)
		for _, e := range p.Items {
			out = append(out, e.ArticleID)
		}
		if p.Next == "" {
			break
		}
		page.Cursor = p.Next
	}
	// Every page counts the whole feed.
	for _, n := range counts {
		if n != len(out) {
			t.Fatalf("feed of %s: counts %v, want each %d (the entries read)", viewer, counts, len(out))
		}
	}
	return out
}

func TestFollowsAndFeeds(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		recs := followsLog().Recs
		db := projectionstest.ApplyInBatches(t, open, follows.ReadModel{}, recs, 1, 4, len(recs))
		s := follows.NewStore(db)
		for viewer, want := range map[string][]string{
			// carol: bob's articles left with him; alice's 4 unpublished, 5 deleted.
			carol: {artID(1)},
			dave:  {artID(1)},
			alice: nil,
		} {
			if got := feedOf(t, s, viewer); !reflect.DeepEqual(got, want) {
				t.Errorf("feed of %s: %v, want %v", viewer, got, want)
			}
		}
		p, err := s.ProfileByUsername(ctx, domain.Actor{ID: carol}, "ALICE")
		if err != nil || p.ID != alice || p.Bio != "Writer" || p.Avatar != "https://example.com/a.png" || !p.Following {
			t.Fatalf("alice's profile for carol: %v, %+v", err, p)
		}
		if p, err := s.ProfileByUsername(ctx, domain.Actor{}, "Alice"); err != nil || p.Following {
			t.Fatalf("alice's profile for nobody: %v, %+v", err, p)
		}
		if _, err := s.ProfileByUsername(ctx, domain.Actor{}, "bob"); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("a deleted user's profile: %v", err)
		}
		// The profiles of a page's authors, in one read: those there are.
		ps, err := s.ProfilesByIDs(ctx, domain.Actor{ID: carol}, []string{alice, bob, dave})
		if err != nil || len(ps) != 2 || ps[alice].Username != "Alice" || !ps[alice].Following || ps[dave].Following || ps[dave].Bio != "I am dave" {
			t.Fatalf("profiles for carol: %v, %+v", err, ps)
		}
		if ps, err := s.ProfilesByIDs(ctx, domain.Actor{}, nil); err != nil || len(ps) != 0 {
			t.Fatalf("no profiles: %v, %+v", err, ps)
		}
		var n int
		if err := db.Get(&n, db.Rebind("SELECT COUNT(*) FROM follows WHERE followee_id = ? OR follower_id = ?"), bob, bob); err != nil || n != 0 {
			t.Fatalf("follows of a deleted user: %d (%v)", n, err)
		}
		if fs, err := s.FollowingOf(ctx, carol, "", 10); err != nil || len(fs) != 1 || fs[0].Username != "Alice" {
			t.Fatalf("whom carol follows: %v, %+v", err, fs)
		}
	})
}

// Before bob's deletion, a republished article and a late follower: the
// feed holds what a follower should see, newest published first.
func TestFeedOrderAndFanOut(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		l := followsLog()
		recs := l.Recs[:len(l.Recs)-3] // up to dave following alice
		projectionstest.MustEnsure(t, db, follows.ReadModel{})
		projectionstest.ApplyAll(t, db, follows.ReadModel{}, recs, 2)
		s := follows.NewStore(db)
		if got, want := feedOf(t, s, carol), []string{artID(3), artID(2), artID(1)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("carol's feed %v, want %v", got, want)
		}
		if got, want := feedOf(t, s, dave), []string{artID(1)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("dave's feed %v, want %v", got, want)
		}
	})
}

// TestFeedReadsInIndexOrder runs the planner on a page of a feed, first
// and after a cursor, with many users following many authors: it reads the
// feed's index in order, the viewer (and the cursor) in its search, with
// no scan and no sort.
func TestFeedReadsInIndexOrder(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		projectionstest.MustEnsure(t, db, follows.ReadModel{})
		l := projectionstest.NewLog()
		user := func(i int) string { return fmt.Sprintf("00000000-0000-7000-8000-%012d", 900000+i) }
		for i := range 40 {
			l.Add(domain.UserStream(user(i)), &domain.UserRegistered{UserID: user(i), Username: fmt.Sprint("u", i)})
		}
		for i := range 40 {
			for j := range 40 {
				if i != j && (i+j)%2 == 0 {
					l.Add(domain.FollowStream(user(i), user(j)), &domain.FollowAdded{FollowerID: user(i), FolloweeID: user(j), At: l.At})
				}
			}
		}
		for n := range 600 {
			t := l.At.Add(time.Duration(n) * time.Minute)
			l.Add(domain.ArticleStream(artID(n+1)), &domain.ArticleCreated{ArticleID: artID(n + 1), AuthorID: user(n % 40), Tags: []string{},
				CreatedAt: t, IsPublished: true, PublishedAt: &t})
		}
		projectionstest.ApplyAll(t, db, follows.ReadModel{}, l.Recs, 1000)
		s := follows.NewStore(db)
		first, err := s.Feed(context.Background(), user(0), readmodels.Page{Limit: 5})
		if err != nil || first.Next == "" || first.Count < 100 {
			t.Fatalf("%v, count %d: the feed is too small for this test", err, first.Count)
		}
		for _, cursor := range []string{"", first.Next} {
			q, args, err := follows.FeedQuery(s, user(0), readmodels.Page{Limit: 5, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			cols := []string{"viewer_id"}
			if cursor != "" {
				cols = append(cols, "published_at")
			}
			projectionstest.CheckIndexSearch(t, db, "feed", fmt.Sprintf("feed (cursor %v)", cursor != ""), q, args, cols...)
		}
	})
}
