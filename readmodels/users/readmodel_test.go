package users_test

import (
	"context"
	"fmt"
	"inkwell/domain"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/users"
	"reflect"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func registered(seq uint64, id, username string) domain.Record {
	return domain.Record{
		ID: fmt.Sprintf("ev-%d", seq), Type: "user.registered", SchemaVersion: 1,
		Stream: domain.UserStream(id), Version: 1, Seq: seq, OccurredAt: t0,
		Event: &domain.UserRegistered{
			UserID: id, Username: username, Email: username + "@example.com", PasswordHash: "$argon2id$secret",
			FirstName: "First " + username, LastName: "Last", IsActive: true, DateJoined: t0,
		},
	}
}

func allUsers(t testing.TB, db *projections.DB) []users.User {
	t.Helper()
	out := projectionstest.MustSelect[users.User](t, db, "SELECT id, username, email, first_name, last_name, bio, avatar, is_active, is_staff, is_superuser, date_joined, updated_at, version FROM users ORDER BY id")
	for i := range out {
		out[i].DateJoined = out[i].DateJoined.UTC()
		out[i].UpdatedAt = out[i].UpdatedAt.UTC()
	}
	return out
}

func TestUsersApplyTwiceIsApplyOnce(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		projectionstest.MustEnsure(t, db, users.ReadModel{})
		batch := []domain.Record{registered(1, "u1", "alice"), registered(2, "u2", "bob")}

		cp, err := projections.ApplyBatch(ctx, db, users.ReadModel{}, batch, time.Now())
		if err != nil || cp != 2 {
			t.Fatalf("first apply: checkpoint %d, %v", cp, err)
		}
		once := allUsers(t, db)
		if len(once) != 2 {
			t.Fatalf("%d rows after one apply", len(once))
		}
		// Redelivery of the same events (and of one of them alone).
		for _, b := range [][]domain.Record{batch, batch[1:]} {
			cp, err = projections.ApplyBatch(ctx, db, users.ReadModel{}, b, time.Now())
			if err != nil || cp != 2 {
				t.Fatalf("redelivery: checkpoint %d, %v", cp, err)
			}
		}
		if twice := allUsers(t, db); !reflect.DeepEqual(once, twice) {
			t.Fatalf("rows changed on redelivery:\n%+v\n%+v", once, twice)
		}
		if once[0].DateJoined != t0.Truncate(time.Microsecond) {
			t.Fatalf("date_joined %v, want %v", once[0].DateJoined, t0)
		}
	})
}

func TestUsersRunnerResumesFromCheckpoint(t *testing.T) {
	projectionstest.EachDialect(t, func(t *testing.T, db *projections.DB) {
		ctx := context.Background()
		store := eventstoretest.MustOpen(t)
		projectionstest.MustEnsure(t, db, users.ReadModel{})

		register := func(i int) uint64 {
			id := fmt.Sprintf("0190f3f5-0000-7000-8000-%012d", i)
			recs, err := store.Append(ctx, domain.UserStream(id), domain.Position{}, domain.Meta{},
				&domain.UserRegistered{UserID: id, Username: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("u%d@example.com", i), IsActive: true, DateJoined: t0})
			if err != nil {
				t.Fatal(err)
			}
			return recs[0].Seq
		}
		run := func() (*projections.Runner, context.CancelFunc, chan error) {
			r := projections.NewRunner(db, store, users.ReadModel{}, nil)
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- r.Run(rctx) }()
			return r, cancel, done
		}

		for i := 0; i < 10; i++ {
			register(i)
		}
		r, stop, done := run()
		wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		if err := r.WaitFor(wctx, 10); err != nil {
			t.Fatal(err)
		}
		stop()
		<-done

		var last uint64
		for i := 10; i < 15; i++ {
			last = register(i)
		}
		st, err := db.State(ctx, "users")
		if err != nil || st.Checkpoint != 10 {
			t.Fatalf("checkpoint after stop %d (%v), want 10", st.Checkpoint, err)
		}
		r2, stop2, done2 := run()
		defer func() { stop2(); <-done2 }()
		if err := r2.WaitFor(wctx, last); err != nil {
			t.Fatal(err)
		}
		users := allUsers(t, db)
		if len(users) != 15 {
			t.Fatalf("%d users, want 15", len(users))
		}
		for _, u := range users {
			if u.Version != 1 {
				t.Fatalf("user %s at version %d: an event was applied twice", u.Username, u.Version)
			}
		}
	})
}

func TestUsersSameRowsOnBothDialects(t *testing.T) {
	t.Parallel()
	projectionstest.PostgresURL(t)
	ctx := context.Background()
	var batch []domain.Record
	for i := 1; i <= 50; i++ {
		batch = append(batch, registered(uint64(i), fmt.Sprintf("id%03d", i), fmt.Sprintf("user%03d", i)))
	}
	var results [][]users.User
	for _, db := range []*projections.DB{projectionstest.MustOpenSQLite(t), projectionstest.MustOpenPostgres(t)} {
		projectionstest.MustEnsure(t, db, users.ReadModel{})
		// One at a time on one side would hide batching bugs; split unevenly.
		for _, b := range [][]domain.Record{batch[:7], batch[7:8], batch[8:]} {
			if _, err := projections.ApplyBatch(ctx, db, users.ReadModel{}, b, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		results = append(results, allUsers(t, db))
	}
	if len(results[0]) != 50 || !reflect.DeepEqual(results[0], results[1]) {
		t.Fatalf("sqlite and postgres differ:\n%+v\n%+v", results[0], results[1])
	}
}

func TestUserByIDNotFound(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		db := open(t)
		projectionstest.MustEnsure(t, db, users.ReadModel{})
		_, err := users.NewStore(db).UserByID(context.Background(), "nope")
		if domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Fatalf("got %v, want ENOTFOUND", err)
		}
	})
}
