package projections_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"inkwell/projections"
)

// SQLite's write transactions queue in the process (projections/writer.go):
// one at a time, each beginning once the one before ended (by a commit or a
// rollback); a reading transaction does not queue; a writer waiting for its
// turn gives up when its context ends.
func TestSQLiteWritersTakeTurns(t *testing.T) {
	ctx := context.Background()
	db, err := projections.Open(ctx, filepath.Join(t.TempDir(), "turns.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(ctx, "CREATE TABLE n (v INTEGER)"); err != nil {
		t.Fatal(err)
	}

	first, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.ExecContext(ctx, "INSERT INTO n VALUES (1)"); err != nil {
		t.Fatal(err)
	}

	// A reader begins while the writer holds its turn.
	read, err := db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := read.GetContext(ctx, &rows, "SELECT COUNT(*) FROM n"); err != nil || rows != 0 {
		t.Fatalf("a reader beside the writer: %d rows (%v), want 0", rows, err)
	}
	if err := read.Rollback(); err != nil {
		t.Fatal(err)
	}

	// A writer whose context ends while it waits gives up.
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := make(chan error)
	go func() {
		tx, err := db.BeginTxx(cctx, nil)
		if err == nil {
			tx.Rollback()
		}
		gaveUp <- err
	}()
	cancel()
	if err := <-gaveUp; !errors.Is(err, context.Canceled) {
		t.Fatalf("a writer cancelled while another writes: %v, want context.Canceled", err)
	}

	// The next writer begins once the first has ended, and sees its row.
	var ended atomic.Bool
	type begun struct {
		rows  int
		ended bool
		err   error
	}
	second := make(chan begun)
	go func() {
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			second <- begun{err: err}
			return
		}
		b := begun{ended: ended.Load()}
		b.err = tx.GetContext(ctx, &b.rows, "SELECT COUNT(*) FROM n")
		if _, err := tx.ExecContext(ctx, "INSERT INTO n VALUES (2)"); err != nil && b.err == nil {
			b.err = err
		}
		if err := tx.Rollback(); err != nil && b.err == nil {
			b.err = err
		}
		second <- b
	}()
	ended.Store(true) // before the commit gives the turn on
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}
	b := <-second
	if b.err != nil || !b.ended || b.rows != 1 {
		t.Fatalf("the second writer: began after the first ended %v, saw %d rows (%v); want true, 1", b.ended, b.rows, b.err)
	}

	// A rollback gave the turn back too: a third writer goes ahead.
	third, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := third.Commit(); err != nil {
		t.Fatal(err)
	}
}
