package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BackupOptions tunes Backup.
type BackupOptions struct {
	// Build is the build taking the backup, recorded in the manifest.
	Build BuildInfo
	// Key signs the manifest (derived from the master key).
	Key []byte
	// Progress, if set, is called after each stream's snapshot.
	Progress func(StreamBackup)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Backup writes a consistent copy of the log and of every stream kept
// beside it into dir, which must not exist or be empty, while the log
// goes on taking writes; it returns the manifest, written last (a
// directory without one is not a backup). On failure it removes what it
// wrote.
func (s *Store) Backup(ctx context.Context, dir string, opts BackupOptions) (m *Manifest, err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if len(opts.Key) == 0 {
		return nil, errors.New("backup: no key to sign the manifest with")
	}
	if err := makeEmptyDir(dir); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			removeContents(dir)
		}
	}()
	m = &Manifest{Format: BackupFormat, Inkwell: opts.Build, NATSServer: s.nc.ConnectedServerVersion(), StartedAt: opts.Now().UTC(),
		StreamName: s.base.StreamName, SubjectPrefix: s.base.SubjectPrefix, Log: s.Log()}
	_, streams, err := ownStreams(ctx, s.nc, s.base.StreamName)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var names []string
	for _, st := range streams {
		name := st.CachedInfo().Config.Name
		if streamRole(name, s.base.StreamName, m.Log) == roleOldLog {
			m.Skipped = append(m.Skipped, name)
			continue
		}
		names = append(names, name)
	}
	if !slices.Contains(names, m.Log.Stream) {
		return nil, fmt.Errorf("backup: the log's stream %s is not there", m.Log.Stream)
	}
	rank := func(name string) int { return slices.Index(backupOrder, streamRole(name, s.base.StreamName, m.Log)) }
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	for _, name := range names {
		sb, err := s.backupStream(ctx, dir, name, streamRole(name, s.base.StreamName, m.Log), opts.Now)
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		if sb.Role == RoleLogPointer {
			// The pointer in the backup must name the log backed up next.
			if err := s.checkLogPointer(ctx, m.Log); err != nil {
				return nil, err
			}
		}
		m.Streams = append(m.Streams, sb)
		if opts.Progress != nil {
			opts.Progress(sb)
		}
	}
	// A log switched while the backup ran (before its pointer bucket
	// existed) is found here.
	if err := s.checkLogPointer(ctx, m.Log); err != nil {
		return nil, err
	}
	m.FinishedAt = opts.Now().UTC()
	if err := writeManifest(dir, m, opts.Key); err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	return m, nil
}

// checkLogPointer fails if the log pointer names another log than log.
func (s *Store) checkLogPointer(ctx context.Context, log LogPointer) error {
	ptr, ok, err := readLogPointer(ctx, s.js, s.base.StreamName, s.log)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if ok && ptr != log { // no pointer: the log was never switched
		return fmt.Errorf("backup: the log was switched from %s to %s while the backup ran (inkwell events encrypt?): take it again", log.Stream, ptr.Stream)
	}
	return nil
}

// backupStream snapshots one stream into dir/streams/<name> and reads the
// snapshot back.
func (s *Store) backupStream(ctx context.Context, dir, name, role string, now func() time.Time) (StreamBackup, error) {
	start := now()
	sb := StreamBackup{Name: name, Role: role, Dir: StreamsDir + "/" + name}
	sdir := filepath.Join(dir, filepath.FromSlash(sb.Dir))
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return sb, err
	}
	var resp snapshotResponse
	data, err := writeFile(filepath.Join(sdir, dataFile), func(w io.Writer) error {
		var err error
		// Consumers are the log's (the reactors' durable consumers,
		// where they stood); the buckets' are readers' own.
		resp, err = snapshotStream(ctx, s.nc, name, role == RoleLog, w)
		return err
	})
	if err != nil {
		return sb, err
	}
	var state jetstream.StreamState
	if err := json.Unmarshal(resp.State, &state); err != nil {
		return sb, fmt.Errorf("snapshot of %s: its state: %w", name, err)
	}
	sb.FirstSeq, sb.LastSeq, sb.Messages, sb.Bytes, sb.Consumers, sb.Config = state.FirstSeq, state.LastSeq, state.Msgs, state.Bytes, state.Consumers, resp.Config
	meta, err := json.MarshalIndent(map[string]json.RawMessage{"config": resp.Config, "state": resp.State}, "", "  ")
	if err != nil {
		return sb, err
	}
	metaSum, err := writeFile(filepath.Join(sdir, metaFile), func(w io.Writer) error {
		_, err := w.Write(meta)
		return err
	})
	if err != nil {
		return sb, err
	}
	sb.Files = []BackupFile{metaSum, data}
	// Read back what is on the disk, as a restore will.
	content, err := readSnapshotFile(filepath.Join(sdir, dataFile))
	if err != nil {
		return sb, fmt.Errorf("snapshot of %s: %w", name, err)
	}
	if content.Archive {
		n := content.Messages
		sb.Archived = &n
		if err := content.holds(sb); err != nil {
			return sb, fmt.Errorf("snapshot of %s: %w", name, err)
		}
	}
	sb.Took = now().Sub(start).Seconds()
	return sb, nil
}
