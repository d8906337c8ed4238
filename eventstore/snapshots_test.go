package eventstore_test

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"inkwell/auth"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
)

// snapshotLog is a log with its snapshot bucket, and a way to open it again
// as another instance (or the same after a restart) does: empty caches.
type snapshotLog struct {
	t      *testing.T
	nc     *nats.Conn
	master *auth.MasterKey
}

func newSnapshotLog(t *testing.T) *snapshotLog {
	e := eventstoretest.MustStartEmbedded(t, "")
	return &snapshotLog{t: t, nc: e.Connect(t), master: eventstoretest.NewMasterKey(t)}
}

// open opens a store snapshotting every 4 events, and its data keys.
func (l *snapshotLog) open() (*eventstore.Store, *eventstore.Keyring) {
	l.t.Helper()
	s, err := eventstore.Open(context.Background(), l.nc, eventstore.Config{SnapshotEvery: 4})
	if err != nil {
		l.t.Fatal(err)
	}
	keys := eventstoretest.MustOpenDataKeys(l.t, s, l.master)
	s.UsePersonalData(keys, l.master.Derive("claims"))
	if err := s.OpenSnapshots(context.Background()); err != nil {
		l.t.Fatal(err)
	}
	return s, keys
}

// recordUser appends a registration and n-1 profile edits of a new user.
func recordUser(t *testing.T, s *eventstore.Store, n int) (domain.StreamID, domain.Position) {
	t.Helper()
	ctx := context.Background()
	id := "0190d7a6-2222-7000-8000-" + strconv.FormatInt(time.Now().UnixNano()%1e12, 10)
	for len(id) < 36 {
		id += "0"
	}
	sid := domain.UserStream(id)
	recs, err := s.Append(ctx, sid, domain.Position{}, domain.Meta{}, &domain.UserRegistered{UserID: id, Username: "ada" + id[24:],
		Email: "ada-" + id[24:] + "@example.com", PasswordHash: "hash", IsActive: true, DateJoined: time.Unix(1700000000, 0).UTC()})
	if err != nil {
		t.Fatal(err)
	}
	pos := domain.Position{Seq: recs[0].Seq, Version: 1}
	for i := 2; i <= n; i++ {
		pos = appendBio(t, s, sid, pos, "bio "+strconv.Itoa(i))
	}
	return sid, pos
}

func appendBio(t *testing.T, s *eventstore.Store, sid domain.StreamID, pos domain.Position, bio string) domain.Position {
	t.Helper()
	recs, err := s.Append(context.Background(), sid, pos, domain.Meta{}, &domain.UserProfileUpdated{Bio: &bio})
	if err != nil {
		t.Fatal(err)
	}
	return domain.Position{Seq: recs[0].Seq, Version: recs[0].Version}
}

