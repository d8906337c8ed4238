// Opening a backup: reading its manifest, checking its signature and its form.

package eventstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

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
