package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// The event log is immutable, but its storage can be damaged: a block file
// altered or cut short on disk loses the events it held, and a restored or
// misconfigured log may end before what the read models have applied. Such
// a loss cannot be undone from the log itself. Either the log is restored
// from a backup that holds the events, or an operator accepts the loss. The
// acceptance is an event of the log, on a stream of its own, so that it is
// reviewed like any change and honoured by every instance and every
// rebuild: readers go past the lost sequences it names instead of stopping
// there.

// AggregateLog is the type of the stream recording decisions about the log
// itself.
const AggregateLog = "log"

// LogLossesStream is the stream recording the losses of the log that an
// operator accepted.
func LogLossesStream() StreamID { return StreamID{Type: AggregateLog, ID: "losses"} }

// LossAccepted records that an operator accepted the loss of the events the
// log once held at sequences First to Last: readers go past them. When the
// log ended before First (it lost its last events, or was restored from an
// older copy, while a read model had applied them), LogLast says where it
// ended, and the read models must be rebuilt from the log.
type LossAccepted struct {
	First uint64 `json:"first_seq"`
	Last  uint64 `json:"last_seq"`
	// LogLast is the log's last sequence when the loss was accepted.
	LogLast uint64 `json:"log_last_seq"`
	// Reason is the operator's, in their words; By says who (the user and
	// machine that ran the command, or what the operator gave).
	Reason     string    `json:"reason"`
	By         string    `json:"by"`
	AcceptedAt time.Time `json:"accepted_at"`
}

// EventType implements Event.
func (*LossAccepted) EventType() string { return "log.loss_accepted" }

// Range returns the sequences as "9" or "9..12".
func (a LossAccepted) Range() string { return SeqRange(a.First, a.Last) }

// SeqRange writes the sequences first to last as "9" or "9..12".
func SeqRange(first, last uint64) string {
	if first == last {
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d..%d", first, last)
}

// LogLosses is the aggregate of the losses of the log accepted so far.
type LogLosses struct {
	accepted []LossAccepted
}

// Apply folds one event into the losses.
func (l *LogLosses) Apply(r Record) {
	if e, ok := r.Event.(*LossAccepted); ok {
		l.accepted = append(l.accepted, *e)
	}
}

// All returns every acceptance, oldest first.
func (l *LogLosses) All() []LossAccepted { return slices.Clone(l.accepted) }

// Covers returns the acceptance that names seq, if any.
func (l *LogLosses) Covers(seq uint64) (LossAccepted, bool) {
	for _, a := range l.accepted {
		if a.First <= seq && seq <= a.Last {
			return a, true
		}
	}
	return LossAccepted{}, false
}

// CoversAll reports whether every sequence from first to last is accepted
// as lost.
func (l *LogLosses) CoversAll(first, last uint64) bool {
	for seq := first; seq <= last; {
		a, ok := l.Covers(seq)
		if !ok {
			return false
		}
		if a.Last >= last {
			return true
		}
		seq = a.Last + 1
	}
	return true
}

// Accept decides the acceptance a (whose AcceptedAt is set by the caller).
// The reason is required, the range must be sequences of the log (from 1),
// and a loss already accepted in full is not accepted again.
func (l *LogLosses) Accept(a LossAccepted) (Event, error) {
	pr := Problems{}
	a.Reason, a.By = strings.TrimSpace(a.Reason), strings.TrimSpace(a.By)
	switch {
	case a.Reason == "":
		pr.Add("reason", "is required: say why the loss is accepted rather than the log restored from a backup")
	case !utf8.ValidString(a.Reason) || utf8.RuneCountInString(a.Reason) > 500:
		pr.Add("reason", "must be text of at most 500 characters")
	}
	if !utf8.ValidString(a.By) || utf8.RuneCountInString(a.By) > 200 {
		pr.Add("by", "must be text of at most 200 characters")
	}
	if a.First == 0 || a.Last < a.First {
		pr.Add("seq", "must be log sequences from 1, the first not after the last")
	}
	if err := pr.Err(); err != nil {
		return nil, err
	}
	if l.CoversAll(a.First, a.Last) {
		return nil, Errorf(ECONFLICT, "the loss of events %s is already accepted", a.Range())
	}
	a.AcceptedAt = a.AcceptedAt.UTC()
	return &a, nil
}
