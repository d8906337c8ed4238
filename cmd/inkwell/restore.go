package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"github.com/dustin/go-humanize"

	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/projections"
	"inkwell/queries"
	"inkwell/reactors"
	"inkwell/readmodels/articles"
)

// restoreBackup restores the backup in dir into the configured NATS
// (embedded in the data directory, or INKWELL_NATS_URL), which must hold
// none of the log's streams, then honours the database's ledger of
// erasures and rebuilds every read model from the restored log:
//
//  1. the manifest is checked with the master key, every file with the
//     manifest, and NATS for streams of the log, before anything is
//     restored;
//  2. every stream is restored (a failure removes those restored);
//  3. the store is opened again from what was restored, as a server
//     opens it (the master key checked against the restored data keys),
//     and the database's read models are marked stale (ForgetLog): they
//     were built from the log the backup replaces;
//  4. every user the ledger names and NATS does not hold erased is erased
//     again (eraseAgain);
//  5. every read model is rebuilt from the restored log into the
//     database, which adds the restored log's erasures to the ledger; the
//     data keys of those the backup held are destroyed;
//  6. the articles of the users erased again in step 4 are deleted, as the
//     cascade reactor does after an erasure, and the read models apply it.
func restoreBackup(ctx context.Context, cfg Config, dir string, batch int, getenv func(string) string, stdout, stderr io.Writer) error {
	start := time.Now()
	log := newLogger(cfg, stderr)
	path := masterKeyPath(cfg)
	master, _, err := auth.LoadOrGenerateMasterKey(path, false)
	if err != nil {
		return fmt.Errorf("restore: a backup's data keys and signing keys are wrapped by the master key of the Inkwell that took it: put a copy of that key at %s (--master-key, $INKWELL_MASTER_KEY_PATH): %w", path, err)
	}
	b, err := eventstore.OpenBackup(dir, master.Derive(eventstore.ManifestKeyLabel))
	if errors.Is(err, eventstore.ErrManifestSignature) {
		return fmt.Errorf("restore: %w: is %s (--master-key) the master key of the Inkwell that took it? Nothing was restored", err, path)
	} else if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	m := b.Manifest
	logBackup := logStreamOf(m)
	fmt.Fprintf(stdout, "backup taken %s by %s from NATS %s: %d streams; the log %s holds %s events, sequences %s to %s\n",
		m.StartedAt.Format(time.RFC3339), buildName(m.Inkwell), m.NATSServer, len(m.Streams),
		m.Log.Stream, thousands(logBackup.Messages), thousands(logBackup.FirstSeq), thousands(logBackup.LastSeq))

	if m.StreamName != cfg.NATSStream || m.SubjectPrefix != cfg.NATSSubjectPrefix {
		return fmt.Errorf("restore: the backup is of the log %s (subjects %s.>), this configuration names %s (subjects %s.>): restore it with %s=%s and %s=%s, as the instances that took it ran. Nothing was restored",
			m.StreamName, m.SubjectPrefix, cfg.NATSStream, cfg.NATSSubjectPrefix,
			flagName("nats-stream", "INKWELL_NATS_STREAM"), m.StreamName, flagName("nats-subject-prefix", "INKWELL_NATS_SUBJECT_PREFIX"), m.SubjectPrefix)
	}

	// 1, 2: into an empty NATS, the files checked first.
	streamsStart := time.Now()
	if err := restoreStreams(ctx, cfg, b, stdout, log); err != nil {
		return err
	}
	streamsTook := time.Since(streamsStart)
	// The embedded server that took the restore has stopped: what it held
	// (its caches of the blocks it wrote, pooled) is garbage, which must
	// not be the live heap the rebuild's GOGC=400 multiplies. A pool lets
	// go of its buffers at the second collection.
	runtime.GC()
	debug.FreeOSMemory()

	// 3: opened again, as a server opens it.
	el, store, err := openStore(ctx, cfg, log, false, false)
	if err != nil {
		return fmt.Errorf("restore: the streams are restored, but the log does not open: %w", err)
	}
	defer el.Close()
	if store.Log() != m.Log {
		return fmt.Errorf("restore: the restored log pointer names %s, the backup's log is %s", store.Log().Stream, m.Log.Stream)
	}
	db, err := openDatabase(ctx, cfg.databaseURL(), log)
	if err != nil {
		return fmt.Errorf("restore: the streams are restored; the read-model database: %w", err)
	}
	defer db.Close()
	// The read models there were built from the log this backup replaces:
	// stale until rebuilt, below (or by the next start, should that fail).
	if _, err := db.ForgetLog(ctx, time.Now()); err != nil {
		return fmt.Errorf("restore: the streams are restored; the read-model database: %w", err)
	}

	// 4: the ledger of erasures, honoured.
	erasuresStart := time.Now()
	ledger, ids, err := notDestroyed(ctx, db, el.keys)
	if err != nil {
		return err
	}
	cmds := commands.New(commands.Deps{Store: store, Hasher: auth.NewHasher(auth.OWASPParams(), 1), Logger: log, DataKeys: el.keys})
	rep, err := eraseAgain(ctx, store, el.keys, cmds, ids)
	if err != nil {
		return fmt.Errorf("restore: the streams are restored; honouring the ledger of erasures: %w (start Inkwell once NATS answers: every start erases again whom the ledger names, and rebuilds the read models, marked stale)", err)
	}
	erasuresTook := time.Since(erasuresStart)
	fmt.Fprintf(stdout, "ledger of erasures (table erasure_ledger in %s): %s; %d of them not erased in the backup: %s recorded again in the log, %s destroyed\n",
		redactedDatabase(cfg), count(len(ledger), "user"), len(ids), count(len(rep.again), "erasure"), count(rep.keys, "data key"))

	// 5: the read models, rebuilt.
	rebuildStart := time.Now()
	if getenv("GOGC") == "" {
		// As inkwell replay: a rebuild allocates fast and briefly.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
	}
	pass, err := rebuildShowing(ctx, db, store, readModels(), projections.RebuildOptions{BatchSize: batch}, stderr, log)
	if err != nil {
		return fmt.Errorf("restore: the streams are restored, the read models are not (run inkwell replay): %w", err)
	}
	rebuildTook := time.Since(rebuildStart)
	for _, res := range pass.Results {
		fmt.Fprintf(stdout, "  %s: %s events, generation %d at log sequence %s\n", res.Projection, thousands(res.Events), res.Generation, thousands(res.Checkpoint))
	}
	after, inLog, err := notDestroyed(ctx, db, el.keys)
	if err != nil {
		return err
	}
	more, err := eraseAgain(ctx, store, el.keys, cmds, inLog)
	if err != nil {
		return err
	}
	rep.keys += more.keys
	erasuresTook += time.Since(rebuildStart) - rebuildTook
	fmt.Fprintf(stdout, "rebuilt %d read models from %s events in %.1fs; the ledger of erasures now names %s (the restored log's erasures added; %s of erased users destroyed)\n",
		len(pass.Results), thousands(pass.Events), rebuildTook.Seconds(), count(len(after), "user"), count(more.keys, "more data key"))

	// 6: the cascade of the erasures recorded again.
	if len(rep.again) > 0 {
		deleted, err := cascadeErasures(ctx, db, store, cmds, rep.again, pass)
		if err != nil {
			return fmt.Errorf("restore: the articles of the users erased again: %w (the cascade reactor deletes them when Inkwell starts)", err)
		}
		fmt.Fprintf(stdout, "deleted the articles of the users erased again (%d events), as the cascade does\n", deleted)
	}
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored in %s: streams %.1fs, erasures %.1fs, read models %.1fs; the log holds %s events\n",
		since(start), streamsTook.Seconds(), erasuresTook.Seconds(), rebuildTook.Seconds(), thousands(head))
	if len(rep.failed) > 0 {
		for id, err := range rep.failed {
			fmt.Fprintf(stdout, "could not record again the erasure of user %s (their data key is destroyed, their personal data reads erased): %v\n", id, err)
		}
		return fmt.Errorf("%w: see above why each failed; the last active superuser cannot be erased: make another (inkwell createsuperuser), then erase each as it (POST /api/users/<id>/erase/)", errRestoreIncomplete)
	}
	return nil
}

