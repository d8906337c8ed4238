package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"inkwell/auth"
	"inkwell/domain"
)

func TestKeysAreGeneratedOnceAndPrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, generated, err := auth.LoadOrGenerateKeys(dir)
	if err != nil || !generated {
		t.Fatalf("first start: %v, generated=%v", err, generated)
	}
	st, err := os.Stat(filepath.Join(dir, auth.PrivateKeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key file mode %v (%v)", st.Mode().Perm(), err)
	}
	if k1.Private.N.BitLen() < 2048 {
		t.Fatalf("a %d-bit key", k1.Private.N.BitLen())
	}
	k2, generated, err := auth.LoadOrGenerateKeys(dir)
	if err != nil || generated || k2.KID != k1.KID {
		t.Fatalf("second start: %v, generated=%v, kid %s vs %s", err, generated, k2.KID, k1.KID)
	}
}

func TestLoadKeysRefusesMismatchesAndSmallKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, _ := rsa.GenerateKey(rand.Reader, 2048)
	b, _ := rsa.GenerateKey(rand.Reader, 2048)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	privA := write("a.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(a))
	pubBDER, _ := x509.MarshalPKIXPublicKey(&b.PublicKey)
	pubB := write("b.pub", "PUBLIC KEY", pubBDER)
	pubADER, _ := x509.MarshalPKIXPublicKey(&a.PublicKey)
	pubA := write("a.pub", "PUBLIC KEY", pubADER)
	if _, err := auth.LoadKeys(privA, pubA); err != nil {
		t.Fatalf("a matching pair: %v", err)
	}
	if _, err := auth.LoadKeys(privA, pubB); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("a mismatched pair: %v", err)
	}
	if _, err := auth.LoadKeys(write("small.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), ""); err == nil {
		t.Fatal("a 1024-bit key was accepted")
	}
}

func TestTokenTypesDoNotMix(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	now := time.Now()
	tk := auth.NewTokens(k, auth.DefaultTokenConfig(), func() time.Time { return now })
	access, _ := tk.IssueAccess("u1", "s1", auth.Profile{Username: "u"})
	refresh, _ := tk.IssueRefresh("u1", "s1", "r1")
	if _, err := tk.Parse(access.Token, auth.TypeAccess); err != nil {
		t.Fatalf("access as access: %v", err)
	}
	if c, err := tk.Parse(refresh.Token, auth.TypeRefresh); err != nil || c.ID != "r1" || c.SessionID != "s1" {
		t.Fatalf("refresh as refresh: %+v %v", c, err)
	}
	var te *auth.TokenError
	if _, err := tk.Parse(refresh.Token, auth.TypeAccess); !errors.As(err, &te) {
		t.Fatalf("refresh as access: %v", err)
	}
	if _, err := tk.Parse(access.Token, auth.TypeRefresh); !errors.As(err, &te) {
		t.Fatalf("access as refresh: %v", err)
	}
	later := auth.NewTokens(k, auth.DefaultTokenConfig(), func() time.Time { return now.Add(16 * time.Minute) })
	if _, err := later.Parse(access.Token, auth.TypeAccess); !errors.As(err, &te) || !te.Expired() {
		t.Fatalf("an access token after 16 minutes: %v", err)
	}
	if _, err := tk.Parse(strings.Repeat("a", auth.MaxTokenLen+1), auth.TypeAccess); !errors.As(err, &te) {
		t.Fatalf("an over-long token: %v", err)
	}
}

// A token verified once is not verified again, but it still expires: the
// same verifier refuses it once its clock passes the expiry (and the
// leeway), and still refuses it as the other kind.
func TestVerifiedTokensStillExpire(t *testing.T) {
	t.Parallel()
	k := newKeys(t)
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg := auth.DefaultTokenConfig()
	tk := auth.NewTokens(k, cfg, clock)
	access, _ := tk.IssueAccess("u1", "s1", auth.Profile{Username: "u"})
	for range 3 {
		if c, err := tk.Parse(access.Token, auth.TypeAccess); err != nil || c.Subject != "u1" {
			t.Fatalf("a fresh token: %+v %v", c, err)
		}
	}
	var te *auth.TokenError
	if _, err := tk.Parse(access.Token, auth.TypeRefresh); !errors.As(err, &te) {
		t.Fatalf("an access token, verified as access, taken as refresh: %v", err)
	}
	mu.Lock()
	now = access.Claims.ExpiresAt.Add(cfg.Leeway + time.Second)
	mu.Unlock()
	if _, err := tk.Parse(access.Token, auth.TypeAccess); !errors.As(err, &te) || !te.Expired() {
		t.Fatalf("a verified token past its expiry: %v", err)
	}
}

func TestHasherShedsBeyondItsQueue(t *testing.T) {
	t.Parallel()
	h := auth.NewHasher(argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 1)
	h.MaxQueue = 2
	hash, err := h.Hash(context.Background(), "password1")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Verify(context.Background(), "password1", hash); !ok || err != nil {
		t.Fatalf("verify: %v %v", ok, err)
	}
	if ok, _ := h.Verify(context.Background(), "password1", ""); ok {
		t.Fatal("an empty hash verified")
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	busy := 0
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Verify(context.Background(), "password1", hash)
			if domain.ErrorCode(err) == domain.EUNAVAILABLE {
				mu.Lock()
				busy++
				mu.Unlock()
			} else if err != nil {
				t.Errorf("verify: %v", err)
			}
		}()
	}
	wg.Wait()
	if busy == 0 {
		t.Fatal("30 checks at once on one slot with a queue of 2: none was shed")
	}
}

// newKeys generates signing keys in a directory of the test's.
func newKeys(t *testing.T) *auth.Keys {
	t.Helper()
	k, _, err := auth.LoadOrGenerateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return k
}
