package reactors_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/reactors"
	"inkwell/testkit"
)

// recorder is a reactor that remembers what it handled and fails or panics
// on the events it is told to.
type recorder struct {
	name    string
	mu      sync.Mutex
	handled []uint64
	calls   map[uint64]int
	failOn  map[uint64]bool
	panicOn map[uint64]bool
	// unavailableFor fails an event's first calls for want of a
	// dependency (a *domain.UnavailableError).
	unavailableFor map[uint64]int
	// cutShortFor fails an event's first calls as a handling whose
	// context ended (the process stopping).
	cutShortFor map[uint64]int
}

func (r *recorder) Name() string             { return r.name }
func (r *recorder) AggregateTypes() []string { return []string{domain.AggregateClaim} }
func (r *recorder) Handle(_ context.Context, rec domain.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.calls == nil {
		r.calls = map[uint64]int{}
	}
	r.calls[rec.Seq]++
	if r.panicOn[rec.Seq] {
		panic("boom")
	}
	if r.failOn[rec.Seq] {
		return errors.New("cannot handle this one")
	}
	if r.calls[rec.Seq] <= r.cutShortFor[rec.Seq] {
		return fmt.Errorf("delete article: %w", context.Canceled)
	}
	if r.calls[rec.Seq] <= r.unavailableFor[rec.Seq] {
		return fmt.Errorf("handle: %w", &domain.UnavailableError{Dependency: domain.DependencyEventLog, Err: errors.New("no leader")})
	}
	r.handled = append(r.handled, rec.Seq)
	return nil
}

func (r *recorder) snapshot() ([]uint64, map[uint64]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls := map[uint64]int{}
	for k, v := range r.calls {
		calls[k] = v
	}
	return append([]uint64(nil), r.handled...), calls
}

type counts struct {
	mu                      sync.Mutex
	retries, dead, panicked int
}

func (c *counts) ReactorHandled(_, outcome string) {
	c.mu.Lock()
	if outcome == "panic" {
		c.panicked++
	}
	c.mu.Unlock()
}
func (c *counts) ReactorRetried(string) { c.mu.Lock(); c.retries++; c.mu.Unlock() }
func (c *counts) DeadLettered(string)   { c.mu.Lock(); c.dead++; c.mu.Unlock() }

func appendClaims(t *testing.T, s *eventstore.Store, prefix string, n int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := 0; i < n; i++ {
		recs, err := s.Append(context.Background(), domain.ClaimStream("username", fmt.Sprint(prefix, i)), domain.Position{}, domain.Meta{},
			&domain.ClaimTaken{Owner: domain.StreamIDJSON(domain.UserStream(fmt.Sprint("u", i)))})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, recs[0].Seq)
	}
	return seqs
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline that only a broken implementation reaches.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, 2*time.Minute, what, cond)
}

