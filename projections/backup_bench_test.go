package projections_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"inkwell/auth"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
)

// BenchmarkBackupRestore does what inkwell backup and inkwell restore do
// with the benchmark's log of a million events (mustBenchLog;
// INKWELL_BENCH_EVENTS to change its size): a backup of the log and every
// stream beside it, its check (every file's SHA-256, every snapshot read
// back), its restore into a new embedded NATS server, and the rebuild of
// every read model from the restored log into SQLite and, with
// INKWELL_TEST_DATABASE_URL, PostgreSQL. It reports the seconds of each
// step. With INKWELL_BENCH_BACKUP_DIR set, the first backup is kept there
// (with the master key beside it, master.key) for timing the commands
// themselves. Run it with -benchtime=1x -count=N.
func BenchmarkBackupRestore(b *testing.B) {
	store := mustBenchLog(b)
	ctx := context.Background()
	key := benchLog.master.Derive(eventstore.ManifestKeyLabel)
	var backup, check, restore, sqlite, postgres time.Duration
	var size int64
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(b.TempDir(), "backup")
		if keep := os.Getenv("INKWELL_BENCH_BACKUP_DIR"); keep != "" && i == 0 {
			dir = filepath.Join(keep, "backup")
			if err := os.RemoveAll(dir); err != nil {
				b.Fatal(err)
			}
			k, err := os.ReadFile(filepath.Join(benchLog.dir, auth.MasterKeyFile))
			if err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(keep, auth.MasterKeyFile), k, 0o600); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		m, err := store.Backup(ctx, dir, eventstore.BackupOptions{Key: key})
		if err != nil {
			b.Fatal(err)
		}
		backup += time.Since(start)
		size = 0
		for _, sb := range m.Streams {
			for _, f := range sb.Files {
				size += f.Size
			}
		}

		start = time.Now()
		bd, err := eventstore.OpenBackup(dir, key)
		if err == nil {
			err = bd.Verify()
		}
		if err != nil {
			b.Fatal(err)
		}
		check += time.Since(start)

		e := eventstoretest.MustStartEmbedded(b, "")
		nc := e.Connect(b)
		start = time.Now()
		if _, err := eventstore.RestoreBackup(ctx, nc, bd, eventstore.RestoreOptions{Verified: true}); err != nil {
			b.Fatal(err)
		}
		restore += time.Since(start)
		restored, err := eventstore.Open(ctx, nc, eventstore.Config{})
		if err != nil {
			b.Fatal(err)
		}
		restored.UsePersonalData(eventstoretest.MustOpenDataKeys(b, restored, benchLog.master), benchLog.master.Derive("claims"))

		for _, dialect := range []string{"sqlite", "postgres"} {
			var db *projections.DB
			switch {
			case dialect == "sqlite":
				db = projectionstest.MustOpenSQLite(b)
			case os.Getenv("INKWELL_TEST_DATABASE_URL") != "":
				db = projectionstest.MustOpenPostgres(b)
			default:
				continue
			}
			pass, err := projections.RebuildAll(ctx, db, restored, allReadModels, projections.RebuildOptions{BatchSize: benchBatch(b)})
			if err != nil {
				b.Fatal(err)
			}
			if pass.Events != uint64(benchLog.events) {
				b.Fatalf("the rebuild from the restored log applied %d events, the log has %d", pass.Events, benchLog.events)
			}
			if dialect == "sqlite" {
				sqlite += pass.Duration
			} else {
				postgres += pass.Duration
			}
			db.Close()
		}
		e.Server.Shutdown()
		e.Server.WaitForShutdown()
	}
	n := float64(b.N)
	b.ReportMetric(backup.Seconds()/n, "backup-s")
	b.ReportMetric(check.Seconds()/n, "check-s")
	b.ReportMetric(restore.Seconds()/n, "restore-s")
	b.ReportMetric(sqlite.Seconds()/n, "rebuild-sqlite-s")
	if postgres > 0 {
		b.ReportMetric(postgres.Seconds()/n, "rebuild-postgres-s")
	}
	b.ReportMetric(float64(size)/(1<<20), "backup-MiB")
}
