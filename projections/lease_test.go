package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/faults"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
	"inkwell/testkit"
)

// gated is a projection whose Apply, once the gate is shut, stops inside
// its transaction (having locked the checkpoint) and stays there, deaf to
// its context, until the gate opens: a process paused in the middle of a
// batch.
type gated struct {
	projections.Projection
	mu       sync.Mutex
	shut     bool
	open     chan struct{}
	stopped  chan struct{} // closed when an Apply stops at the shut gate
	stopOnce sync.Once
}

func newGated(p projections.Projection) *gated {
	return &gated{Projection: p, open: make(chan struct{}), stopped: make(chan struct{})}
}

// openGate lets a stopped Apply go on (failing) and later ones apply.
func (g *gated) openGate() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		g.shut = false
		close(g.open)
	}
}

func (g *gated) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	g.mu.Lock()
	shut := g.shut
	g.mu.Unlock()
	if shut {
		g.stopOnce.Do(func() { close(g.stopped) })
		<-g.open
		return fmt.Errorf("the gate was shut")
	}
	return g.Projection.Apply(ctx, tx, recs)
}

func (g *gated) shutGate() {
	g.mu.Lock()
	g.shut = true
	g.mu.Unlock()
}

// start runs a runner of p on db and store until the test ends, logging as
// instance.
func start(t *testing.T, instance string, db *projections.DB, store *eventstore.Store, p projections.Projection) *projections.Runner {
	r := projections.NewRunner(db, store, p, testLogger(t, instance))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// A process that holds a projection's lease and stops without its
// connections closing (paused by SIGSTOP, partitioned, frozen), in the
// middle of a batch whose transaction locked the checkpoint, must not
// stall the read model for as long as it is stopped: PostgreSQL ends its
// idle lease session and its idle transaction, another process takes the
// lease over and applies what follows, and when the stopped one comes
// back nothing is applied twice.
func TestStoppedLeaseHolderIsTakenOver(t *testing.T) {
	t.Parallel()
	_, url := projectionstest.MustOpenPostgresURL(t)
	ctx := context.Background()
	proxy, proxied := faults.ProxyURL(t, url)
	dbA, dbB := projectionstest.MustOpenURL(t, proxied), projectionstest.MustOpenURL(t, url)
	store := eventstoretest.MustOpen(t)
	projectionstest.MustEnsure(t, dbB, articles.ReadModel{})

	g := newGated(articles.ReadModel{})
	a := start(t, "a", dbA, store, g)
	// Cleanups run last first: a's comes back before the test waits for
	// its runner to stop.
	t.Cleanup(g.openGate)
	t.Cleanup(proxy.Thaw)
	testkit.WaitFor(t, time.Minute, "instance a to apply the projection", a.Leading)
	b := start(t, "b", dbB, store, articles.ReadModel{})

	author := "01900000-0000-7000-8000-000000000001"
	first := appendArticle(t, store, "01900000-0000-7000-8000-0000000000a1", author, "first")
	waitApplied(t, a, first.Seq)
	g.shutGate()
	second := appendArticle(t, store, "01900000-0000-7000-8000-0000000000a2", author, "second")
	<-g.stopped // a's transaction is open, the checkpoint locked
	proxy.Freeze()
	stopped := time.Now()
	third := appendArticle(t, store, "01900000-0000-7000-8000-0000000000a3", author, "third")

	testkit.WaitFor(t, 2*time.Minute, "instance b to take the lease over and apply the events after the stop", func() bool {
		cp, _ := b.Checkpoint()
		return b.Leading() && cp >= third.Seq
	})
	t.Logf("b applied the log %v after a stopped (bound: about %v)", time.Since(stopped).Round(time.Millisecond), 2*5*time.Second)

	// a comes back: its lease and its transaction are gone, and nothing
	// it had begun is applied twice.
	proxy.Thaw()
	g.openGate()
	testkit.WaitFor(t, time.Minute, "instance a to see it no longer applies the projection", func() bool { return !a.Leading() })
	if got := strings.Join(articleSlugs(t, dbB), ","); got != "first,second,third" {
		t.Fatalf("read model holds %s, want first,second,third", got)
	}
	st, err := dbB.State(ctx, "articles")
	if err != nil || st.Checkpoint != third.Seq {
		t.Fatalf("checkpoint %d (%v), want %d", st.Checkpoint, err, third.Seq)
	}
	_ = second
}

// A process that applies a projection but can no longer read the log
// (its NATS connection frozen, its database fine) gives its lease up, so
// that an instance that can read the log applies it; it does not take it
// back while the log does not answer it.
func TestLeaseHolderCutOffFromTheLogGivesItUp(t *testing.T) {
	t.Parallel()
	_, url := projectionstest.MustOpenPostgresURL(t)
	dbA, dbB := projectionstest.MustOpenURL(t, url), projectionstest.MustOpenURL(t, url)

	addr, token := eventstoretest.MustStartListening(t)
	proxy := faults.StartProxy(t, addr)
	master := eventstoretest.NewMasterKey(t)
	storeA := eventstoretest.MustOpenWithMaster(t, eventstoretest.MustConnect(t, "nats://"+proxy.Addr(), nats.Token(token)), eventstore.Config{}, master)
	storeB := eventstoretest.MustOpenWithMaster(t, eventstoretest.MustConnect(t, "nats://"+addr, nats.Token(token)), eventstore.Config{}, master)
	projectionstest.MustEnsure(t, dbB, articles.ReadModel{})

	a := start(t, "a", dbA, storeA, articles.ReadModel{})
	t.Cleanup(proxy.Thaw) // before the test waits for a's runner to stop
	testkit.WaitFor(t, time.Minute, "instance a to apply the projection", a.Leading)
	b := start(t, "b", dbB, storeB, articles.ReadModel{})

	author := "01900000-0000-7000-8000-000000000001"
	first := appendArticle(t, storeB, "01900000-0000-7000-8000-0000000000b1", author, "first")
	waitApplied(t, a, first.Seq)
	proxy.Freeze()
	cut := time.Now()
	second := appendArticle(t, storeB, "01900000-0000-7000-8000-0000000000b2", author, "second")
	testkit.WaitFor(t, 2*time.Minute, "instance b to take the lease over and apply the log", func() bool {
		cp, _ := b.Checkpoint()
		return b.Leading() && cp >= second.Seq
	})
	t.Logf("b applied the log %v after a was cut off from it", time.Since(cut).Round(time.Millisecond))
	if a.Leading() {
		t.Fatal("instance a, cut off from the log, still believes it applies the projection")
	}
	if got := strings.Join(articleSlugs(t, dbB), ","); got != "first,second" {
		t.Fatalf("read model holds %s, want first,second", got)
	}
	proxy.Thaw()
}

// An instance whose writes cannot become readable in time (a wait for the
// read model gave up: the write was answered 202) is not ready until the
// read model shows them, whichever process applies it and whatever that
// one reports.
func TestNotReadyWhileAWriteWaitedInVain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := eventstoretest.MustOpen(t)
	db := projectionstest.MustOpenSQLite(t)
	g := newGated(articles.ReadModel{})
	set := projectionstest.StartLive(t, db, store, g)
	t.Cleanup(g.openGate) // before the test waits for the runner to stop
	author := "01900000-0000-7000-8000-000000000001"
	first := appendArticle(t, store, "01900000-0000-7000-8000-0000000000c1", author, "first")
	waitApplied(t, set.Runners()[0], first.Seq)
	testkit.WaitFor(t, time.Minute, "the projection to be ready", func() bool { return set.Ready(ctx, "articles") == nil })

	g.shutGate()
	second := appendArticle(t, store, "01900000-0000-7000-8000-0000000000c2", author, "second")
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := set.WaitFor(wctx, domain.AggregateArticle, second.Seq); err == nil {
		t.Fatal("the wait for a write the read model cannot apply succeeded")
	}
	err := set.Ready(ctx, "articles")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(second.Seq)) {
		t.Fatalf("readiness after a write waited in vain: %v, want it not ready, naming log sequence %d", err, second.Seq)
	}
	t.Logf("readiness: %v", err)
}

func waitApplied(t *testing.T, r *projections.Runner, seq uint64) {
	t.Helper()
	testkit.WaitFor(t, time.Minute, fmt.Sprintf("%s to apply %d", r.Projection().Name(), seq), func() bool {
		cp, _ := r.Checkpoint()
		return cp >= seq
	})
}

// testLogger logs to the test's log, each line marked with the instance.
func testLogger(t *testing.T, instance string) *slog.Logger {
	return slog.New(slog.NewTextHandler(testkit.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelInfo})).With("instance", instance)
}
