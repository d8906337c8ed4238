package projections_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/personal"
	"inkwell/readmodels/users"
)

// readModels are the projections the tests of rebuilds follow.
var readModels = []projections.Projection{users.ReadModel{}, articles.ReadModel{}}

// allReadModels are every projection Inkwell serves (what inkwell replay
// rebuilds): readModels and the personal-data read model.
var allReadModels = append(readModels[:len(readModels):len(readModels)], personal.ReadModel{})

// writerLimit is how many events startWriter appends at most.
const writerLimit = 2000

// startWriter appends the workload's events, one every millisecond or so
// (a busy blog, not a flood), at most writerLimit of them, until the
// returned function stops it and reports the first failure.
func startWriter(ctx context.Context, app *projectionstest.Appender, w *projectionstest.Workload) func() error {
	stop := make(chan struct{})
	done := make(chan error, 1)
	limit := app.Appended() + writerLimit
	go func() {
		for {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if app.Appended() >= limit {
				// Enough for a rebuild to meet writes: a writer that went on
				// would outpace a rebuild slowed down (the race detector, a
				// busy machine) for ever, and the rebuild would never end.
				<-stop
				done <- nil
				return
			}
			if err := app.Append(ctx, w.Next()); err != nil {
				done <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	return func() error {
		close(stop)
		return <-done
	}
}

// holdUntil returns a rebuild Progress callback that, at its first call
// (after the rebuild's first batch), waits until cond holds, for at most a
// minute: the writes and queries a test runs beside a rebuild then surely
// happen while it is under way, however fast or loaded the machine is.
func holdUntil(cond func() bool) func(projections.RebuildProgress) {
	held := false
	return func(projections.RebuildProgress) {
		if held {
			return
		}
		held = true
		for deadline := time.Now().Add(time.Minute); !cond() && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// startLiveLog opens a log and a database (with open), runs the live
// projections of every read model on them, appends n events of a random
// workload of the given seed and waits until the projections applied them.
func startLiveLog(t *testing.T, open func(testing.TB) *projections.DB, seed uint64, n int) (*eventstore.Store, *projections.DB, *projections.Set, *projectionstest.Appender, *projectionstest.Workload) {
	t.Helper()
	store := eventstoretest.MustOpen(t)
	db := open(t)
	set := projectionstest.StartLive(t, db, store, readModels...)
	app := projectionstest.NewAppender(store)
	w := projectionstest.NewWorkload(seed, projectionstest.RandomMix)
	projectionstest.AppendSteps(t, app, w, n)
	projectionstest.CatchUp(t, set, app)
	return store, db, set, app, w
}

// A rebuild in large batches gives the rows the live runners built from a
// randomized history one small batch at a time.
func TestRebuildEqualsLive(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		store, db, _, app, _ := startLiveLog(t, open, 1, 1200)
		live := projectionstest.Snapshot(t, db, readModels...)
		if n := len(live["articles"]); n < 100 {
			t.Fatalf("only %d articles: the workload is too thin to compare", n)
		}

		// Into a database of its own, in batches of several sizes: across
		// batch boundaries and all in one.
		for _, batch := range []int{97, 10000} {
			other := open(t)
			projectionstest.MustRebuild(t, other, store, batch, readModels...)
			projectionstest.SameRows(t, fmt.Sprint("rebuilt in batches of ", batch), projectionstest.Snapshot(t, other, readModels...), live)
			for _, p := range readModels {
				st, err := other.State(context.Background(), p.Name())
				if err != nil || st.Generation != 2 || st.Version != p.Version() || st.Checkpoint != app.LastFor(p) {
					t.Fatalf("%s state %+v (%v), want generation 2 at checkpoint %d", p.Name(), st, err, app.LastFor(p))
				}
			}
		}
		// In one pass over the log.
		other := open(t)
		pass, err := projections.RebuildAll(context.Background(), other, store, readModels, projections.RebuildOptions{BatchSize: 97})
		if err != nil {
			t.Fatal(err)
		}
		projectionstest.SameRows(t, "rebuilt in one pass", projectionstest.Snapshot(t, other, readModels...), live)
		// A pass goes through the events of every projection it rebuilds:
		// each checkpoint is past its own last event, at most at the end.
		head, err := store.Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range readModels {
			if res := pass.Results[i]; res.Projection != p.Name() || res.Generation != 2 || res.Checkpoint < app.LastFor(p) || res.Checkpoint > head {
				t.Fatalf("one-pass result %+v, want %s in generation 2 at %d to %d", res, p.Name(), app.LastFor(p), head)
			}
		}

		// In place, under the live runners.
		projectionstest.MustRebuild(t, db, store, 500, readModels...)
		projectionstest.SameRows(t, "rebuilt in place", projectionstest.Snapshot(t, db, readModels...), live)
	})
}

// Events appended during a rebuild are neither missed nor applied twice,
// and queries answer throughout.
func TestRebuildWhileWritesContinue(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		store, db, set, app, w := startLiveLog(t, open, 2, 1000)

		stopWriter := startWriter(ctx, app, w)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var queries atomic.Int64
		var queryErr atomic.Value
		for i := 0; i < 2; i++ { // readers
			wg.Add(1)
			go func() {
				defer wg.Done()
				staff := domain.Actor{ID: "staff", Staff: true}
				for {
					select {
					case <-stop:
						return
					default:
					}
					_, err := articles.NewStore(db).ListArticles(ctx, articles.Filter{Viewer: staff, Ordering: "-updated_at", Page: readmodels.Page{Limit: 20}})
					if err == nil {
						_, err = users.NewStore(db).ListUsers(ctx, users.Filter{Page: readmodels.Page{Limit: 20}})
					}
					if err == nil {
						_, err = articles.NewStore(db).ListCategories(ctx, readmodels.Page{Limit: 20})
					}
					if err != nil {
						queryErr.Store(err)
						return
					}
					queries.Add(1)
					time.Sleep(time.Millisecond)
				}
			}()
		}
		before := app.Appended()
		var applied uint64
		overlap := holdUntil(func() bool { return app.Appended()-before >= 20 && queries.Load() >= 20 })
		for _, p := range readModels {
			res, err := projections.Rebuild(ctx, db, store, p, projections.RebuildOptions{BatchSize: 50, Progress: overlap})
			if err != nil {
				close(stop)
				wg.Wait()
				_ = stopWriter()
				t.Fatalf("rebuild %s: %v", p.Name(), err)
			}
			applied += res.Events
		}
		close(stop)
		wg.Wait()
		if err := stopWriter(); err != nil {
			t.Fatal(err)
		}
		if err := queryErr.Load(); err != nil {
			t.Fatalf("a query failed during the rebuild: %v", err)
		}
		if app.Appended()-before < 20 || queries.Load() < 20 {
			t.Fatalf("only %d events appended and %d queries run during the rebuild", app.Appended()-before, queries.Load())
		}
		t.Logf("%d events appended and %d queries answered during the rebuild (%d events applied)", app.Appended()-before, queries.Load(), applied)

		liveOnGeneration2(t, "after a rebuild under writes", open(t), db, store, set, app, w)
		for _, p := range readModels {
			if _, err := db.Exec("SELECT COUNT(*) FROM " + projections.PhysicalTable(p.Tables()[0], 1)); err == nil {
				t.Fatalf("%s: generation 1 was not dropped", p.Name())
			}
		}
		noRebuildsPending(t, db, "%d rebuilds recorded after the swap")
	})
}

// liveOnGeneration2 checks that the live runners continue on the rebuilt
// generation 2: after more writes, db holds what a rebuild into the fresh
// database gives, and each projection's state is generation 2 at its last
// event.
func liveOnGeneration2(t *testing.T, what string, fresh, db *projections.DB, store *eventstore.Store, set *projections.Set, app *projectionstest.Appender, w *projectionstest.Workload) {
	t.Helper()
	projectionstest.AppendSteps(t, app, w, app.Appended()+50)
	projectionstest.CatchUp(t, set, app)
	got := projectionstest.Snapshot(t, db, readModels...)
	projectionstest.MustRebuild(t, fresh, store, 10000, readModels...)
	projectionstest.SameRows(t, what, got, projectionstest.Snapshot(t, fresh, readModels...))
	for _, p := range readModels {
		st, err := db.State(context.Background(), p.Name())
		if err != nil || st.Generation != 2 || st.Checkpoint != app.LastFor(p) {
			t.Fatalf("%s state %+v (%v), want generation 2 at %d", p.Name(), st, err, app.LastFor(p))
		}
	}
}

// cancelled runs a rebuild (run, with the options it must pass on)
// cancelled at its second batch, and checks that it says so and that the
// live rows are still those of live.
func cancelled(t *testing.T, what string, db *projections.DB, live projectionstest.Rows, run func(context.Context, projections.RebuildOptions) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	batches := 0
	err := run(ctx, projections.RebuildOptions{BatchSize: 100, Progress: func(projections.RebuildProgress) {
		if batches++; batches == 2 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled %s returned %v", what, err)
	}
	projectionstest.SameRows(t, "after a cancelled "+what, projectionstest.Snapshot(t, db, readModels...), live)
}

// noRebuildsPending fails unless projection_rebuilds is empty; format
// says so with the count.
func noRebuildsPending(t *testing.T, db *projections.DB, format string) {
	t.Helper()
	var pending int
	if err := db.Get(&pending, "SELECT COUNT(*) FROM projection_rebuilds"); err != nil || pending != 0 {
		t.Fatalf(format+" (%v)", pending, err)
	}
}

// A rebuild of several projections in one pass over the log, under
// concurrent writes and queries, gives row for row what a fresh rebuild of
// each gives, and leaves the live runners following the log.
func TestRebuildAllWhileWritesContinue(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		store, db, set, app, w := startLiveLog(t, open, 5, 1000)

		stopWriter := startWriter(ctx, app, w)
		before := app.Appended()
		var progress []projections.RebuildProgress
		overlap := holdUntil(func() bool { return app.Appended()-before >= 20 })
		pass, err := projections.RebuildAll(ctx, db, store, readModels, projections.RebuildOptions{
			BatchSize: 50,
			Progress:  func(p projections.RebuildProgress) { overlap(p); progress = append(progress, p) },
		})
		if err := stopWriter(); err != nil {
			t.Fatal(err)
		}
		if err != nil {
			t.Fatalf("rebuild: %v", err)
		}
		if app.Appended()-before < 20 {
			t.Fatalf("only %d events appended during the rebuild", app.Appended()-before)
		}
		// The articles read model reads every aggregate users does: the
		// pass applied as many events of the log as it did.
		if pass.Events != pass.Results[1].Events || pass.Results[0].Events >= pass.Events {
			t.Fatalf("pass applied %d events, users %d, articles %d", pass.Events, pass.Results[0].Events, pass.Results[1].Events)
		}
		last := progress[len(progress)-1]
		if len(progress) < 10 || last.Projection != "users+articles" || last.Applied != pass.Events || last.Total != last.Applied {
			t.Fatalf("%d progress reports, the last %+v", len(progress), last)
		}
		t.Logf("%d events appended during the rebuild (%d events applied)", app.Appended()-before, pass.Events)

		liveOnGeneration2(t, "after a one-pass rebuild under writes", open(t), db, store, set, app, w)
		noRebuildsPending(t, db, "%d rebuilds recorded after the swaps")
	})
}

// A rebuild cancelled mid-way, or killed, leaves the live model serving
// with its rows unchanged, and the next rebuild succeeds.
func TestRebuildInterrupted(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		store, db, set, app, _ := startLiveLog(t, open, 3, 800)
		live := projectionstest.Snapshot(t, db, readModels...)

		// Cancelled after its second transaction.
		cancelled(t, "rebuild", db, live, func(ctx context.Context, opts projections.RebuildOptions) error {
			_, err := projections.Rebuild(ctx, db, store, articles.ReadModel{}, opts)
			return err
		})
		if page, err := articles.NewStore(db).ListArticles(ctx, articles.Filter{Page: readmodels.Page{Limit: 5}}); err != nil || page.Count == 0 {
			t.Fatalf("list after a cancelled rebuild: %d, %v", page.Count, err)
		}
		st, err := db.State(ctx, "articles")
		if err != nil || st.Generation != 1 {
			t.Fatalf("state after a cancelled rebuild %+v (%v)", st, err)
		}
		noRebuildsPending(t, db, "a cancelled rebuild left %d rows in projection_rebuilds")
		if _, err := db.Exec("SELECT COUNT(*) FROM " + projections.PhysicalTable("articles", 2)); err == nil {
			t.Fatal("a cancelled rebuild left its tables")
		}

		// A one-pass rebuild of both, cancelled: both new generations go.
		cancelled(t, "one-pass rebuild", db, live, func(ctx context.Context, opts projections.RebuildOptions) error {
			_, err := projections.RebuildAll(ctx, db, store, readModels, opts)
			return err
		})
		for _, p := range readModels {
			if st, err := db.State(ctx, p.Name()); err != nil || st.Generation != 1 {
				t.Fatalf("%s state after a cancelled one-pass rebuild %+v (%v)", p.Name(), st, err)
			}
			if _, err := db.Exec("SELECT COUNT(*) FROM " + projections.PhysicalTable(p.Tables()[0], 2)); err == nil {
				t.Fatalf("a cancelled one-pass rebuild left the tables of %s", p.Name())
			}
		}
		noRebuildsPending(t, db, "a cancelled one-pass rebuild left %d rows in projection_rebuilds")

		// Killed: its generation stays recorded, with rows in it.
		gen, err := projections.StartAbandonedRebuild(ctx, db, articles.ReadModel{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(db.Rebind("INSERT INTO " + projections.PhysicalTable("article_counters", gen) + " (name, value) VALUES ('junk', 42)")); err != nil {
			t.Fatal(err)
		}
		projectionstest.SameRows(t, "beside a killed rebuild", projectionstest.Snapshot(t, db, readModels...), live)

		// Started again: the stale generation is dropped first.
		res, err := projections.Rebuild(ctx, db, store, articles.ReadModel{}, projections.RebuildOptions{BatchSize: 100})
		if err != nil {
			t.Fatal(err)
		}
		if res.Generation != gen {
			t.Fatalf("rebuilt into generation %d, want %d", res.Generation, gen)
		}
		projectionstest.CatchUp(t, set, app)
		projectionstest.SameRows(t, "rebuilt after a killed rebuild", projectionstest.Snapshot(t, db, readModels...), live)
	})
}

// usersV2 is the users projection with its version bumped.
type usersV2 struct{ users.ReadModel }

func (usersV2) Version() int { return users.ReadModel{}.Version() + 1 }

// A projection whose code has a new version is rebuilt at start-up, and
// its runner then follows the log on the new generation.
func TestVersionBumpRebuiltAtStartup(t *testing.T) {
	projectionstest.Dialects(t, func(t *testing.T, open func(testing.TB) *projections.DB) {
		ctx := context.Background()
		store := eventstoretest.MustOpen(t)
		db := open(t)
		app := projectionstest.NewAppender(store)
		w := projectionstest.NewWorkload(4, projectionstest.RandomMix)
		{
			ctx, cancel := context.WithCancel(ctx)
			set := projections.NewSet(db, store, nil, readModels...)
			if err := set.Start(ctx); err != nil {
				t.Fatal(err)
			}
			projectionstest.AppendSteps(t, app, w, 800)
			projectionstest.CatchUp(t, set, app)
			cancel()
			set.Wait()
		}
		v1 := projectionstest.Snapshot(t, db, readModels...)
		if _, err := projections.ApplyBatch(ctx, db, usersV2{}, nil, time.Now()); !errors.As(err, new(*projections.ErrNeedsRebuild)) {
			t.Fatalf("applying with a new version: %v, want ErrNeedsRebuild", err)
		}

		set := projectionstest.StartLive(t, db, store, usersV2{}, articles.ReadModel{})
		projectionstest.CatchUp(t, set, app)
		st, err := db.State(ctx, "users")
		if err != nil || st.Version != (usersV2{}).Version() || st.Generation != 2 {
			t.Fatalf("users state after start-up %+v (%v), want version %d in generation 2", st, err, (usersV2{}).Version())
		}
		if st, _ := db.State(ctx, "articles"); st.Generation != 1 {
			t.Fatalf("articles (same version) was rebuilt: %+v", st)
		}
		projectionstest.SameRows(t, "after the automatic rebuild", projectionstest.Snapshot(t, db, readModels...), v1)

		projectionstest.AppendSteps(t, app, w, app.Appended()+100)
		projectionstest.CatchUp(t, set, app)
		fresh := open(t)
		projectionstest.MustRebuild(t, fresh, store, 10000, usersV2{}, articles.ReadModel{})
		projectionstest.SameRows(t, "following the log after the rebuild", projectionstest.Snapshot(t, db, readModels...), projectionstest.Snapshot(t, fresh, readModels...))
		for _, name := range []string{"users", "articles"} {
			if err := set.Ready(ctx, name); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
}
