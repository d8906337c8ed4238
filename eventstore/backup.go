package eventstore

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A backup is a directory:
//
//	inkwell-backup.json         the manifest (Manifest), signed with a key of the master key
//	streams/<stream>/backup.json     the stream's config and state  } the nats tool's format:
//	streams/<stream>/stream.tar.s2   its JetStream snapshot         } nats account restore streams
//
// It holds the log's stream and every stream Inkwell keeps beside it (its
// buckets and dead letters: every stream named after the configured one,
// see ownStreams), each snapshotted by JetStream while the servers run.
// JetStream snapshots one stream at a time, so the backup is made
// consistent by their order (backupOrder): what refers to the log's events
// is taken before the log, what the log's events need after it.

// BackupFormat is the version of the manifest's format this build writes
// and reads.
const BackupFormat = 1

// ManifestKeyLabel derives the key that signs a backup's manifest from the
// master key (auth.MasterKey.Derive): a backup changed by anyone without
// the master key is refused, and so is a restore with another master key,
// before anything is restored.
const ManifestKeyLabel = "inkwell backup manifest"

// Names of a backup's files.
const (
	ManifestFile = "inkwell-backup.json"
	StreamsDir   = "streams"
	metaFile     = "backup.json"   // as the nats tool names it
	dataFile     = "stream.tar.s2" // likewise
)

// Roles of the streams of a backup, by what they hold.
const (
	RoleLog         = "event log"
	RoleLogPointer  = "log pointer"
	RoleDeadLetters = "dead letters"
	RoleIdempotency = "idempotency records"
	RoleThrottles   = "throttle counters"
	RoleSigningKeys = "signing keys"
	RoleDataKeys    = "data keys"
	RoleOther       = "other"
	roleOldLog      = "an earlier log" // left by inkwell events encrypt: not backed up
)

// backupOrder is the order streams are snapshotted in, by role. Each
// snapshot is of its stream at one moment, later than the one before:
//
//   - the dead letters, the idempotency records (an answer names an event)
//     and anything else kept beside the log come before it, so that what
//     they name is in the log's snapshot, taken after (a record written
//     after the log's snapshot would answer a retry for an event the backup
//     lacks);
//   - the log pointer comes before the log, and the backup fails if the
//     log was switched meanwhile (the pointer in the backup names the log
//     in it);
//   - the signing keys and the data keys come after the log: every sealed
//     event of the log's snapshot was sealed with a key made before it, so
//     the keys' snapshot holds it (or its destruction, an erasure the
//     restore honours).
var backupOrder = []string{RoleDeadLetters, RoleIdempotency, RoleThrottles, RoleOther, RoleLogPointer, RoleLog, RoleSigningKeys, RoleDataKeys}

// streamRole says what stream name holds, for the log configured as base
// and now in log.
func streamRole(name, base string, log LogPointer) string {
	switch name {
	case log.Stream:
		return RoleLog
	case "KV_" + base + "_LOG":
		return RoleLogPointer
	case base + "_DEADLETTER":
		return RoleDeadLetters
	case "KV_" + base + "_IDEMPOTENCY":
		return RoleIdempotency
	case "KV_" + base + "_THROTTLES":
		return RoleThrottles
	case "KV_" + base + "_KEYS":
		return RoleSigningKeys
	case "KV_" + base + "_DATAKEYS":
		return RoleDataKeys
	case base:
		return roleOldLog
	}
	if rest, ok := strings.CutPrefix(name, base+"_"); ok && rest != "" && strings.Trim(rest, "0123456789") == "" {
		return roleOldLog
	}
	return RoleOther
}

// Manifest describes a backup: what made it, when, and each stream with
// the checksums of its files.
type Manifest struct {
	Format int `json:"format"`
	// Inkwell is the build that took the backup.
	Inkwell BuildInfo `json:"inkwell"`
	// NATSServer is the version of the server the backup was taken from;
	// its snapshots restore into that version or a later one.
	NATSServer string    `json:"nats_server"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// StreamName and SubjectPrefix are the log's as configured: the
	// buckets are named after StreamName.
	StreamName    string `json:"stream_name"`
	SubjectPrefix string `json:"subject_prefix"`
	// Log is the stream holding the log and its subject prefix.
	Log LogPointer `json:"log"`
	// Streams are in the order they were snapshotted.
	Streams []StreamBackup `json:"streams"`
	// Skipped names streams of earlier logs that were not backed up.
	Skipped []string `json:"skipped,omitempty"`
}

// BuildInfo identifies a build of Inkwell.
type BuildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision"`
	Go       string `json:"go"`
}

