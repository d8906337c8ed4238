package auth_test

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"inkwell/auth"
	"inkwell/testkit"
)

// A token is never valid past the key that signed it: an instance that
// verified a token (and remembers it, so as not to verify it at every
// request) refuses it once its key has retired, and once the key is gone
// from the set, exactly as an instance that never saw it. Here the token
// lives longer than the key (its lifetime is an access TTL above the key's
// retirement, a setting the server now refuses at start: see
// TestTokenLifetimeLongerThanItsTypeIsRefused for tokens that claim more).
func TestTokenOfARetiredKeyIsForgotten(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := testkit.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	const retireAfter = time.Minute
	cfg := auth.DefaultTokenConfig()
	cfg.AccessTTL, cfg.RefreshTTL = time.Hour, retireAfter
	store, master := &memKeys{}, newMaster(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Two instances on one key store: a issues, b verifies.
	setA := auth.NewKeySet(clock.Now, retireAfter)
	ringA, err := auth.OpenKeyring(ctx, store, master, setA, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	setB := auth.NewKeySet(clock.Now, retireAfter)
	ringB, err := auth.OpenKeyring(ctx, store, master, setB, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	a, b := auth.NewTokens(setA, cfg, clock.Now), auth.NewTokens(setB, cfg, clock.Now)
	tok, err := a.IssueAccess("u1", "s1", auth.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Parse(tok.Token, auth.TypeAccess); err != nil {
		t.Fatalf("instance b refuses a fresh token: %v", err)
	}

	// A rotation a moment later, and the old key's retirement.
	clock.Add(time.Second)
	if _, _, err := ringA.Rotate(ctx, clock.Now()); err != nil {
		t.Fatal(err)
	}
	if err := ringB.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Add(retireAfter + time.Second)
	if _, err := b.Parse(tok.Token, auth.TypeAccess); err == nil {
		t.Fatal("instance b accepts a token whose key has retired, because it verified it before")
	}
	// The next rotation deletes the retired key.
	if _, retired, err := ringA.Rotate(ctx, clock.Now()); err != nil || len(retired) != 1 {
		t.Fatalf("the next rotation retired %v (%v)", retired, err)
	}
	if err := ringB.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Parse(tok.Token, auth.TypeAccess); err == nil {
		t.Fatal("instance b accepts a token whose key is deleted")
	}
}

// A token whose lifetime (exp - iat) is longer than the server gives a
// token of its type is refused, whoever signed it: it would outlive the
// retirement of its key.
func TestTokenLifetimeLongerThanItsTypeIsRefused(t *testing.T) {
	t.Parallel()
	keys := newKeys(t)
	cfg := auth.DefaultTokenConfig()
	long := auth.NewTokens(keys, auth.TokenConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, AccessTTL: 2 * cfg.AccessTTL, RefreshTTL: cfg.RefreshTTL, Leeway: cfg.Leeway}, nil)
	tok, err := long.IssueAccess("u1", "s1", auth.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth.NewTokens(keys, cfg, nil).Parse(tok.Token, auth.TypeAccess); err == nil || !strings.Contains(err.Error(), "lifetime") {
		t.Fatalf("a token living twice the access lifetime: %v, want refused for its lifetime", err)
	}
}

// A token whose header names critical extensions (crit) is refused: RFC
// 7515 (4.1.11) requires it of a verifier that does not implement them,
// and Inkwell implements none.
func TestTokenWithCriticalHeaderIsRefused(t *testing.T) {
	t.Parallel()
	keys := newKeys(t)
	cfg := auth.DefaultTokenConfig()
	now := time.Now().Truncate(time.Second)
	claims := auth.Claims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: cfg.Issuer, Subject: "u1", Audience: jwt.ClaimStrings{cfg.Audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)), ID: "j1"},
		Type: auth.TypeAccess, SessionID: "s1",
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"], tok.Header["typ"], tok.Header["crit"] = keys.KID, "at+jwt", []string{"exp"}
	signed, err := tok.SignedString(keys.Private)
	if err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(signed, ".")
	if h, _ := base64.RawURLEncoding.DecodeString(header); !strings.Contains(string(h), `"crit"`) {
		t.Fatalf("the header lost its crit: %s", h)
	}
	if _, err := auth.NewTokens(keys, cfg, nil).Parse(signed, auth.TypeAccess); err == nil {
		t.Fatal("a token with a crit header is accepted")
	}
}
