package commands_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore/memstore"
	"inkwell/queries"
	"inkwell/testkit"
)

// fakeHasher is a fast, recording PasswordHasher.
type fakeHasher struct {
	verifies atomic.Int64
	emptyVer atomic.Int64
}

func (h *fakeHasher) Hash(_ context.Context, pw string) (string, error) { return "hash:" + pw, nil }

func (h *fakeHasher) Verify(_ context.Context, pw, hash string) (bool, error) {
	h.verifies.Add(1)
	if hash == "" {
		h.emptyVer.Add(1)
		return false, nil
	}
	return hash == "hash:"+pw, nil
}

type fixture struct {
	store  *memstore.Store
	hasher *fakeHasher
	clock  *testkit.Clock
	cmds   *commands.Handlers
	// queries read the same log (the state commands leave behind).
	queries *queries.Queries
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: memstore.New(), hasher: &fakeHasher{}, clock: testkit.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))}
	f.cmds = commands.New(commands.Deps{Store: f.store, Hasher: f.hasher, Now: f.clock.Now, ClaimGrace: time.Minute})
	f.queries = queries.New(queries.Deps{Store: f.store})
	return f
}

// rebuild folds the events of stream id in s into a new aggregate, and
// returns it with the events.
func rebuild[T any, A interface {
	*T
	Apply(domain.Record)
}](t *testing.T, s commands.EventStore, id domain.StreamID) (A, []domain.Record) {
	t.Helper()
	recs, _, err := s.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	a := A(new(T))
	for _, r := range recs {
		a.Apply(r)
	}
	return a, recs
}

// login logs in as cmd says and returns the user logged in.
func (f *fixture) login(cmd commands.Login) (*domain.User, error) {
	s, err := f.cmds.Login.Handle(context.Background(), cmd)
	if err != nil {
		return nil, err
	}
	return s.User, nil
}

func (f *fixture) register(username, email string) (commands.Result, error) {
	return f.cmds.Register.Handle(context.Background(), commands.Register{
		User:     domain.NewUser{Username: username, Email: email},
		Password: "password-" + username,
	})
}

// mustRegister registers an account, failing the test if it cannot.
func (f *fixture) mustRegister(t *testing.T, username, email string) commands.Result {
	t.Helper()
	res, err := f.register(username, email)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) head(t *testing.T) uint64 {
	t.Helper()
	h, err := f.store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRegisterUniqueness(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	if _, err := f.register("JohnDoe", "john@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.register("johndoe", "other@example.com"); !errors.Is(err, commands.ErrUsernameTaken) {
		t.Fatalf("same username in another case: %v", err)
	}
	if _, err := f.register("jane", "JOHN@example.com"); !errors.Is(err, commands.ErrEmailTaken) {
		t.Fatalf("same email in another case: %v", err)
	}
	// The failed registration gave its username claim back.
	if _, err := f.register("jane", "jane@example.com"); err != nil {
		t.Fatalf("username of a failed registration stayed taken: %v", err)
	}
}

func TestRegisterInvalidAppendsNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	before := f.head(t)
	_, err := f.cmds.Register.Handle(context.Background(), commands.Register{
		User: domain.NewUser{Username: "bad name", Email: "nope"}, Password: "short",
	})
	if domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("got %v", err)
	}
	for _, field := range []string{"username", "email", "password"} {
		if domain.ErrorFields(err)[field] == "" {
			t.Errorf("error does not name %s: %v", field, err)
		}
	}
	if after := f.head(t); after != before {
		t.Fatalf("an invalid registration appended %d events", after-before)
	}
}

func TestRegisterRaceHasOneWinner(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	const n = 30
	var wg sync.WaitGroup
	var ok, taken atomic.Int64
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := f.register("racer", fmt.Sprintf("racer%d@example.com", i))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, commands.ErrUsernameTaken):
				taken.Add(1)
			default:
				t.Errorf("unexpected: %v", err)
			}
		}(i)
	}
	wg.Wait()
	if ok.Load() != 1 || taken.Load() != n-1 {
		t.Fatalf("%d registered, %d refused; want 1 and %d", ok.Load(), taken.Load(), n-1)
	}
}

