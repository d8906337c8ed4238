package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// Append appends events to one aggregate's stream, which must stand at pos
// (the position it had when loaded). It returns the records as stored.
//
// When the stream moved on since pos, Append fails with an error wrapping
// domain.ErrConcurrentChange and appends nothing. Several events are
// appended one after the other, each expecting the previous one; commands in
// Inkwell decide one event each, so an append is all or nothing.
//
// An append whose acknowledgement does not come (a timeout, a connection
// lost after sending) is not assumed to have failed: Append reads the
// stream to learn whether its event is there, publishing it again (same id,
// same expected sequence: it cannot be stored twice) while it is not, until
// the server answers or AppendTimeout passes. It then fails with an
// *UnavailableError whose OutcomeUnknown is set: the event may be stored.
// Every other failure is certain: nothing was stored. An event larger than
// the log takes (EventLimit) fails with a domain.ETOOLARGE error.
func (s *Store) Append(ctx context.Context, id domain.StreamID, pos domain.Position, meta domain.Meta, events ...domain.Event) ([]domain.Record, error) {
	subj, err := s.Subject(id)
	if err != nil {
		return nil, err
	}
	if meta.OccurredAt.IsZero() {
		meta.OccurredAt = time.Now()
	}
	attempt := domain.AttemptFrom(ctx)
	recs := make([]domain.Record, 0, len(events))
	for _, ev := range events {
		evID := attempt.NextEventID(id)
		if evID == "" {
			if evID, err = newEventID(); err != nil {
				return recs, err
			}
		}
		rec := domain.NewRecord(evID, id, pos, meta, ev)
		body, err := sealEvent(ctx, s.keys, rec)
		if err != nil {
			return recs, fmt.Errorf("append %s: encode %s: %w", id, rec.Type, err)
		}
		stored, err := s.appendOne(ctx, subj, pos, rec, body)
		if err != nil {
			if errors.Is(err, domain.ErrConcurrentChange) || domain.OutcomeUnknown(err) {
				s.cache.drop(subj)
			}
			return recs, err
		}
		attempt.EventRecorded(id)
		recs = append(recs, stored)
		if pos != (domain.Position{}) || !domain.KeepsSnapshots(id.Type) {
			// The cache holds the event as stored (opened), not the
			// caller's value, which the caller may go on changing. A new
			// stream of an aggregate loaded from snapshots (LoadInto) is
			// not cached: its events would stay in memory as it grows.
			cached := stored
			if cached.Event, err = domain.DecodeEvent(stored.Type, stored.SchemaVersion, body); err == nil {
				err = openEvent(ctx, s.keys, &cached)
			}
			if err != nil {
				s.cache.drop(subj)
			} else {
				s.cache.extend(subj, pos, cached)
			}
		}
		pos = domain.Position{Seq: stored.Seq, Version: stored.Version}
	}
	if s.OnAppend != nil && len(recs) > 0 {
		s.OnAppend(recs)
	}
	return recs, nil
}

// appendOne appends one event (rec, whose Seq is not known yet, and its
// body) to subj, which must stand at pos; see Append.
func (s *Store) appendOne(ctx context.Context, subj string, pos domain.Position, rec domain.Record, body []byte) (domain.Record, error) {
	if err := s.checkWritable(); err != nil {
		return rec, err
	}
	// publish sends rec once and returns it as stored.
	publish := func(ctx context.Context) (domain.Record, error) {
		msg := message.NewMessage(rec.ID, body)
		msg.SetContext(ctx)
		encodeHeaders(msg.Metadata, rec)
		msg.Metadata.Set(MetadataExpectedSubjectSeq, strconv.FormatUint(pos.Seq, 10))
		if err := s.pub.Publish(subj, msg); err != nil {
			return rec, err
		}
		seq, err := strconv.ParseUint(msg.Metadata.Get(MetadataStreamSeq), 10, 64)
		if err != nil {
			return rec, fmt.Errorf("append to %s: no stream sequence in ack: %w", subj, err)
		}
		s.storeSucceeded()
		stored := rec
		stored.Seq = seq
		return stored, nil
	}
	stored, err := publish(ctx)
	switch {
	case err == nil:
		return stored, nil
	case errors.Is(err, ErrWrongLastSequence):
		// Someone else's event, or this request's own from an earlier
		// attempt (see domain.Attempt): the stream says which.
		return s.settle(ctx, subj, pos, rec, publish, false)
	case NotStored(err) && tooLarge(err):
		return rec, s.eventTooLarge(ctx, subj, body, err)
	case NotStored(err):
		s.storeRefused(err)
		return rec, &domain.UnavailableError{Dependency: domain.DependencyEventLog, Reason: "it did not store the change", Err: err}
	}
	s.log.DebugContext(ctx, "append not acknowledged; reading the log to learn its outcome", "subject", subj, "event_id", rec.ID, "err", err)
	return s.settle(ctx, subj, pos, rec, publish, true)
}

// settle learns whether rec, appended to subj expecting pos, is stored: the
// first event after pos on subj is either rec (stored: rec is returned with
// its sequence) or another (rec can never be stored now: its expected
// sequence is gone; a concurrent change). While there is none, rec is
// published again if an earlier publish may still be on its way (ambiguous),
// and the subject read again.
func (s *Store) settle(ctx context.Context, subj string, pos domain.Position, rec domain.Record, publish func(context.Context) (domain.Record, error), ambiguous bool) (domain.Record, error) {
	// A client that went away does not stop this: what the log holds
	// decides whether claims are kept or given up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.AppendTimeout)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		octx, ocancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
		m, err := s.stream.GetMsg(octx, pos.Seq+1, jetstream.WithGetMsgSubject(subj))
		ocancel()
		switch {
		case err == nil && m.Header.Get(jetstream.MsgIDHeader) == rec.ID:
			stored, err := RawEvent{Subject: subj, Seq: m.Sequence, Header: m.Header, Data: m.Data, Keys: s.keys}.Decode()
			if err != nil {
				return rec, fmt.Errorf("append to %s: %w", subj, err)
			}
			s.storeSucceeded()
			return stored, nil
		case err == nil:
			return rec, fmt.Errorf("append to %s: %w", subj, domain.ErrConcurrentChange)
		case errors.Is(err, jetstream.ErrMsgNotFound) && !ambiguous:
			// Refused for a wrong last sequence, yet this read sees
			// nothing after pos (a replica behind the leader): an event
			// follows pos all the same, and may be this one. Read again.
		case errors.Is(err, jetstream.ErrMsgNotFound):
			// Not stored (yet): publish it again.
			if werr := s.checkWritable(); werr != nil {
				return rec, s.unknownOutcome(subj, werr)
			}
			stored, err := publish(ctx)
			switch {
			case err == nil:
				return stored, nil
			case errors.Is(err, ErrWrongLastSequence):
				ambiguous = false // an answer: the next read is decisive
				continue
			case NotStored(err):
				// This copy was refused, but an earlier one may still be
				// on its way: read again.
				s.storeRefused(err)
			}
		}
		if ctx.Err() != nil {
			return rec, s.unknownOutcome(subj, err)
		}
		select {
		case <-ctx.Done():
			return rec, s.unknownOutcome(subj, err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
}

func (s *Store) unknownOutcome(subj string, err error) error {
	return &domain.UnavailableError{Dependency: domain.DependencyEventLog, OutcomeUnknown: true,
		Err: fmt.Errorf("append to %s: outcome unknown: %w", subj, err)}
}