// fullFold folds every event of sid, as a store without snapshots does.
func fullFold(t *testing.T, s *eventstore.Store, sid domain.StreamID) *domain.User {
	t.Helper()
	recs, _, err := s.Load(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	var u domain.User
	for _, r := range recs {
		u.Apply(r)
	}
	return &u
}

func loadUser(t *testing.T, s *eventstore.Store, sid domain.StreamID) (*domain.User, domain.Position) {
	t.Helper()
	var u domain.User
	pos, err := s.LoadInto(context.Background(), sid, &u)
	if err != nil {
		t.Fatal(err)
	}
	return &u, pos
}

func sameState(t *testing.T, got, want domain.Snapshotter) {
	t.Helper()
	g, _ := got.MarshalSnapshot()
	w, _ := want.MarshalSnapshot()
	if !bytes.Equal(g, w) {
		t.Fatalf("loaded\n%s\nfolded from every event\n%s", g, w)
	}
}

func TestSnapshotGivesTheStateOfAFullFold(t *testing.T) {
	l := newSnapshotLog(t)
	s, _ := l.open()
	sid, pos := recordUser(t, s, 10)
	u, got := loadUser(t, s, sid) // folds every event, writes a snapshot
	if got != pos {
		t.Fatalf("loaded at %+v, the stream stands at %+v", got, pos)
	}
	sameState(t, u, fullFold(t, s, sid))
	if len(eventstore.SnapshotBytes(context.Background(), s, sid)) == 0 {
		t.Fatal("no snapshot in the bucket after a load of 10 events")
	}
	pos = appendBio(t, s, sid, pos, "later")
	pos = appendBio(t, s, sid, pos, "later still")

	// Warm: the snapshot in memory, and the two events after it.
	served := eventstore.SnapshotsServed(s)
	u, got = loadUser(t, s, sid)
	if got != pos || eventstore.SnapshotsServed(s) != served+1 {
		t.Fatalf("warm load at %+v (want %+v), snapshots served %d (before %d)", got, pos, eventstore.SnapshotsServed(s), served)
	}
	sameState(t, u, fullFold(t, s, sid))
	if u.Bio() != "later still" {
		t.Fatalf("bio %q", u.Bio())
	}

	// Cold: another store, the snapshot in the bucket.
	cold, _ := l.open()
	u, got = loadUser(t, cold, sid)
	if got != pos || eventstore.SnapshotsServed(cold) != 1 {
		t.Fatalf("cold load at %+v (want %+v), snapshots served %d", got, pos, eventstore.SnapshotsServed(cold))
	}
	sameState(t, u, fullFold(t, cold, sid))

	// Cold again, on a server without batched reads (one get each).
	single, _ := l.open()
	eventstore.WithoutBatchedGet(single)
	u, got = loadUser(t, single, sid)
	if got != pos || eventstore.SnapshotsServed(single) != 1 {
		t.Fatalf("cold load one event at a time at %+v (want %+v), snapshots served %d", got, pos, eventstore.SnapshotsServed(single))
	}
	sameState(t, u, fullFold(t, single, sid))

	// Several at once, as authentication loads them.
	var u2 domain.User
	var c domain.Claim
	poss, err := cold.LoadEachInto(context.Background(), []domain.StreamID{sid, stream("none")}, []domain.Aggregate{&u2, &c})
	if err != nil {
		t.Fatal(err)
	}
	if poss[0] != pos || poss[1] != (domain.Position{}) {
		t.Fatalf("LoadEachInto at %+v", poss)
	}
	sameState(t, &u2, u)
}

// A snapshot the log does not vouch for, or of another kind, is ignored:
// the load folds every event.
func TestSnapshotsTheLogDoesNotMatchAreIgnored(t *testing.T) {
	ctx := context.Background()
	l := newSnapshotLog(t)
	s, _ := l.open()
	sid, pos := recordUser(t, s, 6)
	other, _ := recordUser(t, s, 5)
	want := fullFold(t, s, sid)
	recs, _, err := s.Load(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	otherRecs, _, _ := s.Load(ctx, other)
	var forged domain.User
	forged.Apply(domain.Record{Event: &domain.UserRegistered{UserID: sid.ID, Username: "forged", IsActive: true, IsStaff: true}, Version: 5, Seq: recs[4].Seq})
	state, _ := forged.MarshalSnapshot()
	at := func(r domain.Record) domain.Snapshot {
		return domain.Snapshot{Kind: forged.SnapshotKind(), Subject: sid.ID, State: state,
			Position: domain.Position{Seq: r.Seq, Version: r.Version}, EventID: r.ID}
	}
	for _, c := range []struct {
		name string
		snap domain.Snapshot
	}{
		{"of another kind", func() domain.Snapshot { s := at(recs[4]); s.Kind = "user.v0.0000000000000000"; return s }()},
		{"at an event of another stream", at(otherRecs[4])},
		{"with another event id", func() domain.Snapshot { s := at(recs[4]); s.EventID = recs[3].ID; return s }()},
		{"with another version", func() domain.Snapshot { s := at(recs[4]); s.Position.Version = 4; return s }()},
		{"ahead of the log", func() domain.Snapshot { s := at(recs[5]); s.Position.Seq = pos.Seq + 100; return s }()},
		{"that does not decode", func() domain.Snapshot { s := at(recs[4]); s.State = []byte("{not json"); return s }()},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := eventstore.PutSnapshot(ctx, s, sid, c.snap); err != nil {
				t.Fatal(err)
			}
			cold, _ := l.open()
			u, got := loadUser(t, cold, sid)
			if got != pos || eventstore.SnapshotsServed(cold) != 0 {
				t.Fatalf("loaded at %+v (want %+v), snapshots served %d", got, pos, eventstore.SnapshotsServed(cold))
			}
			sameState(t, u, want)
		})
	}
	// The same forgery, where the log vouches for it, serves: the tests
	// above are ignored for their mismatch, not for the forgery.
	if err := eventstore.PutSnapshot(ctx, s, sid, at(recs[4])); err != nil {
		t.Fatal(err)
	}
	cold, _ := l.open()
	if u, _ := loadUser(t, cold, sid); u.Username() != "forged" || eventstore.SnapshotsServed(cold) != 1 {
		t.Fatalf("a snapshot matching the log was not used: %q, served %d", u.Username(), eventstore.SnapshotsServed(cold))
	}
}

