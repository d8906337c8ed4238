package projections_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"inkwell/auth"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/testkit"
)

// The log the rebuild benchmarks replay is built once per process (it takes
// a while), on an embedded NATS server that lives until TestMain ends.
var benchLog struct {
	once   sync.Once
	store  *eventstore.Store
	events int
	types  map[string]int
	took   time.Duration
	err    error
	dir    string
	server *server.Server
	// master wraps the log's data keys (BenchmarkBackupRestore opens a
	// restored copy with it).
	master *auth.MasterKey
}

func TestMain(m *testing.M) {
	code := testkit.Main(m, "inkwell/projections")
	if benchLog.server != nil {
		benchLog.server.Shutdown()
		benchLog.server.WaitForShutdown()
	}
	if benchLog.dir != "" {
		os.RemoveAll(benchLog.dir)
	}
	os.Exit(code)
}

// benchEvents is the size of the benchmark's log: $INKWELL_BENCH_EVENTS,
// or 1,000,000.
func benchEvents(b *testing.B) int {
	n := 1000000
	if v := os.Getenv("INKWELL_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("INKWELL_BENCH_EVENTS=%q is not a positive number", v)
		}
	}
	return n
}

// benchBatch is the rebuild's batch size: $INKWELL_BENCH_BATCH, or
// Rebuild's default.
func benchBatch(b *testing.B) int {
	v := os.Getenv("INKWELL_BENCH_BATCH")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("INKWELL_BENCH_BATCH=%q is not a positive number", v)
	}
	return n
}

// mustBenchLog returns the store holding the benchmark's log: the life of a
// blog (projectionstest.BlogMix) appended with AppendBulk.
func mustBenchLog(b *testing.B) *eventstore.Store {
	b.Helper()
	n := benchEvents(b)
	benchLog.once.Do(func() {
		benchLog.err = func() error {
			start := time.Now()
			dir, err := os.MkdirTemp("", "inkwell-bench-")
			if err != nil {
				return err
			}
			benchLog.dir = dir
			token := eventstoretest.RandomName()
			ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{StoreDir: dir, DontListen: true, Token: token})
			if err != nil {
				return err
			}
			benchLog.server = ns
			nc, err := eventstore.ConnectEmbedded(ns, token)
			if err != nil {
				return err
			}
			ctx := context.Background()
			store, err := eventstore.Open(ctx, nc, eventstore.Config{})
			if err != nil {
				return err
			}
			// Personal data sealed, as Inkwell writes it.
			// In a file, as Inkwell keeps it: a kept backup of the log
			// (BenchmarkBackupRestore) is restored with it.
			master, _, err := auth.LoadOrGenerateMasterKey(filepath.Join(dir, auth.MasterKeyFile), true)
			if err != nil {
				return err
			}
			benchLog.master = master
			store.UsePersonalData(eventstoretest.MustOpenDataKeys(b, store, master), master.Derive("claims"))
			m := projectionstest.BlogMix
			if os.Getenv("INKWELL_BENCH_UNIFORM") != "" {
				m = projectionstest.UniformBlogMix
			}
			w := projectionstest.NewWorkload(42, m)
			types := map[string]int{}
			chunk := make([]domain.Record, 0, 10000)
			total := 0
			for total < n {
				chunk = chunk[:0]
				for len(chunk) < cap(chunk) && total+len(chunk) < n {
					chunk = append(chunk, w.Next()...)
				}
				if total+len(chunk) > n { // a cascade overshot
					chunk = chunk[:n-total]
				}
				for _, r := range chunk {
					types[r.Stream.Type]++
				}
				if err := store.AppendBulk(ctx, chunk); err != nil {
					return err
				}
				total += len(chunk)
			}
			benchLog.store, benchLog.events, benchLog.types, benchLog.took = store, total, types, time.Since(start)
			// Write the log's files out now, not while a rebuild is timed.
			syscall.Sync()
			return nil
		}()
	})
	if benchLog.err != nil {
		b.Fatalf("build the benchmark log: %v", benchLog.err)
	}
	if benchLog.events != n {
		b.Fatalf("the log has %d events, not %d", benchLog.events, n)
	}
	return benchLog.store
}

// BenchmarkRebuild rebuilds every read model from a log of a million events
// (INKWELL_BENCH_EVENTS to change that), in one pass over the log
// (RebuildAll), on SQLite and on PostgreSQL, and reports the events of the
// log replayed per second. With INKWELL_BENCH_EACH=1 it also rebuilds each
// read model alone, one pass each, and reports their own rates. Each
// iteration rebuilds in place, so from the second one on the swap replaces
// a full generation: run with -benchtime=Nx.
func BenchmarkRebuild(b *testing.B) {
	store := mustBenchLog(b)
	b.Logf("log: %d events (%v), built in %v", benchLog.events, benchLog.types, benchLog.took.Round(time.Second))
	each := os.Getenv("INKWELL_BENCH_EACH") != ""
	for _, dialect := range []string{"sqlite", "postgres"} {
		b.Run(dialect, func(b *testing.B) {
			var db *projections.DB
			if dialect == "postgres" {
				if os.Getenv("INKWELL_TEST_DATABASE_URL") == "" {
					b.Skip("SKIP: INKWELL_TEST_DATABASE_URL is not set; the PostgreSQL rebuild benchmark needs PostgreSQL")
				}
				db = projectionstest.MustOpenPostgres(b)
			} else {
				db = projectionstest.MustOpenSQLite(b)
			}
			ctx := context.Background()
			opts := projections.RebuildOptions{BatchSize: benchBatch(b)}
			var all time.Duration
			applied := map[string]uint64{}
			took := map[string]time.Duration{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pass, err := projections.RebuildAll(ctx, db, store, allReadModels, opts)
				if err != nil {
					b.Fatal(err)
				}
				if pass.Events != uint64(benchLog.events) {
					b.Fatalf("the pass applied %d events of the log's %d", pass.Events, benchLog.events)
				}
				all += pass.Duration
				if !each {
					continue
				}
				for _, p := range allReadModels {
					res, err := projections.Rebuild(ctx, db, store, p, opts)
					if err != nil {
						b.Fatal(err)
					}
					applied[p.Name()] += res.Events
					took[p.Name()] += res.Duration
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(benchLog.events*b.N)/all.Seconds(), "events/s")
			if each {
				for _, p := range allReadModels {
					b.ReportMetric(float64(applied[p.Name()])/took[p.Name()].Seconds(), p.Name()+"-events/s")
				}
			}
			if s, err := db.State(ctx, "articles"); err != nil || s.Checkpoint == 0 {
				b.Fatalf("articles after the rebuild: %+v, %v", s, err)
			}
		})
	}
}
