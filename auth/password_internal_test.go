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
