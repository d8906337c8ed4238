package eventstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
)

// damagedLog appends 15 events to a log of an embedded server, on four
// claims (event i on claim c<i%4>, so that each claim has several
// versions), stops the server, damages its files, starts it again and
// returns a store on it and the events as appended.
func damagedLog(t *testing.T, damage func(dir string, recs []domain.Record)) (*eventstore.Store, []domain.Record) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	e := eventstoretest.MustStartEmbedded(t, dir)
	s := eventstoretest.MustOpenOn(t, e.Connect(t), eventstore.Config{})
	var recs []domain.Record
	for i := 1; i <= 15; i++ {
		id := stream(fmt.Sprint("c", i%4))
		_, pos, err := s.Load(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.Append(ctx, id, pos, domain.Meta{}, taken(fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r...)
	}
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
	damage(dir, recs)
	e = eventstoretest.MustStartEmbedded(t, dir)
	return eventstoretest.MustOpenOn(t, e.Connect(t), eventstore.Config{}), recs
}

// checkState checks the state of the log of s (see Store.CheckState).
func checkState(t *testing.T, s *eventstore.Store) *eventstore.LogCheck {
	t.Helper()
	check, err := s.CheckState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return check
}

// readAll reads the log of s from its start (of the subjects given, or
// all) to its end, returning the sequences of its events and the gaps it
// reported; the test fails if it does not end within a minute (a cursor
// that waits for a lost message waits for ever).
func readAll(t *testing.T, s *eventstore.Store, subjects ...string) (seqs []uint64, gaps []eventstore.GapError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cur, err := s.Read(ctx, 1, subjects...)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	for {
		rec, err := cur.Next(ctx)
		var gap *eventstore.GapError
		switch {
		case errors.Is(err, io.EOF):
			return seqs, gaps
		case errors.As(err, &gap):
			gaps = append(gaps, *gap)
		case err != nil:
			t.Fatalf("after %v (gaps %v): %v", seqs, gaps, err)
		default:
			seqs = append(seqs, rec.Seq)
		}
	}
}

func seqsExcept(n uint64, lost ...uint64) []uint64 {
	var out []uint64
	for s := uint64(1); s <= n; s++ {
		if !slices.Contains(lost, s) {
			out = append(out, s)
		}
	}
	return out
}

// One byte flipped in a message of a block while the server was stopped:
// JetStream keeps the stream's state as it was, says nothing, and skips the
// message when it reads the block. Store.Read ends (it used to wait for
// ever for the message the server counted) and reports the gap; Verify
// finds exactly the lost sequence and the aggregate version it took; once
// the loss is accepted, readers go past it and the log verifies clean.
func TestAFlippedByteIsAGapThatReadersReportAndVerifyFinds(t *testing.T) {
	ctx := context.Background()
	s, recs := damagedLog(t, func(dir string, recs []domain.Record) {
		eventstoretest.FlipByte(t, dir, "INKWELL", recs[8].ID)
	})

	state := checkState(t, s)
	if state.Damaged() || state.Last != 15 || state.Messages != 15 {
		t.Fatalf("the stream's state shows the damage (%+v): the server's behaviour changed, and this test with it", state)
	}

	seqs, gaps := readAll(t, s)
	if !slices.Equal(seqs, seqsExcept(15, 9)) || !slices.Equal(gaps, []eventstore.GapError{{First: 9, Last: 9}}) {
		t.Fatalf("read %v with gaps %v; want every event but 9, and the gap 9", seqs, gaps)
	}
	// A rebuild of one aggregate type reads every message too, and so
	// notices the gap.
	if seqs, gaps := readAll(t, s, s.SubjectsOf("user")...); len(seqs) != 0 || len(gaps) != 1 {
		t.Fatalf("a read of users' events (none) gave %v and gaps %v; want the gap 9 alone", seqs, gaps)
	}

	check, err := s.Verify(ctx, eventstore.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !check.Scanned || check.Read != 14 || check.Aggregates != 4 || !check.Damaged() {
		t.Fatalf("verify: %+v", check)
	}
	if len(check.Gaps) != 1 || check.Gaps[0].First != 9 || check.Gaps[0].Last != 9 || check.Gaps[0].Accepted != nil {
		t.Fatalf("verify found gaps %+v, want 9 alone, not accepted", check.Gaps)
	}
	// Event 9 was version 3 of claim c1 (events 1, 5, 9, 13): 13 skips it,
	// and the gap explains it.
	if len(check.VersionGaps) != 1 || check.VersionGaps[0].Stream != recs[8].Stream || check.VersionGaps[0].Seq != 13 ||
		check.VersionGaps[0].Want != 3 || check.VersionGaps[0].Have != 4 || check.VersionGaps[0].In == nil {
		t.Fatalf("version gaps %+v, want claim c1 skipping version 3 at 13, within the gap", check.VersionGaps)
	}
	// What a server reads at start-up, the envelopes alone, finds the same.
	if env, err := s.Verify(ctx, eventstore.VerifyOptions{EnvelopesOnly: true}); err != nil || len(env.Gaps) != 1 || env.Gaps[0].First != 9 || len(env.VersionGaps) != 1 {
		t.Fatalf("verify of the envelopes: %+v, %v", env, err)
	}
	if adv := check.Advice(); !strings.Contains(adv, "accept-loss --seq 9 ") || !strings.Contains(adv, "inkwell restore") {
		t.Fatalf("advice %q names neither the acceptance of 9 nor a restore", adv)
	}

	if _, err := s.AcceptLoss(ctx, domain.LossAccepted{First: 8, Last: 9, Reason: "r"}, domain.Meta{}); !errors.Is(err, eventstore.ErrNotLost) {
		t.Fatalf("accepting the loss of 8, which the log holds: %v", err)
	}
	a, err := s.AcceptLoss(ctx, domain.LossAccepted{First: 9, Last: 9, Reason: "no backup holds it", By: "test"}, domain.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if a.LogLast != 15 {
		t.Fatalf("accepted %+v, want the log's end 15 recorded", a)
	}
	if seqs, gaps := readAll(t, s); !slices.Equal(seqs, seqsExcept(16, 9)) || len(gaps) != 0 {
		t.Fatalf("after the acceptance, read %v with gaps %v; want every event but 9 (and the acceptance, 16), no gap", seqs, gaps)
	}
	check, err = s.Verify(ctx, eventstore.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if check.Damaged() || len(check.Gaps) != 1 || check.Gaps[0].Accepted == nil || check.Gaps[0].Accepted.By != "test" {
		t.Fatalf("after the acceptance, verify: damaged %t, gaps %+v, problems %q", check.Damaged(), check.Gaps, check.Problems())
	}
}

// A cursor following the log (every subject, or several) reports a gap and
// goes on after it.
func TestAFollowingCursorReportsTheGapAndGoesOn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, _ := damagedLog(t, func(dir string, recs []domain.Record) {
		eventstoretest.FlipByte(t, dir, "INKWELL", recs[3].ID)
	})
	cur, err := s.Follow(ctx, 2, s.SubjectsOf("claim", "user")...)
	if err != nil {
		t.Fatal(err)
	}
	defer cur.Close()
	var got []string
	for len(got) < 14 {
		rec, err := cur.Next(ctx)
		var gap *eventstore.GapError
		switch {
		case errors.As(err, &gap):
			got = append(got, "gap "+domain.SeqRange(gap.First, gap.Last))
		case err != nil:
			t.Fatalf("after %v: %v", got, err)
		default:
			got = append(got, fmt.Sprint(rec.Seq))
		}
	}
	want := []string{"2", "3", "gap 4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"}
	if !slices.Equal(got, want) {
		t.Fatalf("followed %v, want %v", got, want)
	}
}

// The last message damaged: the server still counts it as pending, and
// delivers nothing more. Store.Read ends and names it.
func TestReadEndsWhenTheLastMessageIsLost(t *testing.T) {
	ctx := context.Background()
	s, _ := damagedLog(t, func(dir string, recs []domain.Record) {
		eventstoretest.FlipByte(t, dir, "INKWELL", recs[14].ID)
	})
	seqs, gaps := readAll(t, s, s.SubjectsOf("claim")...)
	if !slices.Equal(seqs, seqsExcept(14)) || !slices.Equal(gaps, []eventstore.GapError{{First: 15, Last: 15}}) {
		t.Fatalf("read %v with gaps %v; want 1..14 and the gap 15", seqs, gaps)
	}
	check, err := s.Verify(ctx, eventstore.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(check.Gaps) != 1 || check.Gaps[0].First != 15 || check.Read != 14 {
		t.Fatalf("verify found %+v in %d messages, want the gap 15 in 14", check.Gaps, check.Read)
	}
}

// A block cut short: the server rebuilds the stream's state with the lost
// sequences deleted (which a log that denies deletes cannot have), so the
// state alone shows the damage.
func TestATruncatedBlockIsFoundInTheStreamsState(t *testing.T) {
	s, _ := damagedLog(t, func(dir string, recs []domain.Record) {
		eventstoretest.TruncateAt(t, dir, "INKWELL", recs[13].ID)
	})
	state := checkState(t, s)
	if !state.Damaged() || len(state.Gaps) != 1 || state.Gaps[0].First != 14 || state.Gaps[0].Last != 15 {
		t.Fatalf("state check: %+v", state)
	}
	if seqs, gaps := readAll(t, s); !slices.Equal(seqs, seqsExcept(13)) || !slices.Equal(gaps, []eventstore.GapError{{First: 14, Last: 15}}) {
		t.Fatalf("read %v with gaps %v; want 1..13 and the gap 14..15", seqs, gaps)
	}
	// A read model that applied the lost events has its checkpoint within
	// the log (the sequences stay taken): only the gap is damage.
	state.AddCheckpoint("articles", 15)
	if len(state.Behind) != 0 {
		t.Fatalf("a checkpoint at the log's last sequence is behind: %+v", state.Behind)
	}
}

// A block cut short and its index lost: the server rebuilds the stream from
// the blocks, and the log ends before the events it lost. A read model
// that applied them is ahead of the log: new events would take sequences it
// counts as applied. The acceptance of their loss records the log's end;
// the read model is then to be rebuilt.
func TestALogThatEndsBeforeAReadModelIsDamage(t *testing.T) {
	ctx := context.Background()
	s, _ := damagedLog(t, func(dir string, recs []domain.Record) {
		eventstoretest.TruncateAt(t, dir, "INKWELL", recs[13].ID)
		eventstoretest.RemoveIndex(t, dir, "INKWELL")
	})
	check := checkState(t, s)
	if check.Last != 13 || len(check.Gaps) != 0 {
		t.Fatalf("state %+v: want a log ending at 13 without gaps", check)
	}
	check.AddCheckpoint("users", 13)
	check.AddCheckpoint("articles", 15)
	if !check.Damaged() || len(check.Behind) != 1 || check.Behind[0].Name != "articles" || check.Behind[0].Accepted != nil {
		t.Fatalf("behind: %+v", check.Behind)
	}
	if adv := check.Advice(); !strings.Contains(adv, "accept-loss --seq 14-15 ") {
		t.Fatalf("advice %q does not name the acceptance of 14..15", adv)
	}
	if _, err := s.AcceptLoss(ctx, domain.LossAccepted{First: 14, Last: 15, Reason: "no backup"}, domain.Meta{}); err != nil {
		t.Fatal(err)
	}
	check = checkState(t, s)
	check.AddCheckpoint("articles", 15)
	if check.Last != 14 || len(check.Behind) != 1 || check.Behind[0].Accepted == nil || !strings.Contains(check.Advice(), "inkwell replay") {
		t.Fatalf("after the acceptance: last %d, behind %+v, advice %q", check.Last, check.Behind, check.Advice())
	}
}
