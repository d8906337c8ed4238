package api

import (
	"context"
	"encoding/json"
	"inkwell/testkit"
	"sync"
	"testing"
	"time"
)

func TestFailureThrottleBlocksAfterTheFreeFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	th := &failureThrottle{store: newMemoryThrottles(c.Now), kind: "login", free: 2, maxBlock: 3 * time.Second, now: c.Now}
	blocked := func() time.Duration {
		t.Helper()
		d, _, err := th.blocked(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for i := 0; i < 2; i++ {
		if err := th.fail(ctx, "k"); err != nil || blocked() != 0 {
			t.Fatalf("free failure %d blocks for %v (%v)", i+1, blocked(), err)
		}
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second} {
		if err := th.fail(ctx, "k"); err != nil || blocked() != want {
			t.Fatalf("failure %d over the free ones blocks for %v, want %v (%v)", i+1, blocked(), want, err)
		}
	}
	if d, counted, _ := th.blocked(ctx, "other"); d != 0 || counted {
		t.Fatalf("another key is blocked for %v", d)
	}
	c.Add(ThrottleForget + time.Second)
	if blocked() != 0 {
		t.Fatal("failures an hour old still block")
	}
	_ = th.fail(ctx, "k")
	_ = th.fail(ctx, "k")
	_ = th.fail(ctx, "k")
	if err := th.reset(ctx, "k"); err != nil || blocked() != 0 {
		t.Fatalf("a reset key blocks for %v (%v)", blocked(), err)
	}
}

// Failures counted at once, as several requests or instances count them,
// are all counted: a counter moved meanwhile is read again.
func TestFailureThrottleCountsConcurrentFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	store := newMemoryThrottles(c.Now)
	th := &failureThrottle{store: store, keyed: newKeyedHash(nil), kind: "login", free: 1000, maxBlock: time.Hour, now: c.Now}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 25 {
				if err := th.fail(ctx, "k"); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var s failureState
	b, _, _, _ := store.Get(ctx, th.keyed.throttleKey("login", "k"))
	if err := json.Unmarshal(b, &s); err != nil || s.Count != 200 {
		t.Fatalf("counted %d of 200 failures (%v)", s.Count, err)
	}
}

func TestRateLimiterRefillsOverTheHour(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	l := &rateLimiter{store: newMemoryThrottles(c.Now), keyed: newKeyedHash(nil), kind: "register", perHour: 3, now: c.Now}
	for i := 0; i < 3; i++ {
		if ok, _, err := l.allow(ctx, "a"); !ok || err != nil {
			t.Fatalf("registration %d of the burst refused (%v)", i+1, err)
		}
	}
	ok, wait, err := l.allow(ctx, "a")
	if ok || err != nil || wait != 20*time.Minute {
		t.Fatalf("over the burst: allowed %t, wait %v (%v); want a wait of 20m", ok, wait, err)
	}
	if ok, _, _ := l.allow(ctx, "b"); !ok {
		t.Fatal("another address is refused")
	}
	c.Add(20 * time.Minute)
	if ok, _, _ := l.allow(ctx, "a"); !ok {
		t.Fatal("refused after the wait it was given")
	}
	if ok, _, _ := l.allow(ctx, "a"); ok {
		t.Fatal("one token refilled, two taken")
	}
}

// deletesCounted counts the deletes of a throttle store.
type deletesCounted struct {
	*memoryThrottles
	deletes int
}

func (d *deletesCounted) Delete(ctx context.Context, key string) error {
	d.deletes++
	return d.memoryThrottles.Delete(ctx, key)
}

// A right guess forgets the failures counted before it, and writes nothing
// when there were none (a login costs the store no write).
func TestRightGuessForgetsOnlyWhatWasCounted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	store := &deletesCounted{memoryThrottles: newMemoryThrottles(c.Now)}
	th := &failureThrottle{store: store, kind: "login", free: 5, maxBlock: time.Minute, now: c.Now}
	g := guess{{t: th, key: "pair", isReset: true}}
	if _, err := g.blocked(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.succeeded(ctx); err != nil || store.deletes != 0 {
		t.Fatalf("a right guess without failures deleted %d counters (%v)", store.deletes, err)
	}
	if err := g.failed(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.blocked(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.succeeded(ctx); err != nil || store.deletes != 1 {
		t.Fatalf("a right guess after a failure deleted %d counters (%v)", store.deletes, err)
	}
	if _, counted, _ := th.blocked(ctx, "pair"); counted {
		t.Fatal("the failure is still counted")
	}
}