// A user's snapshot is sealed with their data key: the bucket holds none of
// their personal data in clear text, and once they are erased (their key
// destroyed) no snapshot of them serves, in memory or in the bucket.
func TestErasedUsersSnapshotRevealsNothing(t *testing.T) {
	ctx := context.Background()
	l := newSnapshotLog(t)
	s, keys := l.open()
	sid, _ := recordUser(t, s, 8)
	u, _ := loadUser(t, s, sid)
	raw := eventstore.SnapshotBytes(ctx, s, sid)
	if len(raw) == 0 {
		t.Fatal("no snapshot written")
	}
	for _, personal := range []string{u.Email(), u.Username(), u.Bio(), u.PasswordHash()} {
		if bytes.Contains(raw, []byte(personal)) {
			t.Fatalf("the bucket holds %q in clear text: %s", personal, raw)
		}
	}
	if err := keys.Destroy(ctx, sid.ID); err != nil {
		t.Fatal(err)
	}
	served := eventstore.SnapshotsServed(s)
	for _, store := range []*eventstore.Store{s, func() *eventstore.Store { c, _ := l.open(); return c }()} {
		u, _ := loadUser(t, store, sid)
		if u.Email() == "" || u.Email() != domain.Erased {
			t.Fatalf("an erased user loads with email %q", u.Email())
		}
	}
	if eventstore.SnapshotsServed(s) != served {
		t.Fatal("a snapshot in memory served after the user's key was destroyed")
	}
}

// A retry of an idempotent request loads the stream as it stood before its
// own event, whatever snapshot stands after it.
func TestAttemptLoadsTheStreamBeforeItsEvent(t *testing.T) {
	ctx := context.Background()
	l := newSnapshotLog(t)
	s, _ := l.open()
	sid, pos := recordUser(t, s, 9)
	started := time.Now()
	first := domain.WithAttempt(ctx, domain.NewAttempt([]byte("request"), started))
	bio := "by the attempt"
	if _, err := s.Append(first, sid, pos, domain.Meta{}, &domain.UserProfileUpdated{Bio: &bio}); err != nil {
		t.Fatal(err)
	}
	after, _ := loadUser(t, s, sid) // a snapshot stands at the attempt's event
	if after.Bio() != bio {
		t.Fatalf("bio %q", after.Bio())
	}
	for _, store := range []*eventstore.Store{s, func() *eventstore.Store { c, _ := l.open(); return c }()} {
		retry := domain.WithAttempt(ctx, domain.NewAttempt([]byte("request"), started))
		var u domain.User
		got, err := store.LoadInto(retry, sid, &u)
		if err != nil {
			t.Fatal(err)
		}
		if got != pos || u.Bio() != "bio 9" {
			t.Fatalf("a retry loads at %+v with bio %q, want %+v and the bio before its event", got, u.Bio(), pos)
		}
	}
}

// The first load of a long stream, with no snapshot yet, reads every event
// in several batches, and gives the state every event folds to.
func TestLongStreamLoadsWhole(t *testing.T) {
	l := newSnapshotLog(t)
	s, _ := l.open()
	sid, pos := recordUser(t, s, 600)
	cold, _ := l.open()
	u, got := loadUser(t, cold, sid)
	if got != pos || eventstore.SnapshotsServed(cold) != 0 {
		t.Fatalf("loaded at %+v (want %+v), snapshots served %d", got, pos, eventstore.SnapshotsServed(cold))
	}
	sameState(t, u, fullFold(t, cold, sid))
	if u.Bio() != "bio 600" {
		t.Fatalf("bio %q", u.Bio())
	}
}
