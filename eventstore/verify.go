package eventstore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

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