// A process that claimed a username and died before recording the account
// leaves a claim whose owner never appears.
func TestAbandonedClaimIsReclaimedAfterGrace(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	ghost := domain.UserStream("0190f3f5-0000-7000-8000-00000000dead")
	claim := domain.ClaimStream(domain.ClaimUsername, "ghost")
	if _, err := f.store.Append(ctx, claim, domain.Position{}, domain.Meta{},
		&domain.ClaimTaken{Owner: domain.StreamIDJSON(ghost), TakenAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}

	f.clock.Add(10 * time.Second) // within the grace: presumed in flight
	if _, err := f.register("ghost", "ghost@example.com"); !errors.Is(err, commands.ErrUsernameTaken) {
		t.Fatalf("within the grace period: %v", err)
	}

	f.clock.Add(2 * time.Minute)
	res, err := f.register("ghost", "ghost@example.com")
	if err != nil {
		t.Fatalf("after the grace period: %v", err)
	}
	// The dead registration's id is fenced off for good.
	recs, _, err := f.store.Load(ctx, ghost)
	if err != nil || len(recs) != 1 || recs[0].Type != "aggregate.creation_abandoned" {
		t.Fatalf("ghost stream %+v, %v", recs, err)
	}
	if _, err := f.store.Append(ctx, ghost, domain.Position{}, domain.Meta{}, &domain.UserRegistered{UserID: ghost.ID}); !errors.Is(err, domain.ErrConcurrentChange) {
		t.Fatalf("a late registration of the fenced id was accepted: %v", err)
	}
	u, err := f.queries.CurrentUser.Handle(ctx, res.ID)
	if err != nil || u.Username() != "ghost" {
		t.Fatalf("new owner: %v, %v", u, err)
	}
}

func TestClaimOfDisabledUserStaysTaken(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	res := f.mustRegister(t, "kept", "kept@example.com")
	if _, err := f.store.Append(ctx, domain.UserStream(res.ID), domain.Position{Seq: res.Seq, Version: 1}, domain.Meta{}, &domain.UserDisabled{}); err != nil {
		t.Fatal(err)
	}
	f.clock.Add(time.Hour)
	if _, err := f.register("kept", "other@example.com"); !errors.Is(err, commands.ErrUsernameTaken) {
		t.Fatalf("username of a disabled account: %v", err)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	res := f.mustRegister(t, "johndoe", "john@example.com")
	login := func(u, p string) (*domain.User, error) { return f.login(commands.Login{Username: u, Password: p}) }
	if u, err := login("johndoe", "password-johndoe"); err != nil || u.ID() != res.ID {
		t.Fatalf("right password: %v, %v", u, err)
	}
	if u, err := login("JOHNDOE", "password-johndoe"); err != nil || u.ID() != res.ID {
		t.Fatalf("username in another case: %v, %v", u, err)
	}
	if _, err := login("johndoe", "wrong"); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	before := f.hasher.emptyVer.Load()
	if _, err := login("nobody", "whatever"); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := login(strings.Repeat("x", 5000), "whatever"); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("absurd username: %v", err)
	}
	if f.hasher.emptyVer.Load()-before != 2 {
		t.Fatal("an unknown user did not cost a password check")
	}
	if _, err := f.store.Append(ctx, domain.UserStream(res.ID), domain.Position{Seq: res.Seq, Version: 1}, domain.Meta{}, &domain.UserDisabled{}); err != nil {
		t.Fatal(err)
	}
	if _, err := login("johndoe", "password-johndoe"); !errors.Is(err, domain.ErrAccountDisabled) {
		t.Fatalf("disabled account: %v", err)
	}
	if _, err := login("johndoe", "wrong"); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("disabled account, wrong password: %v", err)
	}
	if _, err := f.queries.CurrentUser.Handle(ctx, res.ID); !errors.Is(err, domain.ErrAccountDisabled) {
		t.Fatalf("current user of a disabled account: %v", err)
	}
}

// The Conduit surface logs in by email: found by its claim, in any case,
// with the same answer as a username's for a wrong password or an unknown
// address, and the same cost.
func TestLoginByEmail(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	res := f.mustRegister(t, "johndoe", "john@example.com")
	login := func(email, p string) (*domain.User, error) { return f.login(commands.Login{Email: email, Password: p}) }
	for _, email := range []string{"john@example.com", "John@Example.COM", " john@example.com "} {
		if u, err := login(email, "password-johndoe"); err != nil || u.ID() != res.ID {
			t.Fatalf("%q: %v, %v", email, u, err)
		}
	}
	before := f.hasher.emptyVer.Load()
	for _, email := range []string{"nobody@example.com", "johndoe", strings.Repeat("x", 5000), ""} {
		if _, err := login(email, "password-johndoe"); !errors.Is(err, commands.ErrInvalidCredentials) {
			t.Fatalf("%.20q: %v", email, err)
		}
	}
	if f.hasher.emptyVer.Load()-before != 4 {
		t.Fatal("an unknown email did not cost a password check")
	}
	if _, err := login("john@example.com", "wrong"); !errors.Is(err, commands.ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
}

func TestCurrentUserOfUnknownIDs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, id := range []string{"", "not-a-uuid", "../../etc/passwd", "0190f3f5-0000-7000-8000-000000000000"} {
		if _, err := f.queries.CurrentUser.Handle(context.Background(), id); !errors.Is(err, domain.ErrNoSuchAccount) {
			t.Errorf("CurrentUser(%q): %v", id, err)
		}
	}
}