// buildName names the build that took a backup.
func buildName(b eventstore.BuildInfo) string {
	if b.Version == "" && b.Revision == "" {
		return "an unknown build of inkwell"
	}
	return fmt.Sprintf("inkwell %s (revision %s)", b.Version, b.Revision)
}

// count says n things: "1 user", "2 users".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// logStreamOf returns the backup's log stream.
func logStreamOf(m eventstore.Manifest) eventstore.StreamBackup {
	for _, sb := range m.Streams {
		if sb.Role == eventstore.RoleLog {
			return sb
		}
	}
	return eventstore.StreamBackup{}
}

// restoreStreams checks that the target NATS is empty and the backup's
// files whole, then restores every stream of b.
func restoreStreams(ctx context.Context, cfg Config, b *eventstore.BackupDir, stdout io.Writer, log *slog.Logger) error {
	el, err := openEventLog(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer el.Close()
	if cfg.NATSURL == "" && el.server == nil {
		return fmt.Errorf("restore: an Inkwell server is running on the data directory %s: stop every instance first (a backup restores into an empty event log)", cfg.DataDir)
	}
	var notEmpty *eventstore.TargetNotEmptyError
	if err := eventstore.CheckEmpty(ctx, el.NC, b.Manifest.StreamName); errors.As(err, &notEmpty) {
		if cfg.NATSURL == "" {
			return fmt.Errorf("restore: %w: the event log in %s is not empty. Restore into a new data directory (--data-dir), or stop Inkwell and move %s aside first (keep inkwell.db there: its ledger of erasures is honoured). Nothing was restored",
				err, cfg.DataDir, el.storeDir)
		}
		return fmt.Errorf("restore: %w: restore into a NATS without them, or, if they are what the backup is to replace, remove them first (nats stream rm NAME, each). Nothing was restored", err)
	} else if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := b.Verify(); err != nil {
		return fmt.Errorf("restore: %w. Nothing was restored", err)
	}
	fmt.Fprintf(stdout, "checked: the manifest's signature (this master key), the size and SHA-256 of every file, every snapshot read back whole\n")
	_, err = eventstore.RestoreBackup(ctx, el.NC, b, eventstore.RestoreOptions{
		Replicas: cfg.NATSReplicas,
		Verified: true,
		Progress: func(r eventstore.RestoredStream) {
			fmt.Fprintf(stdout, "  %-28s %-20s %s messages, sequences %s to %s, %s in %.1fs\n", r.Name, r.Role,
				thousands(r.Messages), thousands(r.FirstSeq), thousands(r.LastSeq), humanize.IBytes(r.Bytes), r.Took.Seconds())
		},
	})
	if err != nil {
		return fmt.Errorf("restore: %w. The streams it restored were removed", err)
	}
	return nil
}

// rebuilt is the read models right after a rebuild from a log that holds
// the events the cascade waits for.
type rebuilt struct{}

func (rebuilt) WaitFor(context.Context, string, uint64) error { return nil }

// cascadeErasures deletes the articles of the users erased again, with
// the cascade reactor's own code, then applies what it appended to the
// read models (rebuilt up to pass's checkpoints). It returns how many
// events it appended.
func cascadeErasures(ctx context.Context, db *projections.DB, store *eventstore.Store, cmds *commands.Handlers, again []erasedAgain, pass projections.RebuildPass) (int, error) {
	before, err := store.Head(ctx)
	if err != nil {
		return 0, err
	}
	cascade := &reactors.Cascade{Commands: cmds, Users: queries.New(queries.Deps{Store: store}).CurrentUser,
		Articles: articles.NewStore(db), ReadModels: rebuilt{}}
	for _, a := range again {
		rec := domain.Record{Type: "user.erased", Stream: domain.UserStream(a.userID), Seq: a.seq, Event: &domain.UserErased{}, CorrelationID: "erasure-ledger"}
		if err := cascade.Handle(ctx, rec); err != nil {
			return 0, err
		}
	}
	head, err := store.Head(ctx)
	if err != nil || head == before {
		return 0, err
	}
	from := head
	for _, res := range pass.Results {
		from = min(from, res.Checkpoint+1)
	}
	var tail []domain.Record
	if err := eachEventFrom(ctx, store, from, func(r domain.Record) error { tail = append(tail, r); return nil }); err != nil {
		return 0, err
	}
	for _, p := range readModels() {
		var mine []domain.Record
		for _, r := range tail {
			if slices.Contains(p.AggregateTypes(), r.Stream.Type) {
				mine = append(mine, r)
			}
		}
		if len(mine) == 0 {
			continue
		}
		if _, err := projections.ApplyBatch(ctx, db, p, mine, time.Now()); err != nil {
			return 0, err
		}
	}
	return int(head - before), nil
}

// eachEventFrom calls fn with every event of the log from sequence from.
func eachEventFrom(ctx context.Context, s *eventstore.Store, from uint64, fn func(domain.Record) error) error {
	cur, err := s.Read(ctx, from)
	if err != nil {
		return err
	}
	defer cur.Close()
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}
