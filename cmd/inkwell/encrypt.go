package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/projections"
)

// eventsEncryptCommand rewrites a log written before Inkwell sealed
// personal data into a new stream with it sealed (see encryptLog).
func (a *app) eventsEncryptCommand() *ffcli.Command {
	var batch int
	return a.command(leaf{
		path:  "inkwell events encrypt",
		usage: "inkwell events encrypt [flags]",
		help:  "rewrite a log written before Inkwell sealed personal data into a new stream with it sealed, and switch to it",
		long: "Stop every instance first. The copy keeps every event id, order, log sequence and aggregate\n" +
			"version; it is verified (counts, ids, events, and a rebuild of every read model from the copy\n" +
			"equal to one from the original) before Inkwell is switched to it. The old stream is left as it\n" +
			"was, with its personal data in clear text: delete it as the command says once you are done.",
		groups: eventLogGroups,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&batch, "batch-size", 10000, "events applied per transaction by the verifying rebuilds")
		},
		run: func(ctx context.Context, cfg Config) error {
			if batch < 1 {
				return usagef("events encrypt: --batch-size must be positive, not %d", batch)
			}
			return encryptLog(ctx, cfg, batch, a.stdout, a.stderr)
		},
	})
}

// encryptLog copies the log into the next stream (eventstore.NextLog) with
// every personal field sealed and every claim named by its keyed hash,
// verifies the copy and switches the log to it.
func encryptLog(ctx context.Context, cfg Config, batch int, stdout, stderr io.Writer) error {
	return withStore(ctx, cfg, stderr, func(ops operations) error {
		el, src, log := ops.el, ops.store, ops.log
		if cfg.NATSURL == "" && el.server == nil {
			return errors.New("events encrypt: an Inkwell server is running on this data directory: stop it first (the log must not change while it is copied)")
		}
		if src.SealedThroughout() {
			fmt.Fprintf(stdout, "the log in %s was written with its personal data sealed: nothing to rewrite\n", src.Log().Stream)
			return nil
		}
		to := src.NextLog()
		storeCfg := cfg.storeConfig(log)
		storeCfg.LogStream, storeCfg.LogSubjectPrefix = to.Stream, to.SubjectPrefix
		dst, err := eventstore.Open(ctx, el.NC, storeCfg)
		if err != nil {
			return err
		}
		if head, err := dst.Head(ctx); err != nil {
			return err
		} else if head > 0 {
			// An earlier run that stopped before the switch: start again.
			log.Warn("deleting the copy an earlier run left", "stream", to.Stream, "events", head)
			if err := dst.Delete(ctx); err != nil {
				return err
			}
			if dst, err = eventstore.Open(ctx, el.NC, storeCfg); err != nil {
				return err
			}
		}
		dst.UsePersonalData(eventstore.SealingErased(el.keys), el.master.Derive(claimKeyLabel))

		// A log whose claims are keyed already keeps their names (the same
		// master key names them in the copy).
		var renames map[domain.StreamID]domain.StreamID
		if !src.KeyedClaims() {
			if renames, err = claimRenames(ctx, src, dst); err != nil {
				return err
			}
		}
		copied, opaque, err := copyLog(ctx, src, dst, renames)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "copied %s events from %s to %s, personal data sealed; %d claims renamed to keyed names, %d to opaque ones (their values are in no event: an erased user's, an abandoned creation's)\n",
			thousands(uint64(copied)), src.Log().Stream, to.Stream, len(renames), opaque)
		if err := verifyCopy(ctx, src, dst, renames); err != nil {
			return fmt.Errorf("events encrypt: the copy differs from the log; nothing was switched: %w", err)
		}
		if err := verifyReadModels(ctx, src, dst, batch, log); err != nil {
			return fmt.Errorf("events encrypt: nothing was switched: %w", err)
		}
		fmt.Fprintln(stdout, "verified: every event id, order, sequence and aggregate version; the events; a rebuild of every read model")
		if err := src.SwitchLog(ctx, dst); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "switched: Inkwell now opens the log in %s (subjects %s.>)\n", to.Stream, to.SubjectPrefix)
		fmt.Fprintf(stdout, "the old stream %s still holds personal data in clear text: once every instance runs on %s, delete it with\n\n    nats stream rm %s\n\n", src.Log().Stream, to.Stream, src.Log().Stream)
		return nil
	})
}

