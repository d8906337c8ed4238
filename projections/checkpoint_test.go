package projections_test

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"inkwell/projections"
)

// openBlobs opens a SQLite database in a directory of the test's with a
// table of blobs, and returns it with the path of its write-ahead log.
func openBlobs(t *testing.T) (*projections.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "checkpoints.db")
	db, err := projections.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(context.Background(), "CREATE TABLE blobs (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	return db, path + "-wal"
}

// commitBlob commits a transaction that adds a blob of a page or so.
func commitBlob(t *testing.T, db *projections.DB) {
	t.Helper()
	tx, err := db.BeginTxx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("INSERT INTO blobs (b) VALUES (?)", []byte(strings.Repeat("b", 3000))); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// A commit to SQLite does not checkpoint (copy the write-ahead log into
// the database, syncing both), however long the log: the checkpoints run
// beside the writers (projections/checkpoint.go). With SQLite's automatic
// checkpoint, the commit that takes the log past 1,000 pages would have
// copied it, and the next would have started it over.
func TestSQLiteCommitsDoNotCheckpoint(t *testing.T) {
	db, _ := openBlobs(t)
	projections.StopCheckpoints(db)
	for range 1500 {
		commitBlob(t, db)
	}
	var busy, frames, copied int
	if err := db.QueryRowx("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		t.Fatal(err)
	}
	if frames < 1500 {
		t.Fatalf("the log holds %d pages after 1,500 commits of a page each: a commit checkpointed", frames)
	}
}

// Under a steady load of commits, none waiting for another, SQLite's
// write-ahead log still starts over, again and again, rather than growing
// for ever: a passive checkpoint beside the writers never reaches the end
// of a log they keep appending to, so the checkpointer takes their turn
// once the log is long.
func TestSQLiteLogStartsOverUnderASteadyLoad(t *testing.T) {
	defer projections.SetCheckpointRestart(64)()
	db, wal := openBlobs(t)
	// The log's header holds a salt that changes each time the log starts
	// over (https://sqlite.org/fileformat2.html#walformat).
	salt := func() uint32 {
		f, err := os.Open(wal)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var h [20]byte
		if _, err := f.ReadAt(h[:], 0); err != nil {
			t.Fatal(err)
		}
		return binary.BigEndian.Uint32(h[16:])
	}
	const tooLong = 256 << 20 // a log that grew this long never started over
	commitBlob(t, db)
	last, restarts := salt(), 0
	for restarts < 3 {
		commitBlob(t, db)
		if s := salt(); s != last {
			last, restarts = s, restarts+1
		}
		if fi, err := os.Stat(wal); err != nil {
			t.Fatal(err)
		} else if fi.Size() > tooLong {
			t.Fatalf("the log grew to %d bytes, having started over %d times", fi.Size(), restarts)
		}
	}
}
