package eventstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// LogCheck is what a check of the log found: CheckState looks at the
// stream's state (cheap), Verify also reads every message.
//
// JetStream says nothing when it loses a message on disk: a block file with
// a damaged message keeps the stream's state as it was, and the server
// skips the message when it reads the block; a block cut short rebuilds the
// state with the lost sequences deleted (or, without its index, with the
// log ending before them). A log that denies deletes and purges cannot have
// either, so both are losses.
type LogCheck struct {
	Stream string
	// The stream's state when the check began.
	Messages, First, Last uint64
	// LostBytes is what the server says it lost when it recovered the
	// stream from its files.
	LostBytes uint64

	// Scanned is set when every message up to Last was read (Verify), Read
	// says how many, and Aggregates how many aggregates they belong to.
	Scanned    bool
	Read       uint64
	Aggregates int
	Duration   time.Duration

	// Gaps are the sequences up to Last the log does not hold.
	Gaps []Gap
	// StateProblem says how the stream's state is wrong in a way that
	// names no sequence ("" when it is not).
	StateProblem string
	// Undecodable are the messages that are not events Inkwell can read.
	Undecodable []BadMessage
	// VersionGaps are the aggregates whose versions skip.
	VersionGaps []VersionGap
	// Behind are the read models that applied events past the log's end.
	Behind []Behind
	// Losses are the losses accepted so far.
	Losses []domain.LossAccepted

	losses *domain.LogLosses
}

// Gap is a stretch of sequences the log does not hold. Accepted, when not
// nil, is the operator's acceptance of their loss.
type Gap struct {
	First, Last uint64
	Accepted    *domain.LossAccepted
}

// BadMessage is a message of the log that does not decode.
type BadMessage struct {
	Seq     uint64
	Subject string
	Err     string
}

// VersionGap is an aggregate whose event at Seq has version Have where Want
// was due: versions Want to Have-1 are missing. Prev is the sequence of its
// event before (0: none), and In the gap of the log between the two that
// explains it, if any.
type VersionGap struct {
	Stream     domain.StreamID
	Seq, Prev  uint64
	Want, Have uint64
	In         *Gap
}

// Behind is a read model whose checkpoint is past the log's last sequence:
// the log lost events it had applied, or is not the log it was built from.
// Accepted, when not nil, is the acceptance of their loss: the read model
// is then to be rebuilt from the log.
type Behind struct {
	Name       string
	Checkpoint uint64
	Accepted   *domain.LossAccepted
}

// CheckState checks the stream's state and the accepted losses: the
// sequences the state says are gone (deleted, lost, before the first).
func (s *Store) CheckState(ctx context.Context) (*LogCheck, error) {
	losses, _, err := s.Losses(ctx)
	if err != nil {
		return nil, err
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	info, err := s.stream.Info(octx, jetstream.WithDeletedDetails(true))
	if err != nil {
		return nil, unavailable(fmt.Errorf("check the log: stream info: %w", err))
	}
	st := info.State
	c := &LogCheck{Stream: s.cfg.StreamName, Messages: st.Msgs, First: st.FirstSeq, Last: st.LastSeq, Losses: losses.All(), losses: losses}
	var missing []uint64
	if st.Msgs > 0 && st.FirstSeq > 1 {
		c.addGap(1, st.FirstSeq-1)
	} else if st.Msgs == 0 && st.LastSeq > 0 {
		c.addGap(1, st.LastSeq)
	}
	missing = append(missing, st.Deleted...)
	if st.Lost != nil {
		c.LostBytes = st.Lost.Bytes
		missing = append(missing, st.Lost.Msgs...)
	}
	// An empty stream's details name sequence 0 as deleted; none is
	// outside the stream's sequences.
	missing = slices.DeleteFunc(missing, func(seq uint64) bool { return seq == 0 || seq > st.LastSeq })
	slices.Sort(missing)
	for i := 0; i < len(missing); {
		j := i
		for j+1 < len(missing) && missing[j+1] <= missing[j]+1 {
			j++
		}
		c.addGap(missing[i], missing[j])
		i = j + 1
	}
	if len(c.Gaps) == 0 && st.Msgs > 0 && st.Msgs != st.LastSeq-st.FirstSeq+1 {
		// The state does not add up, and names no sequence: the scan finds
		// which.
		c.StateProblem = fmt.Sprintf("the stream's state does not add up: %d messages from sequence %d to %d", st.Msgs, st.FirstSeq, st.LastSeq)
	}
	return c, nil
}

// VerifyProgress tells how far Verify is: Read messages of Total.
type VerifyProgress struct {
	Read, Total uint64
	Elapsed     time.Duration
}

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// EnvelopesOnly checks each message's envelope (its event type,
	// aggregate and version) and not its body, at a fraction of the cost
	// (decoding bodies is most of it). What damage to the log's files
	// does shows all the same: JetStream checks each message against its
	// checksum when it reads it, so a damaged one is a lost one, a gap of
	// the sequences; and a body that does not decode stops the read model
	// that reads it, naming it.
	EnvelopesOnly bool
	// Rate, if set, bounds the messages read a second: a read in the
	// background leaves the machine's cores to the requests served beside
	// it (the whole read costs the same, spread over a longer time).
	Rate int
	// Progress, if set, is called every few thousand messages and at the
	// end.
	Progress func(VerifyProgress)
}

