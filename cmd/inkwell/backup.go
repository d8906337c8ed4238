package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/eventstore"
)

// backupCommand copies the event log and every stream kept beside it into
// a directory, while the servers run (see eventstore.Store.Backup).
func (a *app) backupCommand() *ffcli.Command {
	var to string
	return a.command(leaf{
		path:  "inkwell backup",
		usage: "inkwell backup --to DIR [flags]",
		help:  "copy the event log and the buckets beside it into a new directory, while the servers run",
		long: "The copy is consistent: JetStream snapshots each stream, the log's and its buckets' in an order\n" +
			"that never leaves an event without its data key. It is in the format of the nats tool (one\n" +
			"directory per stream under DIR/streams), with a manifest signed with a key of the master key.\n" +
			"It holds neither the read models (inkwell restore rebuilds them) nor the master key: keep a copy\n" +
			"of that apart from the backups; without it a backup cannot be restored.",
		groups: eventLogGroups,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&to, "to", "", "directory to write the backup into: a new one, or an empty one (required)")
		},
		run: func(ctx context.Context, cfg Config) error {
			if to == "" {
				return usagef("backup: --to DIR is required")
			}
			return backupLog(ctx, cfg, to, a.stdout, a.stderr)
		},
	})
}

// backupLog takes a backup into dir.
func backupLog(ctx context.Context, cfg Config, dir string, stdout, stderr io.Writer) error {
	return withStore(ctx, cfg, stderr, func(ops operations) error {
		version, revision, goVersion := buildVersion()
		fmt.Fprintf(stdout, "backing up the event log %s and the streams beside it into %s\n", ops.store.Log().Stream, dir)
		m, err := ops.store.Backup(ctx, dir, eventstore.BackupOptions{
			Build: eventstore.BuildInfo{Version: version, Revision: revision, Go: goVersion},
			Key:   ops.el.master.Derive(eventstore.ManifestKeyLabel),
			Progress: func(sb eventstore.StreamBackup) {
				fmt.Fprintf(stdout, "  %-28s %-20s %s messages, sequences %s to %s, %s in %.1fs\n", sb.Name, sb.Role,
					thousands(sb.Messages), thousands(sb.FirstSeq), thousands(sb.LastSeq), humanize.IBytes(uint64(sb.Files[1].Size)), sb.Took)
			},
		})
		if err != nil {
			return err
		}
		var size int64
		for _, sb := range m.Streams {
			for _, f := range sb.Files {
				size += f.Size
			}
		}
		logStream := m.Streams[0]
		for _, sb := range m.Streams {
			if sb.Role == eventstore.RoleLog {
				logStream = sb
			}
		}
		fmt.Fprintf(stdout, "backed up %d streams (%s) in %.1fs: the log's %s events, sequences %s to %s\n",
			len(m.Streams), humanize.IBytes(uint64(size)), m.FinishedAt.Sub(m.StartedAt).Seconds(),
			thousands(logStream.Messages), thousands(logStream.FirstSeq), thousands(logStream.LastSeq))
		for _, name := range m.Skipped {
			fmt.Fprintf(stdout, "left out %s: a log Inkwell no longer uses (see inkwell events encrypt)\n", name)
		}
		fmt.Fprintf(stdout, "not in the backup: the read models (a restore rebuilds them) and the master key %s: keep a copy of it apart from the backups; without it this backup cannot be restored\n",
			masterKeyPath(cfg))
		return nil
	})
}

// restoreCommand restores a backup into an empty NATS and rebuilds the
// read models from it (see restoreBackup).
func (a *app) restoreCommand() *ffcli.Command {
	var from string
	var batch int
	return a.command(leaf{
		path:  "inkwell restore",
		usage: "inkwell restore --from DIR [flags]",
		help:  "restore a backup into an empty event log (embedded or external NATS) and rebuild the read models from it",
		long: "Stop every instance first. The backup's manifest must check with the master key (--master-key),\n" +
			"and every file with the manifest, before anything is restored; NATS must hold none of Inkwell's\n" +
			"streams. Then every read model is rebuilt into the database from the restored log, and every\n" +
			"user the database's ledger of erasures names is erased again.",
		groups: operationsGroups,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&from, "from", "", "directory of the backup (what inkwell backup --to wrote) (required)")
			fs.IntVar(&batch, "batch-size", 10000, "events applied per transaction by the rebuild of the read models")
		},
		run: func(ctx context.Context, cfg Config) error {
			if from == "" {
				return usagef("restore: --from DIR is required")
			}
			if batch < 1 {
				return usagef("restore: --batch-size must be positive, not %d", batch)
			}
			return restoreBackup(ctx, cfg, from, batch, a.getenv, a.stdout, a.stderr)
		},
	})
}

// redactedDatabase names the database without its password.
func redactedDatabase(cfg Config) string {
	u := cfg.databaseURL()
	if p, err := url.Parse(u); err == nil && p.Scheme != "" && p.Host != "" {
		return p.Redacted()
	}
	if abs, err := filepath.Abs(u); err == nil {
		return abs
	}
	return u
}

// since formats the time since start for the summary lines.
func since(start time.Time) string { return fmt.Sprintf("%.1fs", time.Since(start).Seconds()) }

var errRestoreIncomplete = errors.New("restore: the log and the read models are restored, but not every erasure could be recorded again")
