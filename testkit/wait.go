package testkit

import (
	"testing"
	"time"
)

// WaitFor polls cond until it holds, failing tb after bound: a deadline a
// working implementation does not reach even on a busy machine, so that a
// broken one fails instead of hanging.
func WaitFor(tb testing.TB, bound time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", bound, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
