package auth

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
)

// After a burst of hashes, once none has run for a second, the hasher has
// the runtime return the memory the hashes freed; not while one runs.
func TestHasherReturnsMemoryAfterABurst(t *testing.T) {
	t.Parallel()
	h := NewHasher(argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 2)
	var returned atomic.Int64
	done := make(chan struct{}, 8)
	h.returnMemory = func() {
		returned.Add(1)
		done <- struct{}{}
	}
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		hash, err := h.Hash(ctx, "a password")
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := h.Verify(ctx, "a password", hash); err != nil || !ok {
			t.Fatalf("verify: %t, %v", ok, err)
		}
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the hasher did not return memory a minute after its last hash")
	}

	// Not while a hash runs (it sets the timer again when it ends).
	before := returned.Load()
	if err := h.acquire(ctx); err != nil {
		t.Fatal(err)
	}
	h.whenIdle()
	if n := returned.Load(); n != before {
		t.Fatalf("memory returned while a hash runs")
	}
	h.release()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("the hasher did not return memory a minute after its last hash")
	}
}

// The number of passes for each memory is OWASP's: its five argon2id
// configurations, and the smaller memory's passes between two of them.
func TestHashParamsFollowOWASP(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		memory    int
		kib, time uint32
		what      string
	}{
		{46 << 20, 46 * 1024, 1, "OWASP: m=46 MiB, t=1"},
		{19 << 20, 19 * 1024, 2, "OWASP: m=19 MiB, t=2"},
		{12 << 20, 12 * 1024, 3, "OWASP: m=12 MiB, t=3"},
		{9 << 20, 9 * 1024, 4, "OWASP: m=9 MiB, t=4"},
		{7 << 20, 7 * 1024, 5, "OWASP: m=7 MiB, t=5"},
		{8 << 20, 8 * 1024, 5, "between 7 and 9 MiB: 7 MiB's passes"},
		{64 << 20, 64 * 1024, 1, "more than 46 MiB: one pass"},
		{1 << 20, 7 * 1024, 5, "less than the least: the least"},
	} {
		p := HashParams(c.memory)
		if p.Memory != c.kib || p.Iterations != c.time || p.Parallelism != 1 || p.SaltLength != 16 || p.KeyLength != 32 {
			t.Errorf("%s: got m=%d KiB t=%d p=%d salt %d key %d", c.what, p.Memory, p.Iterations, p.Parallelism, p.SaltLength, p.KeyLength)
		}
	}
	if p := OWASPParams(); p != HashParams(DefaultHashMemory) || p.Memory != 7*1024 || p.Iterations != 5 {
		t.Errorf("the default parameters are m=%d KiB t=%d, want OWASP's m=7 MiB t=5", p.Memory, p.Iterations)
	}
}

// Hashes made with other parameters, by the library that made Inkwell's
// hashes before (the former default among them), still verify, and the
// hashes of the hasher verify with that library.
func TestHashesOfOtherParametersVerify(t *testing.T) {
	t.Parallel()
	h := NewHasher(argon2id.Params{Memory: 256, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}, 1)
	ctx := context.Background()
	for _, p := range []argon2id.Params{
		{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}, // the default until 7 MiB
		{Memory: 512, Iterations: 3, Parallelism: 2, SaltLength: 8, KeyLength: 16},
		{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32},
	} {
		old, err := argon2id.CreateHash("a password", &p)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			password string
			want     bool
		}{{"a password", true}, {"another password", false}} {
			if ok, err := h.Verify(ctx, c.password, old); err != nil || ok != c.want {
				t.Errorf("m=%d t=%d p=%d, %q: %t, %v; want %t", p.Memory, p.Iterations, p.Parallelism, c.password, ok, err, c.want)
			}
		}
	}
	own, err := h.Hash(ctx, "a password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := argon2id.ComparePasswordAndHash("a password", own); err != nil || !ok {
		t.Errorf("the library does not verify the hasher's hash %s: %t, %v", own, ok, err)
	}
	if p, _, _, err := argon2id.DecodeHash(own); err != nil || *p != h.Params() {
		t.Errorf("the hash %s holds %+v, %v; want %+v", own, p, err, h.Params())
	}
}
