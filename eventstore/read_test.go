package eventstore_test

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

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

// slowKeys opens sealed fields slowly: a reader that decodes more slowly
// than the server delivers, as a busy instance reading big events does.
type slowKeys struct{ eventstore.DataKeys }

func (k slowKeys) Opener(ctx context.Context, subject string) (cipher.AEAD, error) {
	time.Sleep(2 * time.Millisecond) // the fault: a slow decoder
	return k.DataKeys.Opener(ctx, subject)
}

// A reader of big events that decodes more slowly than the server delivers
// them keeps its connection: what it has asked for and not taken yet is
// bounded in bytes, not only in messages, so it never overflows the
// client's buffer (the client would be a slow consumer and lose messages,
// and a server cuts a slow consumer's connection, on which every other
// request of the instance runs).
func TestReadingBigEventsSlowlyIsNoSlowConsumer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := eventstoretest.MustStartEmbedded(t, "")
	slow := make(chan error, 16)
	nc, err := nats.Connect(e.Server.ClientURL(), nats.InProcessServer(e.Server), nats.Token(e.Token),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrSlowConsumer) {
				select {
				case slow <- err:
				default:
				}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	master := eventstoretest.NewMasterKey(t)
	w := eventstoretest.MustOpenWithMaster(t, nc, eventstore.Config{}, master)
	bio := strings.Repeat("b", 100<<10)
	const n = 800 // 80 MB of sealed bios: more than the client buffers (64 MiB)
	for i := 0; i < n; i += 50 {
		var recs []domain.Record
		for j := i; j < i+50; j++ {
			id := fmt.Sprintf("01900000-0000-7000-8000-%012d", j)
			ev := &domain.UserRegistered{UserID: id, Username: fmt.Sprint("u", j), Email: fmt.Sprint("u", j, "@example.com"), Bio: bio, IsActive: true}
			recs = append(recs, domain.Record{Stream: domain.UserStream(id), Version: 1, Event: ev, SchemaVersion: domain.SchemaVersionOf(ev)})
		}
		if err := w.AppendBulk(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}

	r, err := eventstore.Open(ctx, nc, eventstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	r.UsePersonalData(slowKeys{eventstoretest.MustOpenDataKeys(t, r, master)}, master.Derive("claims"))
	cur, err := r.Read(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	read := 0
	for {
		rec, err := cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d events: %v", read, err)
		}
		read++
		if e, ok := rec.Event.(*domain.UserRegistered); !ok || e.Bio != bio {
			t.Fatalf("event %d is not the registration it was", rec.Seq)
		}
	}
	select {
	case err := <-slow:
		t.Fatalf("the reader was a slow consumer: %v", err)
	default:
	}
	if read != n {
		t.Fatalf("read %d events, want %d", read, n)
	}
}
