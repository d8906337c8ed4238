package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
)

func TestReadEndsAtTheEventsPresentWhenCreated(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := eventstoretest.MustOpen(t)
	var recs []domain.Record
	for i := 0; i < 50; i++ {
		typ := "claim"
		if i%5 == 0 {
			typ = "user"
		}
		recs = append(recs, domain.Record{Stream: domain.StreamID{Type: typ, ID: fmt.Sprint("s", i%7)}, Version: uint64(i/7 + 1), Event: taken("x")})
	}
	if err := s.AppendBulk(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if head, err := s.Head(ctx); err != nil || head != 50 {
		t.Fatalf("head %d, %v; want 50", head, err)
	}

	// Claims only, from sequence 11: 40 claims in all, 8 of them before 11.
	// The cursor goes through every message from 11 (40), so that it would
	// notice one the log lost.
	cur, err := s.Read(ctx, 11, s.SubjectsOf("claim")...)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	if cur.Remaining() != 40 {
		t.Fatalf("remaining %d, want the 40 messages from 11", cur.Remaining())
	}
	// Appended after Read: not delivered.
	if _, err := s.Append(ctx, stream("late"), domain.Position{}, domain.Meta{}, taken("y")); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, rec := range readToEnd(t, cur) {
		if rec.Stream.Type != "claim" || rec.Seq < 11 {
			t.Fatalf("unexpected record %+v", rec)
		}
		if rec.ID == "" || rec.Version == 0 || rec.ActorID != domain.SystemActorID {
			t.Fatalf("envelope lost in bulk append: %+v", rec)
		}
		seqs = append(seqs, rec.Seq)
	}
	if len(seqs) != 32 || seqs[0] != 12 || seqs[31] != 50 {
		t.Fatalf("read %d events (%v)", len(seqs), seqs)
	}
	for i := 1; i < len(seqs); i++ {
		if seqs[i] <= seqs[i-1] {
			t.Fatalf("out of order: %v", seqs)
		}
	}
	if _, ok, err := cur.TryNext(); ok || !errors.Is(err, io.EOF) {
		t.Fatalf("TryNext after the end: %v, %v", ok, err)
	}

	// Several subjects are selected on the client: the same events and the
	// late one, with Remaining counting the skipped messages too.
	multi, err := s.Read(ctx, 11, s.SubjectsOf("claim", "article")...)
	if err != nil {
		t.Fatal(err)
	}
	defer multi.Close()
	if multi.Remaining() != 41 {
		t.Fatalf("remaining %d, want the 41 messages from 11", multi.Remaining())
	}
	var got []uint64
	for _, rec := range readToEnd(t, multi) {
		got = append(got, rec.Seq)
	}
	if !slices.Equal(got, append(seqs, 51)) || multi.Remaining() != 0 {
		t.Fatalf("client-side selection read %v (remaining %d), want %v", got, multi.Remaining(), seqs)
	}

	// An empty range ends at once.
	empty, err := s.Read(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	if _, err := empty.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("empty read: %v", err)
	}
}

// readToEnd reads cur until it ends.
func readToEnd(t *testing.T, cur *eventstore.Cursor) []domain.Record {
	t.Helper()
	var out []domain.Record
	for {
		rec, err := cur.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}
