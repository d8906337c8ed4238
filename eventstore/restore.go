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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// BackupDir is a backup read from its directory, its manifest's signature
// and shape checked (OpenBackup).
type BackupDir struct {
	Dir      string
	Manifest Manifest
}

// ErrManifestSignature is returned by OpenBackup when the manifest's HMAC
// does not check with the key given.
var ErrManifestSignature = errors.New("the manifest's signature does not check: the backup was changed since it was taken, or it was taken with another master key")

// maxManifest bounds the manifest read (one a few kilobytes long).
const maxManifest = 16 << 20

// OpenBackup reads the manifest of the backup in dir and checks it: its
// HMAC with key (ErrManifestSignature), its format, and that it names only
// streams of an Inkwell log, each in its own directory with the two files
// of the nats tool's format. It does not read the files (Verify does).
func OpenBackup(dir string, key []byte) (*BackupDir, error) {
	path := filepath.Join(dir, ManifestFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(dir); serr != nil {
			return nil, fmt.Errorf("backup %s: %w", dir, serr)
		}
		return nil, fmt.Errorf("%s has no %s: it is not an Inkwell backup, or one that did not finish", dir, ManifestFile)
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(raw) > maxManifest {
		return nil, fmt.Errorf("%s is larger than a manifest can be (%d bytes)", path, maxManifest)
	}
	var signed signedManifest
	if err := strictJSON(raw, &signed); err != nil {
		return nil, fmt.Errorf("%s is not a backup manifest: %w", path, err)
	}
	mac, err := hex.DecodeString(signed.HMAC)
	if err != nil || !hmac.Equal(mac, manifestMAC(key, signed.Manifest)) {
		return nil, fmt.Errorf("%s: %w", path, ErrManifestSignature)
	}
	var format struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(signed.Manifest, &format); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if format.Format != BackupFormat {
		return nil, fmt.Errorf("%s is of format %d; this build of Inkwell reads format %d: restore it with the build that took it, or a later one", path, format.Format, BackupFormat)
	}
	b := &BackupDir{Dir: dir}
	if err := strictJSON(signed.Manifest, &b.Manifest); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := b.Manifest.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// strictJSON decodes one JSON value, refusing fields v does not have.
func strictJSON(raw []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// check validates the shape of a manifest whose signature checked: it is
// still the only description of files a restore sends to NATS.
func (m *Manifest) check() error {
	if !validStreamName(m.StreamName) || m.Log.Stream == "" {
		return fmt.Errorf("names no log (stream %q, log %q)", m.StreamName, m.Log.Stream)
	}
	seen := map[string]bool{}
	logs := 0
	for _, sb := range m.Streams {
		switch {
		case !validStreamName(sb.Name):
			return fmt.Errorf("names a stream %q", sb.Name)
		case seen[sb.Name]:
			return fmt.Errorf("names the stream %s twice", sb.Name)
		case sb.Dir != StreamsDir+"/"+sb.Name:
			return fmt.Errorf("puts the stream %s in %q, not %s/%s", sb.Name, sb.Dir, StreamsDir, sb.Name)
		case sb.Role != streamRole(sb.Name, m.StreamName, m.Log) || sb.Role == roleOldLog:
			return fmt.Errorf("the stream %s is no stream of the log %s", sb.Name, m.StreamName)
		case len(sb.Files) != 2 || sb.Files[0].Name != metaFile || sb.Files[1].Name != dataFile:
			return fmt.Errorf("the stream %s should have the files %s and %s", sb.Name, metaFile, dataFile)
		}
		for _, f := range sb.Files {
			if sum, err := hex.DecodeString(f.SHA256); err != nil || len(sum) != sha256.Size || f.Size < 0 {
				return fmt.Errorf("the file %s of %s has no valid size and SHA-256", f.Name, sb.Name)
			}
		}
		seen[sb.Name] = true
		if sb.Role == RoleLog {
			logs++
		}
	}
	if logs != 1 {
		return fmt.Errorf("holds %d copies of the log %s", logs, m.Log.Stream)
	}
	return nil
}

// validStreamName reports whether name can name a JetStream stream, and a
// directory of a backup: no separators, wildcards, spaces or dots.
func validStreamName(name string) bool {
	return name != "" && len(name) <= 255 && !strings.ContainsAny(name, ". *>/\\\x00\t\r\n")
}

// Verify checks every file of the backup against the manifest (nothing
// missing or added, each of its size and SHA-256), and reads every snapshot
// back whole (see readSnapshot), checking that it holds what the manifest
// says.
func (b *BackupDir) Verify() error {
	top, err := os.ReadDir(b.Dir)
	if err != nil {
		return err
	}
	for _, e := range top {
		if e.Name() != ManifestFile && e.Name() != StreamsDir {
			return fmt.Errorf("%s holds %s, which no backup holds: is it the backup's directory?", b.Dir, e.Name())
		}
	}
	dirs, err := os.ReadDir(filepath.Join(b.Dir, StreamsDir))
	if err != nil {
		return err
	}
	var want []string
	for _, sb := range b.Manifest.Streams {
		want = append(want, sb.Name)
	}
	for _, d := range dirs {
		if !slices.Contains(want, d.Name()) {
			return fmt.Errorf("%s holds %s, which the manifest does not name", filepath.Join(b.Dir, StreamsDir), d.Name())
		}
	}
	for _, sb := range b.Manifest.Streams {
		if err := b.verifyStream(sb); err != nil {
			return fmt.Errorf("the backup's stream %s: %w", sb.Name, err)
		}
	}
	return nil
}

func (b *BackupDir) verifyStream(sb StreamBackup) error {
	sdir := filepath.Join(b.Dir, filepath.FromSlash(sb.Dir))
	entries, err := os.ReadDir(sdir)
	if err != nil {
		return err
	}
	if len(entries) != len(sb.Files) {
		return fmt.Errorf("%s holds %d files, the manifest names %d", sdir, len(entries), len(sb.Files))
	}
	for _, f := range sb.Files {
		if err := checkFile(filepath.Join(sdir, f.Name), f); err != nil {
			return err
		}
	}
	if _, _, err := b.meta(sb); err != nil {
		return err
	}
	content, err := readSnapshotFile(filepath.Join(sdir, dataFile))
	if err != nil {
		return err
	}
	if content.Archive {
		if sb.Archived != nil && *sb.Archived != content.Messages {
			return fmt.Errorf("its snapshot holds %d messages, the manifest says %d", content.Messages, *sb.Archived)
		}
		return content.holds(sb)
	}
	return nil
}

// checkFile checks that path is a regular file of f's size and SHA-256.
func checkFile(path string, f BackupFile) error {
	info, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if info.Size() != f.Size {
		return fmt.Errorf("%s is %d bytes long, the manifest says %d: it was cut or changed", path, info.Size(), f.Size)
	}
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%s has SHA-256 %s, the manifest says %s: it was changed", path, got, f.SHA256)
	}
	return nil
}

// meta reads a stream's backup.json: its config and state, which must be
// the manifest's.
func (b *BackupDir) meta(sb StreamBackup) (config, state json.RawMessage, err error) {
	raw, err := os.ReadFile(filepath.Join(b.Dir, filepath.FromSlash(sb.Dir), metaFile))
	if err != nil {
		return nil, nil, err
	}
	var meta struct {
		Config json.RawMessage `json:"config"`
		State  json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", metaFile, err)
	}
	var cfg struct {
		Name string `json:"name"`
	}
	var st jetstream.StreamState
	if json.Unmarshal(meta.Config, &cfg) != nil || json.Unmarshal(meta.State, &st) != nil || cfg.Name != sb.Name ||
		st.LastSeq != sb.LastSeq || st.FirstSeq != sb.FirstSeq || st.Msgs != sb.Messages {
		return nil, nil, fmt.Errorf("%s does not describe the stream the manifest does", metaFile)
	}
	return meta.Config, meta.State, nil
}

// TargetNotEmptyError is returned by RestoreBackup when NATS already holds
// streams of the log: a backup restores only into a NATS without them.
type TargetNotEmptyError struct {
	Streams []string
}

func (e *TargetNotEmptyError) Error() string {
	return fmt.Sprintf("NATS already holds Inkwell's streams (%s): a backup restores only into a NATS without them", strings.Join(e.Streams, ", "))
}

// CheckEmpty returns a *TargetNotEmptyError if NATS holds streams of the
// log configured as stream (the log, its buckets, its dead letters).
func CheckEmpty(ctx context.Context, nc *nats.Conn, stream string) error {
	_, existing, err := ownStreams(ctx, nc, stream)
	if err != nil {
		return err
	}
	if len(existing) == 0 {
		return nil
	}
	e := &TargetNotEmptyError{}
	for _, s := range existing {
		e.Streams = append(e.Streams, s.CachedInfo().Config.Name)
	}
	return e
}

// RestoreOptions tunes RestoreBackup.
type RestoreOptions struct {
	// Replicas is how many copies a cluster keeps of each restored stream
	// (default 1).
	Replicas int
	// Verified says that the caller verified the backup (Verify) already.
	Verified bool
	// Progress, if set, is called after each stream is restored.
	Progress func(RestoredStream)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// RestoredStream describes a stream RestoreBackup restored.
type RestoredStream struct {
	Name, Role                         string
	Messages, FirstSeq, LastSeq, Bytes uint64
	Took                               time.Duration
}

// RestoreBackup restores every stream of b (verified first: Verify) into
// the NATS nc reaches, which must hold none of the log's streams
// (*TargetNotEmptyError). Each keeps its config, but for the replicas of
// opts. A restore that fails removes the streams it restored, so that NATS
// is as empty as before.
func RestoreBackup(ctx context.Context, nc *nats.Conn, b *BackupDir, opts RestoreOptions) (out []RestoredStream, err error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Replicas = max(opts.Replicas, 1)
	m := &b.Manifest
	if err := CheckServer(ctx, nc); err != nil {
		return nil, err
	}
	if v := nc.ConnectedServerVersion(); !versionAtLeast(v, m.NATSServer) {
		return nil, fmt.Errorf("the backup was taken from NATS %s, whose snapshots an earlier server may not read; this one is %s: restore into NATS %s or later",
			m.NATSServer, v, m.NATSServer)
	}
	if err := CheckEmpty(ctx, nc, m.StreamName); err != nil {
		return nil, err
	}
	if !opts.Verified {
		if err := b.Verify(); err != nil {
			return nil, err
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			return
		}
		// Leave NATS as it was: without the streams of a restore that
		// did not finish.
		cleanup := context.WithoutCancel(ctx)
		for _, r := range out {
			if derr := js.DeleteStream(cleanup, r.Name); derr != nil && !errors.Is(derr, jetstream.ErrStreamNotFound) {
				err = fmt.Errorf("%w; and the stream %s it restored could not be removed (%v): remove it before restoring again", err, r.Name, derr)
			}
		}
		out = nil
	}()
	for _, sb := range m.Streams {
		r, err := b.restoreOne(ctx, nc, sb, opts)
		if r.Name != "" {
			out = append(out, r)
		}
		if err != nil {
			return out, err
		}
		if opts.Progress != nil {
			opts.Progress(r)
		}
	}
	return out, nil
}

// restoreOne restores one stream; a stream created before its restore
// failed is returned to be removed.
func (b *BackupDir) restoreOne(ctx context.Context, nc *nats.Conn, sb StreamBackup, opts RestoreOptions) (RestoredStream, error) {
	start := opts.Now()
	config, state, err := b.meta(sb)
	if err != nil {
		return RestoredStream{}, fmt.Errorf("the backup's stream %s: %w", sb.Name, err)
	}
	if config, err = withReplicas(config, sb.Role, opts.Replicas); err != nil {
		return RestoredStream{}, fmt.Errorf("the backup's stream %s: %w", sb.Name, err)
	}
	f, err := os.Open(filepath.Join(b.Dir, filepath.FromSlash(sb.Dir), dataFile))
	if err != nil {
		return RestoredStream{}, err
	}
	defer f.Close()
	got, err := restoreStream(ctx, nc, sb.Name, config, state, f)
	r := RestoredStream{Name: sb.Name, Role: sb.Role, Messages: got.Msgs, FirstSeq: got.FirstSeq, LastSeq: got.LastSeq, Bytes: got.Bytes, Took: opts.Now().Sub(start)}
	if err != nil {
		// The server may have made the stream before it failed.
		return r, err
	}
	// The restored stream ends where the snapshot's did (its sequences
	// go on from there), and the log holds every message it had.
	if got.LastSeq != sb.LastSeq || sb.Role == RoleLog && (got.Msgs != sb.Messages || got.FirstSeq != sb.FirstSeq) {
		return r, fmt.Errorf("the restored stream %s holds %d messages, sequences %d to %d; the backup %d, %d to %d",
			sb.Name, got.Msgs, got.FirstSeq, got.LastSeq, sb.Messages, sb.FirstSeq, sb.LastSeq)
	}
	return r, nil
}

// withReplicas sets the replicas of a stream's config. A replicated
// stream is read through its leader (a replica catching up would answer a
// direct get with what it has: see Open and openBucket), a stream of one
// replica directly, as Inkwell makes them.
func withReplicas(config json.RawMessage, role string, replicas int) (json.RawMessage, error) {
	var c map[string]json.RawMessage
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("its config: %w", err)
	}
	c["num_replicas"], _ = json.Marshal(replicas)
	if role != RoleDeadLetters {
		c["allow_direct"], _ = json.Marshal(replicas == 1)
	}
	return json.Marshal(c)
}
