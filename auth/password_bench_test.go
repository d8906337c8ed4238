package auth_test

import (
	"context"
	"testing"

	"inkwell/auth"
)

// BenchmarkHasherVerify checks passwords with the default parameters, as
// many at once as the hasher runs: B/op shows what a check leaves to the
// garbage collector (argon2id's blocks, INKWELL_HASH_MEMORY, allocated
// afresh by each).
func BenchmarkHasherVerify(b *testing.B) {
	h := auth.NewHasher(auth.OWASPParams(), 0)
	hash, err := h.Hash(context.Background(), "a password of the benchmark")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := h.Verify(context.Background(), "a password of the benchmark", hash); err != nil || !ok {
				b.Errorf("verify: %t, %v", ok, err)
			}
		}
	})
}
