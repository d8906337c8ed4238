// Package memstore is an event log in memory: the port the command handlers
// use (Load and Append, as commands.EventStore declares them) without a
// server, so that their tests need no NATS. It keeps the promises of the
// JetStream log that commands rely on, and passes the same contract test
// (eventstore/storetest): one sequence over the whole log and a gapless
// version per stream; an append that expects where its stream stood and
// appends nothing otherwise; an event id stored once (a second append of it
// answers with the first); the attempt of an idempotent request loading each
// stream as it stood before its own earlier event. Like the real log it
// keeps each event encoded, so what a handler loads is what it would read
// back from JetStream, not the value it appended.
package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"inkwell/domain"
)

// Store is the in-memory log. The zero value is not usable: call New.
type Store struct {
	mu      sync.Mutex
	log     []stored
	streams map[domain.StreamID][]int // indexes into log, in order
	byID    map[string]int            // event id -> index into log
}

type stored struct {
	rec  domain.Record // Event nil: decoded from body at each load
	body []byte
}

// New returns an empty log.
func New() *Store {
	return &Store{streams: map[domain.StreamID][]int{}, byID: map[string]int{}}
}

// ErrBadStreamID is returned for a stream id that cannot name a stream
// (domain.StreamID.Valid); like the JetStream log's, it is a not-found.
var ErrBadStreamID = &domain.Error{Code: domain.ENOTFOUND, Message: "Not found."}

// Load returns every event of one aggregate and where its stream stands.
func (s *Store) Load(ctx context.Context, id domain.StreamID) ([]domain.Record, domain.Position, error) {
	if !id.Valid() {
		return nil, domain.Position{}, fmt.Errorf("%w: %q", ErrBadStreamID, id.String())
	}
	s.mu.Lock()
	idx := s.streams[id]
	recs := make([]domain.Record, 0, len(idx))
	for _, i := range idx {
		recs = append(recs, s.log[i].rec)
	}
	bodies := make([][]byte, len(idx))
	for k, i := range idx {
		bodies[k] = s.log[i].body
	}
	s.mu.Unlock()
	for k := range recs {
		ev, err := domain.DecodeEvent(recs[k].Type, recs[k].SchemaVersion, bodies[k])
		if err != nil {
			return nil, domain.Position{}, fmt.Errorf("load %s: %w", id, err)
		}
		recs[k].Event = ev
	}
	var pos domain.Position
	if n := len(recs); n > 0 {
		pos = domain.Position{Seq: recs[n-1].Seq, Version: recs[n-1].Version}
	}
	if a := domain.AttemptFrom(ctx); a != nil {
		recs, pos = a.Before(id, recs, pos)
	}
	return recs, pos, nil
}

// Append appends events to stream id, which must stand at pos; otherwise it
// fails with an error wrapping domain.ErrConcurrentChange and appends
// nothing (of that event and the ones after it).
func (s *Store) Append(ctx context.Context, id domain.StreamID, pos domain.Position, meta domain.Meta, events ...domain.Event) ([]domain.Record, error) {
	if !id.Valid() {
		return nil, fmt.Errorf("%w: %q", ErrBadStreamID, id.String())
	}
	if meta.OccurredAt.IsZero() {
		meta.OccurredAt = time.Now()
	}
	attempt := domain.AttemptFrom(ctx)
	out := make([]domain.Record, 0, len(events))
	for _, ev := range events {
		evID := attempt.NextEventID(id)
		if evID == "" {
			u, err := uuid.NewV7()
			if err != nil {
				return out, fmt.Errorf("event id: %w", err)
			}
			evID = u.String()
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return out, fmt.Errorf("append %s: encode %s: %w", id, ev.EventType(), err)
		}
		rec, err := s.appendOne(id, pos, domain.NewRecord(evID, id, pos, meta, ev), body)
		if err != nil {
			return out, err
		}
		attempt.EventRecorded(id)
		rec.Event = ev
		out = append(out, rec)
		pos = domain.Position{Seq: rec.Seq, Version: rec.Version}
	}
	return out, nil
}

func (s *Store) appendOne(id domain.StreamID, pos domain.Position, rec domain.Record, body []byte) (domain.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, dup := s.byID[rec.ID]; dup {
		// The log stores an event id once: the append of an event already
		// in it answers with the event as stored.
		return s.log[i].rec, nil
	}
	var at domain.Position
	if idx := s.streams[id]; len(idx) > 0 {
		last := s.log[idx[len(idx)-1]].rec
		at = domain.Position{Seq: last.Seq, Version: last.Version}
	}
	if at != pos {
		return rec, fmt.Errorf("append to %s: %w", id, domain.ErrConcurrentChange)
	}
	rec.Seq = uint64(len(s.log)) + 1
	kept := rec
	kept.Event = nil // decoded from body at each read
	s.log = append(s.log, stored{rec: kept, body: body})
	s.streams[id] = append(s.streams[id], len(s.log)-1)
	s.byID[rec.ID] = len(s.log) - 1
	return rec, nil
}

// Head returns the sequence of the last event in the log (0 when empty).
func (s *Store) Head(context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.log)), nil
}

// Get returns the event at log sequence seq.
func (s *Store) Get(_ context.Context, seq uint64) (domain.Record, error) {
	s.mu.Lock()
	if seq == 0 || seq > uint64(len(s.log)) {
		s.mu.Unlock()
		return domain.Record{}, &domain.Error{Code: domain.ENOTFOUND, Message: fmt.Sprintf("No event at sequence %d.", seq)}
	}
	st := s.log[seq-1]
	s.mu.Unlock()
	ev, err := domain.DecodeEvent(st.rec.Type, st.rec.SchemaVersion, st.body)
	if err != nil {
		return domain.Record{}, fmt.Errorf("event %d: %w", seq, err)
	}
	st.rec.Event = ev
	return st.rec, nil
}

// LoadEach loads several aggregates, as Load does each (the JetStream log
// reads them in one round trip; commands.EachLoader).
func (s *Store) LoadEach(ctx context.Context, ids ...domain.StreamID) ([][]domain.Record, []domain.Position, error) {
	recs := make([][]domain.Record, len(ids))
	poss := make([]domain.Position, len(ids))
	for i, id := range ids {
		var err error
		if recs[i], poss[i], err = s.Load(ctx, id); err != nil {
			return nil, nil, err
		}
	}
	return recs, poss, nil
}

// ClaimStream names a claim's stream by the unkeyed hash of its value
// (domain.ClaimStream): the store holds no secrets.
func (s *Store) ClaimStream(kind, value string) domain.StreamID {
	return domain.ClaimStream(kind, value)
}
