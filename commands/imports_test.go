package commands_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore/memstore"
	"inkwell/testkit"
)

// A hash Django 3.2's make_password wrote (pbkdf2_sha256, its default) of
// djangoPassword.
const (
	djangoPassword = "correct horse ünïcode"
	djangoHash     = "pbkdf2_sha256$260000$eltMXDnBvUuC9SrXltWPOL$rDYB0FEb49R8esFAP14qyZJvqAuj9uc+/dlMdrapaF0="
)

// importFixture is a log in memory with the import commands and the native
// ones over it, hashing for real (at a low cost).
func importFixture(t *testing.T) (*memstore.Store, *commands.Imports, *commands.Handlers) {
	t.Helper()
	store := memstore.New()
	deps := commands.Deps{Store: store, Hasher: auth.NewHasher(argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 1),
		Now: testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).Now, ClaimGrace: time.Minute}
	return store, commands.NewImports(deps), commands.New(deps)
}

func importedAccount(username string) domain.ImportedAccount {
	return domain.ImportedAccount{User: domain.NewUser{Username: username, Email: username + "@example.com"},
		PasswordHash: djangoHash, Active: true, DateJoined: time.Date(2023, 3, 1, 12, 30, 0, 0, time.UTC)}
}

// An imported account logs in with its Django password, which is then
// rehashed with argon2id (ending no session); the date it joined is
// Django's, the event's own time the import's.
func TestImportedAccountLogsInAndIsRehashed(t *testing.T) {
	store, im, cmds := importFixture(t)
	ctx := context.Background()
	res, err := im.ImportUser(ctx, "django", "3", importedAccount("johndoe"), domain.Meta{})
	if err != nil || res.Existed {
		t.Fatalf("import: %+v, %v", res, err)
	}
	u, recs := rebuild[domain.User](t, store, domain.UserStream(res.ID))
	reg := recs[0].Event.(*domain.UserRegistered)
	if !reg.DateJoined.Equal(time.Date(2023, 3, 1, 12, 30, 0, 0, time.UTC)) || !recs[0].OccurredAt.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("date_joined %v and occurred_at %v: want Django's and the import's", reg.DateJoined, recs[0].OccurredAt)
	}
	if u.PasswordHash() != djangoHash {
		t.Fatalf("the imported hash is %q", u.PasswordHash())
	}
	if _, err := cmds.Login.Handle(ctx, commands.Login{Username: "johndoe", Password: "wrong"}); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("a wrong password: %v", err)
	}
	if u, _ = rebuild[domain.User](t, store, domain.UserStream(res.ID)); u.PasswordHash() != djangoHash {
		t.Fatal("a failed login replaced the imported hash")
	}
	// A session begun before the rehash (another device's) outlives it.
	earlier, err := cmds.StartSession.Handle(ctx, commands.StartSession{UserID: res.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cmds.Login.Handle(ctx, commands.Login{Username: "johndoe", Password: djangoPassword}); err != nil {
		t.Fatalf("login with the Django password: %v", err)
	}
	u, recs = rebuild[domain.User](t, store, domain.UserStream(res.ID))
	if scheme := domain.PasswordHashScheme(u.PasswordHash()); scheme != "argon2id" {
		t.Fatalf("after the first login the hash is %s", scheme)
	}
	if e, ok := recs[len(recs)-1].Event.(*domain.UserPasswordRehashed); !ok || e.From != "pbkdf2_sha256" {
		t.Fatalf("the last event is %T %+v", recs[len(recs)-1].Event, recs[len(recs)-1].Event)
	}
	if _, err := cmds.Login.Handle(ctx, commands.Login{Username: "johndoe", Password: djangoPassword}); err != nil {
		t.Fatalf("login with the rehashed password: %v", err)
	}
	session, _ := rebuild[domain.Session](t, store, domain.SessionStream(earlier.SessionID))
	if err := u.HoldsSession(session, earlier.SessionID); err != nil {
		t.Errorf("the rehash ended a session begun before it: %v", err)
	}
}

// A key an import recorded is found again, even once its aggregate is
// deleted (a rerun does not bring it back); a row whose username someone
// holds is refused, and leaves its key free for a later run.
func TestImportRecordsEachKeyOnce(t *testing.T) {
	_, im, cmds := importFixture(t)
	ctx := context.Background()
	first, err := im.ImportUser(ctx, "django", "1", importedAccount("admin"), domain.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := im.ImportUser(ctx, "django", "1", importedAccount("admin"), domain.Meta{})
	if err != nil || !again.Existed || again.ID != first.ID {
		t.Fatalf("a second import: %+v, %v; want the first's id, existed", again, err)
	}
	if id, ok, err := im.Lookup(ctx, "django", domain.AggregateUser, "1"); err != nil || !ok || id != first.ID {
		t.Fatalf("lookup: %q %t %v", id, ok, err)
	}
	if _, ok, _ := im.Lookup(ctx, "other", domain.AggregateUser, "1"); ok {
		t.Fatal("a key of another source found the row")
	}

	staff := domain.Actor{ID: domain.SystemActorID, Staff: true, Superuser: true}
	if _, err := cmds.DeleteUser.Handle(ctx, commands.DeleteUser{Actor: staff, ID: first.ID}); err != nil {
		t.Fatal(err)
	}
	after, err := im.ImportUser(ctx, "django", "1", importedAccount("admin"), domain.Meta{})
	if err != nil || !after.Existed {
		t.Fatalf("an import after the deletion: %+v, %v; want existed", after, err)
	}

	if _, err := cmds.Register.Handle(ctx, commands.Register{User: domain.NewUser{Username: "jane", Email: "jane@inkwell.example"}, Password: "a long password"}); err != nil {
		t.Fatal(err)
	}
	if _, err := im.ImportUser(ctx, "django", "2", importedAccount("Jane"), domain.Meta{}); !errors.Is(err, commands.ErrUsernameTaken) {
		t.Fatalf("importing a username someone holds: %v", err)
	}
	if _, ok, _ := im.Lookup(ctx, "django", domain.AggregateUser, "2"); ok {
		t.Fatal("a refused row is recorded")
	}
	second, err := im.ImportUser(ctx, "django", "2", importedAccount("jane2"), domain.Meta{})
	if err != nil || second.Existed {
		t.Fatalf("the row fixed, a later run: %+v, %v", second, err)
	}
	found, err := im.LookupMany(ctx, "django", domain.AggregateUser, []string{"1", "2", "404"})
	if err != nil || len(found) != 2 || found["1"] != first.ID || found["2"] != second.ID {
		t.Fatalf("LookupMany: %v, %v; want 1 and 2", found, err)
	}
}

// An account whose argon2id hash was made with other parameters (before
// the hasher's changed) logs in with it, and that login replaces it by a
// hash of the present parameters; a login with a hash of the present
// parameters replaces nothing.
func TestLoginRehashesOlderParameters(t *testing.T) {
	store := memstore.New()
	ctx := context.Background()
	deps := func(p argon2id.Params) commands.Deps {
		return commands.Deps{Store: store, Hasher: auth.NewHasher(p, 1), ClaimGrace: time.Minute}
	}
	older := argon2id.Params{Memory: 128, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	present := argon2id.Params{Memory: 64, Iterations: 3, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	res, err := commands.New(deps(older)).Register.Handle(ctx, commands.Register{
		User: domain.NewUser{Username: "alice", Email: "alice@example.com"}, Password: "password-alice"})
	if err != nil {
		t.Fatal(err)
	}
	cmds := commands.New(deps(present))
	for range 2 {
		if _, err := cmds.Login.Handle(ctx, commands.Login{Username: "alice", Password: "password-alice"}); err != nil {
			t.Fatalf("login: %v", err)
		}
	}
	u, recs := rebuild[domain.User](t, store, domain.UserStream(res.ID))
	var rehashed []*domain.UserPasswordRehashed
	for _, r := range recs {
		if e, ok := r.Event.(*domain.UserPasswordRehashed); ok {
			rehashed = append(rehashed, e)
		}
	}
	if len(rehashed) != 1 || rehashed[0].From != "argon2id" {
		t.Fatalf("after two logins the account was rehashed %d times (%+v), want once, from argon2id", len(rehashed), rehashed)
	}
	if p, _, _, err := argon2id.DecodeHash(u.PasswordHash()); err != nil || *p != present {
		t.Errorf("the hash holds %+v, %v; want the present parameters %+v", p, err, present)
	}
	if _, err := cmds.Login.Handle(ctx, commands.Login{Username: "alice", Password: "wrong"}); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Errorf("a wrong password after the rehash: %v", err)
	}
}
