package auth_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"inkwell/auth"
	"inkwell/testkit"
)

// memKeys is a KeyStore in memory.
type memKeys struct {
	mu      sync.Mutex
	entries map[string][]byte
}

func (m *memKeys) All(context.Context) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, v := range m.entries {
		out = append(out, v)
	}
	return out, nil
}

func (m *memKeys) Create(_ context.Context, key string, value []byte) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.entries == nil {
		m.entries = map[string][]byte{}
	}
	if _, ok := m.entries[key]; ok {
		return 0, false, nil
	}
	m.entries[key] = value
	return uint64(len(m.entries)), true, nil
}

func (m *memKeys) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.entries, key)
	m.mu.Unlock()
	return nil
}

func (m *memKeys) Watch(ctx context.Context) (<-chan struct{}, error) {
	ch := make(chan struct{})
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func newMaster(t *testing.T) *auth.MasterKey {
	t.Helper()
	m, generated, err := auth.LoadOrGenerateMasterKey(filepath.Join(t.TempDir(), auth.MasterKeyFile), true)
	if err != nil || !generated {
		t.Fatalf("master key: generated %t, %v", generated, err)
	}
	return m
}

// A rotation: the new key is published at once and signs from its time
// on; tokens of the old key verify until the longest token lifetime after
// the new one began to sign, then the old key retires and goes from the
// store at the next rotation.
func TestKeySetRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testkit.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	const lifetime = 7 * 24 * time.Hour
	store, master := &memKeys{}, newMaster(t)
	set := auth.NewKeySet(clock.Now, lifetime)
	ring, err := auth.OpenKeyring(ctx, store, master, set, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	first := set.SigningKey()
	if first == nil || len(store.entries) != 1 {
		t.Fatalf("an empty store got %d keys, signing %v", len(store.entries), first)
	}
	tokens := auth.NewTokens(set, auth.DefaultTokenConfig(), clock.Now)
	old, err := tokens.IssueAccess("u1", "s1", auth.Profile{})
	if err != nil {
		t.Fatal(err)
	}

	next, _, err := ring.Rotate(ctx, clock.Now().Add(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if set.SigningKey().KID != first.KID || !strings.Contains(string(set.JWKS()), next.KID) {
		t.Fatalf("before its time the new key signs (%s) or is not published: %s", set.SigningKey().KID, set.JWKS())
	}
	clock.Add(10 * time.Second)
	if set.SigningKey().KID != next.KID {
		t.Fatalf("signing with %s, want the new %s", set.SigningKey().KID, next.KID)
	}
	fresh, _ := tokens.IssueAccess("u1", "s1", auth.Profile{})
	for name, tok := range map[string]string{"old": old.Token, "new": fresh.Token} {
		if _, err := tokens.Parse(tok, auth.TypeAccess); err != nil && !isExpired(err) {
			t.Fatalf("a token of the %s key: %v", name, err)
		}
	}
	states := set.States()
	if len(states) != 2 || states[0].State != "verifying" || !states[0].RetiresAt.Equal(next.SigningFrom.Add(lifetime)) {
		t.Fatalf("states %+v", states)
	}

	clock.Add(lifetime)
	if set.PublicKey(first.KID) != nil || strings.Contains(string(set.JWKS()), first.KID) {
		t.Fatal("a retired key still verifies or is published")
	}
	if _, retired, err := ring.Rotate(ctx, clock.Now()); err != nil || fmt.Sprint(retired) != fmt.Sprint([]string{first.KID}) {
		t.Fatalf("the next rotation retired %v (%v), want %s", retired, err, first.KID)
	}
	if len(store.entries) != 2 {
		t.Fatalf("%d keys stored, want 2", len(store.entries))
	}
}

func isExpired(err error) bool {
	var te *auth.TokenError
	return errors.As(err, &te) && te.Expired()
}

// A key the set does not know yet (stored by another instance a moment
// ago) is looked up in the store before the token is refused.
func TestKeySetLoadsAnUnknownKeyFromTheStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, master := &memKeys{}, newMaster(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := auth.NewKeySet(nil, time.Hour)
	if _, err := auth.OpenKeyring(ctx, store, master, a, nil, log); err != nil {
		t.Fatal(err)
	}
	b := auth.NewKeySet(nil, time.Hour)
	ringB, err := auth.OpenKeyring(ctx, store, master, b, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	e, _, err := ringB.Rotate(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.NewTokens(b, auth.DefaultTokenConfig(), nil).IssueAccess("u1", "s1", auth.Profile{})
	if err != nil || !strings.Contains(tok.Token, ".") {
		t.Fatal(err)
	}
	if _, err := auth.NewTokens(a, auth.DefaultTokenConfig(), nil).Parse(tok.Token, auth.TypeAccess); err != nil {
		t.Fatalf("a token of the key %s that b stored: %v", e.KID, err)
	}
}

// Keys wrapped with another master key are refused clearly, and a master
// key file that is lost is not silently replaced.
func TestKeySetNeedsItsMasterKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := &memKeys{}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := auth.OpenKeyring(ctx, store, newMaster(t), auth.NewKeySet(nil, time.Hour), nil, log); err != nil {
		t.Fatal(err)
	}
	_, err := auth.OpenKeyring(ctx, store, newMaster(t), auth.NewKeySet(nil, time.Hour), nil, log)
	if err == nil || !strings.Contains(err.Error(), "every instance must read the same master key") {
		t.Fatalf("keys of another master key: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "gone.key")
	if _, _, err := auth.LoadOrGenerateMasterKey(missing, false); err == nil || !strings.Contains(err.Error(), "restore it from its backup") {
		t.Fatalf("a lost master key: %v", err)
	}
}

// A watch that goes silent without breaking does not leave an instance on a
// superseded key: Follow reads the set again every ReloadEvery (memKeys's
// watch never signals).
func TestFollowReloadsWhenTheWatchIsSilent(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store, master := &memKeys{}, newMaster(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	set := auth.NewKeySet(nil, time.Hour)
	ring, err := auth.OpenKeyring(ctx, store, master, set, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	ring.ReloadEvery = 10 * time.Millisecond
	go ring.Follow(ctx)
	other, err := auth.OpenKeyring(ctx, store, master, auth.NewKeySet(nil, time.Hour), nil, log)
	if err != nil {
		t.Fatal(err)
	}
	next, _, err := other.Rotate(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, time.Minute, "the instance signing with the key another rotated in", func() bool {
		k := set.SigningKey()
		return k != nil && k.KID == next.KID
	})
}