// Verify checks the whole log: the stream's state (CheckState), then every
// message up to the last one when it began, in order, each decoded (a
// personal field of an erased user is not an error: that is an erasure),
// its sequence following the one before it, and its aggregate's version
// following that aggregate's previous one. It never waits for a message
// the log lost: the read ends by sequence, and what the server cannot
// deliver is a gap.
func (s *Store) Verify(ctx context.Context, opts VerifyOptions) (*LogCheck, error) {
	start := time.Now()
	c, err := s.CheckState(ctx)
	if err != nil {
		return nil, err
	}
	stateGaps := c.Gaps
	c.Gaps, c.StateProblem = nil, ""
	cur, err := s.follow(ctx, 1, true, nil, func(c *Cursor) {
		c.accepted = nil // every gap, accepted or not, is reported
		c.envelopes = opts.EnvelopesOnly
	})
	if err != nil {
		return nil, fmt.Errorf("verify the log: %w", err)
	}
	defer cur.Close()
	c.Last = max(c.Last, cur.End())
	v := newVersionCheck()
	report := func() {
		if opts.Progress != nil {
			opts.Progress(VerifyProgress{Read: c.Read, Total: c.Read + cur.Remaining(), Elapsed: time.Since(start)})
		}
	}
	for {
		rec, err := cur.Next(ctx)
		var gap *GapError
		switch {
		case errors.Is(err, io.EOF):
			c.Scanned, c.Aggregates, c.Duration = true, v.aggregates(), time.Since(start)
			// What the state named and the read did not meet (past the
			// end of the read) stays a gap.
			for _, g := range stateGaps {
				if g.First > cur.End() {
					c.addGap(g.First, g.Last)
				}
			}
			c.explainVersionGaps()
			report()
			return c, nil
		case errors.As(err, &gap):
			c.addGap(gap.First, gap.Last)
			continue
		case err != nil && rec.Seq == 0:
			return nil, fmt.Errorf("verify the log: %w", err)
		case err != nil:
			c.Read++
			c.Undecodable = append(c.Undecodable, BadMessage{Seq: rec.Seq, Subject: rec.Stream.String(), Err: err.Error()})
		default:
			c.Read++
		}
		if rec.Stream.Type != "" && rec.Version > 0 {
			if want, prev, ok := v.next(rec); !ok {
				c.VersionGaps = append(c.VersionGaps, VersionGap{Stream: rec.Stream, Seq: rec.Seq, Prev: prev, Want: want, Have: rec.Version})
			}
		}
		if c.Read%4096 == 0 {
			report()
		}
		if opts.Rate > 0 && c.Read%1024 == 0 {
			// Paced: the cursor's buffer fills, and the server holds the
			// rest back (flow control).
			if ahead := time.Duration(float64(c.Read)/float64(opts.Rate)*float64(time.Second)) - time.Since(start); ahead > 0 {
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(ahead):
				}
			}
		}
	}
}

