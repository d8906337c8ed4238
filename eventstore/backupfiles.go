// The files a backup writes: synced, counted and hashed, in a directory of their own.

package eventstore

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

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