// claimRenames maps the stream of every claim the log names by its unkeyed
// hash to its keyed name, for every unique value an event records.
func claimRenames(ctx context.Context, src, dst *eventstore.Store) (map[domain.StreamID]domain.StreamID, error) {
	out := map[domain.StreamID]domain.StreamID{}
	err := eachEvent(ctx, src, func(rec domain.Record) error {
		for _, v := range domain.ClaimValues(rec.Event) {
			if v.Value != domain.Erased {
				out[domain.ClaimStream(v.Kind, v.Value)] = dst.ClaimStream(v.Kind, v.Value)
			}
		}
		return nil
	})
	return out, err
}

// renamed is the stream of a claim in the copy: its keyed name, or, for a
// claim whose value no event holds, a keyed hash of its old name (an
// unkeyed hash of a value is a dictionary lookup away from it; nothing
// looks such a claim up by its value any more: its owner is gone).
func renamed(dst *eventstore.Store, renames map[domain.StreamID]domain.StreamID, s domain.StreamID) (domain.StreamID, bool) {
	if to, ok := renames[s]; ok {
		return to, false
	}
	if s.Type != domain.AggregateClaim || renames == nil {
		return s, false // nil: the log's claims are keyed already
	}
	kind, _, _ := strings.Cut(s.ID, "_")
	return dst.ClaimStream(kind, s.ID), true
}

// copyLog appends every event of src to dst, in order, at the current
// schema version, claims renamed; it returns how many, and how many claim
// streams got opaque names.
func copyLog(ctx context.Context, src, dst *eventstore.Store, renames map[domain.StreamID]domain.StreamID) (int, int, error) {
	const chunk = 1000
	var buf []domain.Record
	n := 0
	opaque := map[domain.StreamID]bool{}
	authors := newAuthorsOf(src)
	err := eachEvent(ctx, src, func(rec domain.Record) error {
		if err := authors.fill(ctx, &rec); err != nil {
			return err
		}
		to, hidden := renamed(dst, renames, rec.Stream)
		if hidden {
			opaque[rec.Stream] = true
		}
		rec.Stream = to
		rec.SchemaVersion = domain.SchemaVersionOf(rec.Event)
		buf = append(buf, rec)
		n++
		if len(buf) < chunk {
			return nil
		}
		err := dst.AppendBulk(ctx, buf)
		buf = buf[:0]
		return err
	})
	if err == nil {
		err = dst.AppendBulk(ctx, buf)
	}
	return n, len(opaque), err
}

// authorsOf remembers the author of every article met in a pass over the
// log of src, to fill in the author (the subject whose key seals its text)
// of an article.updated written before events named it.
type authorsOf struct {
	src     *eventstore.Store
	authors map[string]string
}

func newAuthorsOf(src *eventstore.Store) *authorsOf {
	return &authorsOf{src: src, authors: map[string]string{}}
}

// fill notes rec's author if it creates an article, and names the author
// in rec if it is an update that does not: its text then reads Erased, as
// the author's other events do, if the author is erased.
func (a *authorsOf) fill(ctx context.Context, rec *domain.Record) error {
	switch e := rec.Event.(type) {
	case *domain.ArticleCreated:
		a.authors[rec.Stream.ID] = e.AuthorID
	case *domain.ArticleUpdated:
		if e.AuthorID == "" {
			u := *e
			u.AuthorID = a.authors[rec.Stream.ID]
			rec.Event = &u
			return a.src.OpenPersonalData(ctx, rec)
		}
	}
	return nil
}