func deadLetters(t *testing.T, s *eventstore.Store) uint64 {
	t.Helper()
	st, err := s.JetStream().Stream(context.Background(), s.StreamName()+"_DEADLETTER")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// startQuickRetries runs rec on s, retrying a failed event twice, a few
// milliseconds apart, until the test ends; it returns what the router
// counts.
func startQuickRetries(t *testing.T, s *eventstore.Store, rec *recorder) *counts {
	t.Helper()
	obs := &counts{}
	r, err := reactors.Start(context.Background(), s, reactors.Config{MaxRetries: 2, InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, Observer: obs}, rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return obs
}

// A reactor that fails on one event retries it, then sends it to the
// dead-letter stream and goes on with the next events; one that panics does
// not take the process down.
func TestFailuresAreRetriedThenDeadLetteredAndPanicsRecovered(t *testing.T) {
	t.Parallel()
	s := eventstoretest.MustOpen(t)
	seqs := appendClaims(t, s, "a", 5)
	rec := &recorder{name: "recorder", failOn: map[uint64]bool{seqs[1]: true}, panicOn: map[uint64]bool{seqs[3]: true}}
	obs := startQuickRetries(t, s, rec)
	waitFor(t, "the good events", func() bool { h, _ := rec.snapshot(); return len(h) == 3 })
	handled, calls := rec.snapshot()
	if fmt.Sprint(handled) != fmt.Sprint([]uint64{seqs[0], seqs[2], seqs[4]}) {
		t.Fatalf("handled %v, want the events in order without the bad ones", handled)
	}
	if calls[seqs[1]] != 3 || calls[seqs[3]] != 3 {
		t.Fatalf("calls %v: the failing and the panicking events should be tried 1+2 times", calls)
	}
	waitFor(t, "two dead letters", func() bool { return deadLetters(t, s) == 2 })
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.dead != 2 || obs.retries != 4 || obs.panicked != 3 {
		t.Fatalf("observed %d dead letters, %d retries, %d panics", obs.dead, obs.retries, obs.panicked)
	}
}

// An event that fails for want of a dependency (NATS, the data keys'
// bucket, the database: a *domain.UnavailableError) is not given up on: past
// the retries it is delivered again, as often as it takes, and never goes
// to the dead-letter stream; the events after it wait for it.
func TestUnavailableDependencyIsNeverDeadLettered(t *testing.T) {
	t.Parallel()
	s := eventstoretest.MustOpen(t)
	seqs := appendClaims(t, s, "u", 3)
	// MaxRetries 2: three calls a delivery; seven calls take three deliveries.
	rec := &recorder{name: "unavailable", unavailableFor: map[uint64]int{seqs[1]: 7}}
	obs := startQuickRetries(t, s, rec)
	waitFor(t, "every event", func() bool { h, _ := rec.snapshot(); return len(h) == 3 })
	handled, calls := rec.snapshot()
	if fmt.Sprint(handled) != fmt.Sprint(seqs) || calls[seqs[1]] != 8 {
		t.Fatalf("handled %v with %v calls; want %v in order, the second after 7 failed calls", handled, calls, seqs)
	}
	if n := deadLetters(t, s); n != 0 {
		t.Fatalf("%d dead letters, want none", n)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.dead != 0 {
		t.Fatalf("observed %d dead letters", obs.dead)
	}
}

// An event whose handling was cut short (its context cancelled, as when
// the process stops) is handled again, never dead-lettered: nothing about
// the event made it fail.
func TestHandlingCutShortIsNeverDeadLettered(t *testing.T) {
	t.Parallel()
	s := eventstoretest.MustOpen(t)
	seqs := appendClaims(t, s, "c", 2)
	rec := &recorder{name: "cut-short", cutShortFor: map[uint64]int{seqs[0]: 4}}
	startQuickRetries(t, s, rec)
	waitFor(t, "every event", func() bool { h, _ := rec.snapshot(); return len(h) == 2 })
	if handled, _ := rec.snapshot(); fmt.Sprint(handled) != fmt.Sprint(seqs) {
		t.Fatalf("handled %v, want %v in order", handled, seqs)
	}
	if n := deadLetters(t, s); n != 0 {
		t.Fatalf("%d dead letters, want none", n)
	}
}

// The consumer is durable and created up front: a reactor stopped and
// started again goes on where it stopped, and stopping does not delete it.
func TestReactorResumesAfterRestart(t *testing.T) {
	t.Parallel()
	s := eventstoretest.MustOpen(t)
	appendClaims(t, s, "a", 3)
	rec := &recorder{name: "resumer"}
	r, err := reactors.Start(context.Background(), s, reactors.Config{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three events", func() bool { h, _ := rec.snapshot(); return len(h) == 3 })
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JetStream().Consumer(context.Background(), s.StreamName(), reactors.ConsumerName(rec)); err != nil {
		t.Fatalf("the durable consumer is gone after the reactor stopped: %v", err)
	}
	appendClaims(t, s, "b", 2)
	r2, err := reactors.Start(context.Background(), s, reactors.Config{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	waitFor(t, "the new events", func() bool { h, _ := rec.snapshot(); return len(h) == 3+2 })
	_, calls := rec.snapshot()
	for seq, n := range calls {
		if n != 1 {
			t.Fatalf("event %d handled %d times", seq, n)
		}
	}
}

type fakeHasher struct{}

func (fakeHasher) Hash(_ context.Context, pw string) (string, error) { return "h:" + pw, nil }
func (fakeHasher) Verify(_ context.Context, pw, h string) (bool, error) {
	return h == "h:"+pw, nil
}

// crashy applies the user-deletion cascade's command and then "crashes"
// before acknowledging, the first time it sees an event.
type crashy struct {
	cmds    *commands.Handlers
	article string
	author  string
	crashed atomic.Bool
	block   chan struct{}
	calls   atomic.Int64
}

func (c *crashy) Name() string             { return "crashy" }
func (c *crashy) AggregateTypes() []string { return []string{domain.AggregateUser} }
func (c *crashy) Handle(ctx context.Context, rec domain.Record) error {
	c.calls.Add(1)
	if _, err := c.cmds.DeleteAuthorsArticle.Handle(ctx, commands.DeleteAuthorsArticle{ArticleID: c.article, AuthorID: c.author}); err != nil {
		return err
	}
	if !c.crashed.Swap(true) {
		// The effect is recorded, the acknowledgement never comes: the
		// process dies here (the test lets this goroutine go at its end).
		<-c.block
	}
	return nil
}

// Redelivery after a crash does not apply the effect twice.
func TestRedeliveryAfterACrashAppliesOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := eventstoretest.MustOpen(t)
	cmds := commands.New(commands.Deps{Store: s, Hasher: fakeHasher{}})
	author := "0190f3f5-0000-7000-8000-0000000000a1"
	article := "0190f3f5-0000-7000-8000-0000000000b1"
	if _, err := s.Append(ctx, domain.ArticleStream(article), domain.Position{}, domain.Meta{},
		&domain.ArticleCreated{ArticleID: article, Title: "t", Slug: "t", AuthorID: author, Tags: []string{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, domain.UserStream(author), domain.Position{}, domain.Meta{}, &domain.UserDeleted{}); err != nil {
		t.Fatal(err)
	}
	c := &crashy{cmds: cmds, article: article, author: author, block: make(chan struct{})}
	defer close(c.block)
	cfg := reactors.Config{AckWait: time.Second, CloseTimeout: 100 * time.Millisecond}
	r, err := reactors.Start(ctx, s, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first delivery", func() bool { return c.crashed.Load() })
	// The process dies: its router stops while the handler hangs, so the
	// event is never acknowledged.
	_ = r.Close() // gives up on the hanging handler, as a dying process would
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("%d calls before the restart", n)
	}
	r2, err := reactors.Start(ctx, s, cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	waitFor(t, "the redelivery to the restarted reactor", func() bool { return c.calls.Load() == 2 })
	recs, _, err := s.Load(ctx, domain.ArticleStream(article))
	if err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, rec := range recs {
		if rec.Type == "article.deleted" {
			deleted++
		}
	}
	if deleted != 1 {
		t.Fatalf("the article was deleted %d times", deleted)
	}
}
