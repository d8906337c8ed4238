package queries_test

import (
	"context"
	"testing"
	"time"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore/memstore"
	"inkwell/queries"
)

// portOnly hides every method of a store but Load and Append: the queries
// then read one stream at a time (as on NATS 2.10).
type portOnly struct{ commands.EventStore }

// fakeHasher takes every password.
type fakeHasher struct{}

func (fakeHasher) Hash(_ context.Context, pw string) (string, error) { return "hash:" + pw, nil }
func (fakeHasher) Verify(_ context.Context, pw, hash string) (bool, error) {
	return hash == "hash:"+pw, nil
}

// Authentication accepts a live session of an active account, and refuses,
// from the next request on, a session that ended, a session of another
// account, and a disabled account: the same whether the store loads the
// account and the session in one round trip or one after the other.
func TestAuthenticate(t *testing.T) {
	t.Parallel()
	for _, eachLoader := range []bool{true, false} {
		store := memstore.New()
		var port commands.EventStore = store
		if !eachLoader {
			port = portOnly{store}
		}
		if _, ok := port.(queries.EachLoader); ok != eachLoader {
			t.Fatalf("the store loads several streams at once: %t, want %t", ok, eachLoader)
		}
		cmds := commands.New(commands.Deps{Store: store, Hasher: fakeHasher{}, ClaimGrace: time.Minute})
		qs := queries.New(queries.Deps{Store: port})
		ctx := context.Background()
		register := func(name string) domain.Actor {
			res, err := cmds.Register.Handle(ctx, commands.Register{User: domain.NewUser{Username: name, Email: name + "@example.com"}, Password: "password-" + name})
			if err != nil {
				t.Fatal(err)
			}
			return domain.Actor{ID: res.ID}
		}
		start := func(a domain.Actor) string {
			s, err := cmds.StartSession.Handle(ctx, commands.StartSession{UserID: a.ID})
			if err != nil {
				t.Fatal(err)
			}
			return s.SessionID
		}
		auth := func(a domain.Actor, session string) error {
			u, err := qs.Authenticate.Handle(ctx, queries.Authenticate{UserID: a.ID, SessionID: session})
			if err == nil && u.ID() != a.ID {
				t.Fatalf("authenticated as %s, want %s", u.ID(), a.ID)
			}
			return err
		}
		refused := func(what string, err error) {
			t.Helper()
			if domain.ErrorCode(err) != domain.EUNAUTHORIZED {
				t.Errorf("each loader %t: %s: %v, want EUNAUTHORIZED", eachLoader, what, err)
			}
		}

		alice, bob := register("alice"), register("bob")
		sa, sb := start(alice), start(bob)
		if err := auth(alice, sa); err != nil {
			t.Fatalf("each loader %t: a live session: %v", eachLoader, err)
		}
		refused("another account's session", auth(alice, sb))
		refused("an unknown session", auth(alice, "0190f3f5-0000-7000-8000-000000000001"))
		refused("a session id that is no id", auth(alice, "not an id"))
		refused("an account id that is no id", auth(domain.Actor{ID: "x"}, sa))

		if _, err := cmds.Logout.Handle(ctx, commands.Logout{Actor: alice, SessionID: sa}); err != nil {
			t.Fatal(err)
		}
		refused("a session logged out", auth(alice, sa))

		if err := auth(bob, sb); err != nil {
			t.Fatalf("each loader %t: bob's live session: %v", eachLoader, err)
		}
		recs, pos, err := store.Load(ctx, domain.UserStream(bob.ID))
		if err != nil || len(recs) == 0 {
			t.Fatalf("load bob: %d events, %v", len(recs), err)
		}
		if _, err := store.Append(ctx, domain.UserStream(bob.ID), pos, domain.Meta{}, &domain.UserDisabled{}); err != nil {
			t.Fatal(err)
		}
		refused("a disabled account", auth(bob, sb))
	}
}