// eachEvent calls fn with every event of the log, in order; an event of a
// type this build does not know stops it.
func eachEvent(ctx context.Context, s *eventstore.Store, fn func(domain.Record) error) error {
	return eachEventFrom(ctx, s, 1, func(rec domain.Record) error {
		if rec.Event == nil {
			return fmt.Errorf("event %d is of a type this build does not know (%s): rewrite the log with the build that wrote it", rec.Seq, rec.Type)
		}
		return fn(rec)
	})
}

// verifyCopy reads both logs side by side: every event must be there, at
// the same sequence, with the same id, type, envelope and content.
func verifyCopy(ctx context.Context, src, dst *eventstore.Store, renames map[domain.StreamID]domain.StreamID) error {
	var heads [2]uint64
	for i, s := range []*eventstore.Store{src, dst} {
		var err error
		if heads[i], err = s.Head(ctx); err != nil {
			return err
		}
	}
	if srcHead, dstHead := heads[0], heads[1]; srcHead != dstHead {
		return fmt.Errorf("the log ends at %d, the copy at %d (did an instance write meanwhile?)", srcHead, dstHead)
	}
	cur, err := dst.Read(ctx, 1)
	if err != nil {
		return err
	}
	defer cur.Close()
	authors := newAuthorsOf(src)
	return eachEvent(ctx, src, func(want domain.Record) error {
		got, err := cur.Next(ctx)
		if err != nil {
			return fmt.Errorf("the copy lacks event %d: %w", want.Seq, err)
		}
		if err := authors.fill(ctx, &want); err != nil {
			return err
		}
		want.Stream, _ = renamed(dst, renames, want.Stream)
		want.SchemaVersion = domain.SchemaVersionOf(want.Event)
		if got.Seq != want.Seq || got.ID != want.ID || got.Type != want.Type || got.Stream != want.Stream || got.Version != want.Version ||
			!got.OccurredAt.Equal(want.OccurredAt) || got.ActorID != want.ActorID || got.CorrelationID != want.CorrelationID ||
			got.SchemaVersion != want.SchemaVersion || got.Erased != want.Erased || !reflect.DeepEqual(got.Event, want.Event) {
			return fmt.Errorf("event %d (%s %s) differs in the copy", want.Seq, want.Type, want.ID)
		}
		return nil
	})
}

// verifyReadModels rebuilds every read model from each log into a SQLite
// database of its own and compares their rows.
func verifyReadModels(ctx context.Context, src, dst *eventstore.Store, batch int, log *slog.Logger) error {
	dir, err := os.MkdirTemp("", "inkwell-encrypt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var dumps [2]map[string][]string
	for i, s := range []*eventstore.Store{src, dst} {
		db, err := openDatabase(ctx, filepath.Join(dir, fmt.Sprint(i, ".db")), log)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := projections.RebuildAll(ctx, db, s, readModels(), projections.RebuildOptions{BatchSize: batch}); err != nil {
			return fmt.Errorf("rebuild from %s: %w", s.Log().Stream, err)
		}
		if dumps[i], err = dumpReadModels(ctx, db); err != nil {
			return err
		}
	}
	for table, rows := range dumps[0] {
		if !slices.Equal(rows, dumps[1][table]) {
			return fmt.Errorf("the read model table %s rebuilt from the copy differs from the one rebuilt from the log", table)
		}
	}
	return nil
}

// dumpReadModels returns the rows of every read model's tables, each table's
// sorted.
func dumpReadModels(ctx context.Context, db *projections.DB) (map[string][]string, error) {
	out := map[string][]string{}
	for _, p := range readModels() {
		for _, t := range p.Tables() {
			rows, err := db.QueryxContext(ctx, "SELECT * FROM "+t)
			if err != nil {
				return nil, fmt.Errorf("dump %s: %w", t, err)
			}
			for rows.Next() {
				vals, err := rows.SliceScan()
				if err != nil {
					rows.Close()
					return nil, err
				}
				out[t] = append(out[t], fmt.Sprintf("%q", vals))
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
			slices.Sort(out[t])
		}
	}
	return out, nil
}
