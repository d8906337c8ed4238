// Verifying a backup's files against its manifest: sizes, hashes and the snapshots' contents.

package eventstore

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

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
