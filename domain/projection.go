package domain

import (
	"strings"
	"time"
	"unicode/utf8"
)

// A read model that cannot apply an event of the log stops at it: applying
// the events after it would build rows on a state the log never had. An
// operator who has looked at the event and judged that the read model is
// better off without it records a skip. The decision is an event of the log
// itself, on a stream of its own per projection, so that it is reviewed
// like any other change and honoured by every instance and every rebuild
// from the log. A skip holds for the projection version it names: a new
// version (a fix of the code that failed) applies the event again.

// AggregateProjection is the type of the streams recording decisions about
// one read model.
const AggregateProjection = "projection"

// ProjectionStream returns the stream of decisions about the projection
// named name.
func ProjectionStream(name string) StreamID { return StreamID{Type: AggregateProjection, ID: name} }

// EventSkipped records that a projection, at one version, skips one event
// of the log that it could not apply.
type EventSkipped struct {
	Projection string       `json:"projection"`
	Version    int          `json:"version"`
	Seq        uint64       `json:"seq"`
	EventID    string       `json:"event_id"`
	Type       string       `json:"event_type"`
	Stream     StreamIDJSON `json:"stream"`
	// Error is what applying the event failed with.
	Error string `json:"error"`
	// Reason is the operator's, in their words.
	Reason    string    `json:"reason"`
	SkippedAt time.Time `json:"skipped_at"`
}

// EventType implements Event.
func (*EventSkipped) EventType() string { return "projection.event_skipped" }

// ProjectionSkips is the aggregate of the skips recorded for one projection.
type ProjectionSkips struct {
	skips []EventSkipped
}

// Apply folds one event into the skips.
func (p *ProjectionSkips) Apply(r Record) {
	if e, ok := r.Event.(*EventSkipped); ok {
		p.skips = append(p.skips, *e)
	}
}

// All returns every skip recorded, oldest first.
func (p *ProjectionSkips) All() []EventSkipped { return append([]EventSkipped(nil), p.skips...) }

// Seqs returns the log sequences the projection skips at version.
func (p *ProjectionSkips) Seqs(version int) map[uint64]bool {
	out := map[uint64]bool{}
	for _, s := range p.skips {
		if s.Version == version {
			out[s.Seq] = true
		}
	}
	return out
}

// Skip decides a skip of the event described by s (whose SkippedAt is set
// by the caller). The reason is required, the event must be one of the log
// (a sequence and an id), and an event is skipped once per version.
func (p *ProjectionSkips) Skip(s EventSkipped) (Event, error) {
	pr := Problems{}
	s.Reason = strings.TrimSpace(s.Reason)
	switch {
	case s.Reason == "":
		pr.Add("reason", "is required: say why the read model is better off without this event")
	case !utf8.ValidString(s.Reason) || utf8.RuneCountInString(s.Reason) > 500:
		pr.Add("reason", "must be text of at most 500 characters")
	}
	if s.Seq == 0 || s.EventID == "" {
		pr.Add("seq", "must be the sequence of an event of the log")
	}
	if s.Projection == "" || s.Version <= 0 {
		pr.Add("projection", "is required")
	}
	if err := pr.Err(); err != nil {
		return nil, err
	}
	if p.Seqs(s.Version)[s.Seq] {
		return nil, Errorf(ECONFLICT, "event %d is already skipped by %s version %d", s.Seq, s.Projection, s.Version)
	}
	s.SkippedAt = s.SkippedAt.UTC()
	return &s, nil
}