// addGap records the gap first..last, with its acceptance if every
// sequence of it was accepted.
func (c *LogCheck) addGap(first, last uint64) {
	g := Gap{First: first, Last: last}
	if c.losses != nil && c.losses.CoversAll(first, last) {
		a, _ := c.losses.Covers(first)
		g.Accepted = &a
	}
	c.Gaps = append(c.Gaps, g)
}

// explainVersionGaps finds, for each version gap, the gap of the log
// between the aggregate's previous event and the event that skips.
func (c *LogCheck) explainVersionGaps() {
	for i := range c.VersionGaps {
		vg := &c.VersionGaps[i]
		vg.In = nil
		for _, g := range c.Gaps {
			if g.Last > vg.Prev && g.First < vg.Seq {
				vg.In = &g
				break
			}
		}
	}
}

// Include adds to c, a check of the log's state, what an earlier Verify
// found: its gaps (with their acceptance as c knows it, which may be newer),
// the messages that do not decode and the version gaps.
func (c *LogCheck) Include(scan *LogCheck) {
	for _, g := range scan.Gaps {
		if !slices.ContainsFunc(c.Gaps, func(h Gap) bool { return h.First == g.First && h.Last == g.Last }) {
			c.addGap(g.First, g.Last)
		}
	}
	slices.SortFunc(c.Gaps, func(a, b Gap) int { return cmp.Compare(a.First, b.First) })
	c.Undecodable = append(c.Undecodable, scan.Undecodable...)
	c.VersionGaps = append(c.VersionGaps, scan.VersionGaps...)
	c.explainVersionGaps()
	c.Scanned, c.Read, c.Aggregates, c.Duration = scan.Scanned, scan.Read, scan.Aggregates, scan.Duration
}

// AddCheckpoint checks the checkpoint of the read model named name against
// the log's last sequence. Read the checkpoints before the log's state: a
// read model never applies an event the log does not hold yet.
func (c *LogCheck) AddCheckpoint(name string, checkpoint uint64) {
	if checkpoint <= c.Last {
		return
	}
	b := Behind{Name: name, Checkpoint: checkpoint}
	for _, a := range c.Losses {
		if a.First <= c.Last+1 && a.Last >= checkpoint {
			b.Accepted = &a
		}
	}
	c.Behind = append(c.Behind, b)
}

// Unaccepted returns the gaps whose loss was not accepted.
func (c *LogCheck) Unaccepted() []Gap {
	var out []Gap
	for _, g := range c.Gaps {
		if g.Accepted == nil {
			out = append(out, g)
		}
	}
	return out
}

// Damaged reports whether the check found damage an operator must act on:
// a loss not accepted, a message that does not decode, a version gap the
// log's gaps do not explain, or a read model past the log's end (accepted
// or not: it is to be rebuilt).
func (c *LogCheck) Damaged() bool {
	if len(c.Unaccepted()) > 0 || len(c.Undecodable) > 0 || len(c.Behind) > 0 || c.StateProblem != "" {
		return true
	}
	for _, vg := range c.VersionGaps {
		if vg.In == nil {
			return true
		}
	}
	return false
}

