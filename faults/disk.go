package faults

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// MountTmpfs mounts a tmpfs of size (such as "64m") at dir, for a disk that
// fills quickly; it needs root (or CAP_SYS_ADMIN). The returned function
// unmounts it.
func MountTmpfs(dir, size string) (unmount func() error, err error) {
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("mount a tmpfs at %s: %v: %s", dir, err, bytes.TrimSpace(out))
	}
	return func() error {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			return fmt.Errorf("umount %s: %v: %s", dir, err, bytes.TrimSpace(out))
		}
		return nil
	}, nil
}

// FillDisk writes a file under dir until only leave bytes are free on its
// filesystem (or it is full), and returns the file's path: removing it
// frees the space.
func FillDisk(dir string, leave uint64) (string, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "", err
	}
	free := st.Bavail * uint64(st.Bsize)
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for written := uint64(0); written+leave+uint64(len(chunk)) <= free; written += uint64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				break
			}
			return path, err
		}
	}
	return path, f.Sync()
}
