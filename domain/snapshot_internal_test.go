package domain

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
)

// The kinds of the snapshots this build writes. A snapshot of another kind
// is ignored (the aggregate is folded from its events), so a kind that
// changes only costs one full load of each aggregate; a kind that does not
// change while Apply does would serve stale states. When this test fails
// because a state's shape or the event catalogue changed, check whether
// Apply of the aggregate changed too (then bump its snapshot version), and
// write the new kinds here.
func TestSnapshotKindsAreKnown(t *testing.T) {
	t.Parallel()
	for typ, zero := range snapshotters {
		if !KeepsSnapshots(typ) || zero() == nil || !strings.HasPrefix(zero().SnapshotKind(), typ+".") {
			t.Errorf("the snapshots of %s are not its own", typ)
		}
	}
	if KeepsSnapshots(AggregateClaim) {
		t.Error("claims keep snapshots")
	}
	for _, c := range []struct {
		got, want string
	}{
		{(&Article{}).SnapshotKind(), "article.v1.8eb04e89c0256927"},
		{(&User{}).SnapshotKind(), "user.v1.d419d542e714db59"},
	} {
		if c.got != c.want {
			t.Errorf("snapshot kind %s, want %s: see the comment of this test", c.got, c.want)
		}
	}
}

// A snapshot's state holds every field of its aggregate, of the same type:
// a field added to one and not the other would be lost in a snapshot.
func TestSnapshotStatesMirrorTheirAggregates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ agg, state any }{{Article{}, articleState{}}, {User{}, userState{}}} {
		at, st := reflect.TypeOf(c.agg), reflect.TypeOf(c.state)
		if at.NumField() != st.NumField() {
			t.Errorf("%s has %d fields, its snapshot state %s %d", at, at.NumField(), st, st.NumField())
		}
		for i := 0; i < at.NumField(); i++ {
			f := at.Field(i)
			name := string(unicode.ToUpper(rune(f.Name[0]))) + f.Name[1:]
			name = strings.Replace(name, "Id", "ID", 1)
			sf, ok := st.FieldByName(name)
			if !ok || sf.Type != f.Type {
				t.Errorf("%s.%s (%s) has no field %s of its type in %s", at, f.Name, f.Type, name, st)
			}
		}
	}
}

// A snapshot restores the state it was taken of, field for field.
func TestSnapshotRoundTrips(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	title, bio := "Changed", "A bio"
	published := true
	var a Article
	for i, ev := range []Event{
		&ArticleCreated{ArticleID: "a1", Title: "T", Slug: "t", Content: "C", Excerpt: "E", ExcerptAuto: true, AuthorID: "u1",
			CategoryID: "c1", Tags: []string{"x", "y"}, CoverImage: "https://example.com/i.png", CreatedAt: at},
		&ArticleUpdated{Title: &title, IsPublished: &published, PublishedAt: &at},
	} {
		a.Apply(Record{Event: ev, Version: uint64(i + 1), Seq: uint64(10 + i), OccurredAt: at, Erased: i == 1})
	}
	var u User
	for i, ev := range []Event{
		&UserRegistered{UserID: "u1", Username: "ada", Email: "ada@example.com", PasswordHash: "h", FirstName: "Ada", LastName: "L",
			IsActive: true, IsStaff: true, DateJoined: at},
		&UserProfileUpdated{Bio: &bio},
		&UserPasswordChanged{PasswordHash: "h2", KeepSession: "s1"},
	} {
		u.Apply(Record{Event: ev, Version: uint64(i + 1), Seq: uint64(20 + i), OccurredAt: at})
	}
	for _, c := range []struct {
		from, to Snapshotter
	}{{&a, &Article{}}, {&u, &User{}}} {
		b, err := c.from.MarshalSnapshot()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.to.UnmarshalSnapshot(b); err != nil {
			t.Fatal(err)
		}
		again, _ := c.to.MarshalSnapshot()
		if !bytes.Equal(b, again) {
			t.Errorf("snapshot\n%s\nrestores as\n%s", b, again)
		}
		if err := c.to.UnmarshalSnapshot([]byte("{not json")); err == nil {
			t.Error("a snapshot that is not JSON restored")
		}
		if again2, _ := c.to.MarshalSnapshot(); !bytes.Equal(again2, b) {
			t.Error("a snapshot that did not restore changed the aggregate")
		}
	}
	if a.Slug() != "t" || !a.Published() || !a.Erased() || len(a.Tags()) != 2 || u.Bio() != bio || !u.Staff() {
		t.Fatalf("the events did not fold as the test expects: %+v %+v", a, u)
	}
}