// Problems describes the damage found, one line each, and what to do.
func (c *LogCheck) Problems() []string {
	var out []string
	if gaps := c.Unaccepted(); len(gaps) > 0 {
		out = append(out, fmt.Sprintf("the event log has lost the events at sequence %s: it once held them, and holds them no more (its storage was damaged)", rangesOf(gaps)))
	}
	for _, b := range c.Behind {
		if b.Accepted == nil {
			out = append(out, fmt.Sprintf("read model %s has applied the log up to sequence %d, but the log ends at %d: the log lost events it had (or is not the log the read model was built from); new events would take sequences the read model counts as applied, so writes are refused",
				b.Name, b.Checkpoint, c.Last))
		} else {
			out = append(out, fmt.Sprintf("read model %s has applied the log up to sequence %d, past its end at %d; the loss of %s is accepted: rebuild the read models from the log (inkwell replay)",
				b.Name, b.Checkpoint, c.Last, b.Accepted.Range()))
		}
	}
	if c.StateProblem != "" {
		out = append(out, c.StateProblem+" (inkwell events verify reads every message to find what is missing)")
	}
	for _, m := range c.Undecodable {
		out = append(out, fmt.Sprintf("message %d (%s) is not an event Inkwell can read: %s", m.Seq, m.Subject, m.Err))
	}
	for _, vg := range c.VersionGaps {
		if vg.In == nil {
			out = append(out, fmt.Sprintf("aggregate %s jumps from version %d to %d at sequence %d, with no gap of the log between: an event was appended without the expected version",
				vg.Stream, vg.Want-1, vg.Have, vg.Seq))
		}
	}
	return out
}

// Advice says what the operator does about the damage found ("" if none).
func (c *LogCheck) Advice() string {
	var do []string
	unaccepted := c.Unaccepted()
	var lost []Gap
	lost = append(lost, unaccepted...)
	var rebuild bool
	for _, b := range c.Behind {
		if b.Accepted == nil {
			lost = append(lost, Gap{First: c.Last + 1, Last: b.Checkpoint})
		} else {
			rebuild = true
		}
	}
	if len(lost) > 0 {
		lost = mergeGaps(lost)
		flags := make([]string, len(lost))
		for i, g := range lost {
			flags[i] = seqFlag(g.First, g.Last)
		}
		do = append(do, fmt.Sprintf("restore the log from a backup that holds the lost events (inkwell restore), "+
			"or accept their loss: inkwell events accept-loss --seq %s --reason \"...\", then rebuild the read models: inkwell replay",
			strings.Join(flags, ",")))
	} else if rebuild {
		do = append(do, "rebuild the read models from the log: inkwell replay")
	}
	if len(c.Undecodable) > 0 {
		do = append(do, "restore the log from a backup, or fix what wrote those messages; a read model stopped at one of them can skip it (inkwell projections skip)")
	}
	return strings.Join(do, "; ")
}

// rangesOf writes the gaps as "9, 14..15".
func rangesOf(gaps []Gap) string {
	parts := make([]string, len(gaps))
	for i, g := range gaps {
		parts[i] = domain.SeqRange(g.First, g.Last)
	}
	return strings.Join(parts, ", ")
}

// mergeGaps sorts gaps and joins those that touch or overlap.
func mergeGaps(gaps []Gap) []Gap {
	slices.SortFunc(gaps, func(a, b Gap) int { return cmp.Compare(a.First, b.First) })
	var out []Gap
	for _, g := range gaps {
		if n := len(out); n > 0 && g.First <= out[n-1].Last+1 {
			out[n-1].Last = max(out[n-1].Last, g.Last)
			continue
		}
		out = append(out, g)
	}
	return out
}

// versionCheck follows the last version and sequence of every aggregate,
// keyed by a 128-bit hash of its stream: some 40 bytes an aggregate, where
// its name would take twice that.
type versionCheck struct {
	seeds [2]maphash.Seed
	last  map[[2]uint64]position
}

type position struct{ version, seq uint64 }

func newVersionCheck() *versionCheck {
	return &versionCheck{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, last: map[[2]uint64]position{}}
}

// next records rec and reports whether its version follows its aggregate's
// previous one (want, at sequence prev; 1 and 0 for its first).
func (v *versionCheck) next(rec domain.Record) (want, prev uint64, ok bool) {
	var key [2]uint64
	for i, seed := range v.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(rec.Stream.Type)
		h.WriteByte('.')
		h.WriteString(rec.Stream.ID)
		key[i] = h.Sum64()
	}
	p := v.last[key]
	v.last[key] = position{version: rec.Version, seq: rec.Seq}
	return p.version + 1, p.seq, rec.Version == p.version+1
}

func (v *versionCheck) aggregates() int { return len(v.last) }