// StreamBackup is one stream of a backup.
type StreamBackup struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Dir is the stream's directory in the backup (streams/<name>).
	Dir string `json:"dir"`
	// FirstSeq, LastSeq, Messages and Bytes are the stream's state when its
	// snapshot began, as JetStream gave it.
	FirstSeq  uint64 `json:"first_seq"`
	LastSeq   uint64 `json:"last_seq"`
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	Consumers int    `json:"consumers"`
	// Archived is how many messages the snapshot holds, read back (a key
	// that expired or was deleted while it was taken is not there);
	// absent for a snapshot of an older server, which holds files.
	Archived *uint64 `json:"archived,omitempty"`
	// Config is the stream's configuration.
	Config json.RawMessage `json:"config"`
	Files  []BackupFile    `json:"files"`
	// Took is how long its snapshot took, in seconds.
	Took float64 `json:"took_s"`
}

// BackupFile is a file of a backup, with its size and SHA-256.
type BackupFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// signedManifest is the manifest file: the manifest and an HMAC-SHA256 of
// its exact bytes, keyed from the master key, so that a manifest (and
// through its checksums every file) changed by anyone without the master
// key is refused, and a restore with another master key is refused before
// anything is restored.
type signedManifest struct {
	Manifest json.RawMessage `json:"manifest"`
	HMAC     string          `json:"hmac_sha256"`
}

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

// holds checks that a snapshot read back holds the messages its stream
// had: every one for the log (whose messages are never deleted), at most
// them for a bucket (whose keys expire and are deleted), never one past
// the stream's last sequence.
func (c snapshotContent) holds(sb StreamBackup) error {
	if c.Messages > 0 && (c.First < sb.FirstSeq || c.Last > sb.LastSeq) {
		return fmt.Errorf("it holds sequences %d to %d, outside the stream's %d to %d", c.First, c.Last, sb.FirstSeq, sb.LastSeq)
	}
	if c.Messages > sb.Messages || sb.Role == RoleLog && c.Messages != sb.Messages {
		return fmt.Errorf("it holds %d messages, the stream %d", c.Messages, sb.Messages)
	}
	return nil
}

// readSnapshotFile reads a snapshot file back whole (see readSnapshot).
func readSnapshotFile(path string) (snapshotContent, error) {
	f, err := os.Open(path)
	if err != nil {
		return snapshotContent{}, err
	}
	defer f.Close()
	return readSnapshot(f)
}

// writeFile creates path (mode 0600), lets fill write it, syncs it to the
// disk and returns its size and SHA-256.
func writeFile(path string, fill func(io.Writer) error) (BackupFile, error) {
	out := BackupFile{Name: filepath.Base(path)}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return out, err
	}
	defer f.Close()
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(f, h)}
	if err := fill(cw); err != nil {
		return out, err
	}
	if err := f.Sync(); err != nil {
		return out, fmt.Errorf("sync %s: %w", path, err)
	}
	out.Size, out.SHA256 = cw.n, hex.EncodeToString(h.Sum(nil))
	return out, f.Close()
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeManifest signs m with key and writes it into dir, atomically (a
// temporary file renamed), synced with its directory.
func writeManifest(dir string, m *Manifest, key []byte) error {
	body, err := json.MarshalIndent(m, "  ", "  ")
	if err != nil {
		return err
	}
	signed, err := json.MarshalIndent(signedManifest{Manifest: body, HMAC: hex.EncodeToString(manifestMAC(key, body))}, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	if _, err := writeFile(tmp, func(w io.Writer) error {
		_, err := w.Write(append(signed, '\n'))
		return err
	}); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, ManifestFile)); err != nil {
		return err
	}
	return syncDir(dir)
}

// manifestMAC is the HMAC-SHA256 of a manifest's bytes.
func manifestMAC(key, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte("inkwell backup manifest\n"))
	h.Write(body)
	return h.Sum(nil)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// makeEmptyDir makes dir (mode 0700), or checks that it is an empty
// directory: a backup never mixes with other files, nor overwrites one.
func makeEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("backup: make %s: %w", dir, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("backup: %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("backup: %s is not empty: back up into a new directory (a backup never overwrites another)", dir)
	}
	return nil
}

// removeContents removes what a failed backup wrote into dir.
func removeContents(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
