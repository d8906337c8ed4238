package eventstoretest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Damage to the files of a stopped embedded server, as a disk may do it.
// The embedded store keeps each stream's messages in block files
// (<store dir>/jetstream/$G/streams/<stream>/msgs/<n>.blk) and its state in
// an index beside them (index.db); a message is found in its block by its
// event id, which it carries in a header (Nats-Msg-Id).

// BlockOf returns the block file of stream under storeDir holding the
// message whose event id is id, and where the id is in it.
func BlockOf(tb testing.TB, storeDir, stream, id string) (path string, at int) {
	tb.Helper()
	blocks, err := filepath.Glob(filepath.Join(streamDir(storeDir, stream), "msgs", "*.blk"))
	if err != nil {
		tb.Fatal(err)
	}
	for _, b := range blocks {
		data, err := os.ReadFile(b)
		if err != nil {
			tb.Fatal(err)
		}
		if i := bytes.Index(data, []byte(id)); i >= 0 {
			return b, i
		}
	}
	tb.Fatalf("no block of stream %s under %s holds event %s", stream, storeDir, id)
	return "", 0
}

// FlipByte flips one bit of the message of stream whose event id is id, in
// its block file: the message no longer matches its checksum.
func FlipByte(tb testing.TB, storeDir, stream, id string) {
	tb.Helper()
	path, at := BlockOf(tb, storeDir, stream, id)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	// A byte of the id itself: inside the message, wherever the block
	// puts its headers.
	if _, err := f.ReadAt(b, int64(at+len(id)/2)); err != nil {
		tb.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, int64(at+len(id)/2)); err != nil {
		tb.Fatal(err)
	}
}

// TruncateAt cuts the block file holding the message of stream whose event
// id is id short, in the middle of that message: it and every message after
// it in the block are lost.
func TruncateAt(tb testing.TB, storeDir, stream, id string) {
	tb.Helper()
	path, at := BlockOf(tb, storeDir, stream, id)
	if err := os.Truncate(path, int64(at)); err != nil {
		tb.Fatal(err)
	}
}

// RemoveIndex removes the index of stream (index.db), which records its
// state: the server rebuilds it from the blocks.
func RemoveIndex(tb testing.TB, storeDir, stream string) {
	tb.Helper()
	if err := os.Remove(filepath.Join(streamDir(storeDir, stream), "msgs", "index.db")); err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
}

func streamDir(storeDir, stream string) string {
	return filepath.Join(storeDir, "jetstream", "$G", "streams", stream)
}
