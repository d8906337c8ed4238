// What a check of the log found (LogCheck) and what it advises.

package eventstore

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

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
