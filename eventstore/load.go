package eventstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// Load reads every event of one aggregate, in order. It always asks the log
// for the stream's last sequence, so the result is current; events already
// cached are not fetched again, and a stream cached whole is not sent
// again either: the log is asked only whether anything came after it (see
// lastSince). A stream with no events loads empty. When
// ctx carries an attempt of an idempotent request (domain.WithAttempt) that
// already recorded an event on this stream, the stream loads as it stood
// just before that event, so that the attempt decides again as it did then
// (and Append recognizes the event as its own). A log that cannot answer
// gives an *UnavailableError.
func (s *Store) Load(ctx context.Context, id domain.StreamID) ([]domain.Record, domain.Position, error) {
	subj, err := s.Subject(id)
	if err != nil {
		return nil, domain.Position{}, err
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	recs, pos := s.cache.get(subj)
	last, current, err := s.lastOf(octx, subj, pos.Seq)
	if err != nil {
		return nil, domain.Position{}, unavailable(fmt.Errorf("load %s: %w", id, err))
	}
	if !current {
		if recs, pos, err = s.upTo(ctx, id, subj, last); err != nil {
			return nil, domain.Position{}, err
		}
	}
	recs, pos = trimAttempt(ctx, id, recs, pos)
	return recs, pos, nil
}

// lastOf returns the last message of subj (nil when it has none), or
// current when its stream ends at held, the log sequence up to which the
// process holds it (0: not at all), and the server need not send it (see
// lastSince).
func (s *Store) lastOf(ctx context.Context, subj string, held uint64) (*jetstream.RawStreamMsg, bool, error) {
	if held > 0 {
		lasts, current, err := s.lasts.lastSince(ctx, []string{subj}, []uint64{held})
		if err == nil {
			return lasts[subj], current[0], nil
		}
		if !errors.Is(err, errNoMultiGet) {
			return nil, false, err
		}
	}
	last, err := s.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, false, nil
	}
	return last, false, err
}

// LoadEach loads several aggregates, as Load does each, asking the log for
// where their streams stand in one round trip where the server can (NATS
// 2.11+), as one consistent view of the log.
func (s *Store) LoadEach(ctx context.Context, ids ...domain.StreamID) ([][]domain.Record, []domain.Position, error) {
	recs := make([][]domain.Record, len(ids))
	poss := make([]domain.Position, len(ids))
	subjects := make([]string, len(ids))
	for i, id := range ids {
		subj, err := s.Subject(id)
		if err != nil {
			return nil, nil, err
		}
		subjects[i] = subj
	}
	held := make([]uint64, len(ids))
	for i, subj := range subjects {
		recs[i], poss[i] = s.cache.get(subj)
		held[i] = poss[i].Seq
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	lasts, current, err := s.lasts.lastSince(octx, subjects, held)
	if errors.Is(err, errNoMultiGet) {
		for i, id := range ids {
			if recs[i], poss[i], err = s.Load(ctx, id); err != nil {
				return nil, nil, err
			}
		}
		return recs, poss, nil
	} else if err != nil {
		return nil, nil, unavailable(fmt.Errorf("load %v: %w", ids, err))
	}
	for i, id := range ids {
		if !current[i] {
			if recs[i], poss[i], err = s.upTo(ctx, id, subjects[i], lasts[subjects[i]]); err != nil {
				return nil, nil, err
			}
		}
		recs[i], poss[i] = trimAttempt(ctx, id, recs[i], poss[i])
	}
	return recs, poss, nil
}

// trimAttempt returns a stream as it stood before the event, if any, that
// the attempt ctx carries (domain.WithAttempt) recorded on it.
func trimAttempt(ctx context.Context, id domain.StreamID, recs []domain.Record, pos domain.Position) ([]domain.Record, domain.Position) {
	if a := domain.AttemptFrom(ctx); a != nil {
		return a.Before(id, recs, pos)
	}
	return recs, pos
}

// upTo returns the events of stream id (on subject subj) up to last, its
// last message (nil when the stream has none), from the cache and, past
// it, from the log.
func (s *Store) upTo(ctx context.Context, id domain.StreamID, subj string, last *jetstream.RawStreamMsg) ([]domain.Record, domain.Position, error) {
	if last == nil {
		return nil, domain.Position{}, nil
	}
	// A log sequence names one message for good: when the cache ends at the
	// stream's last one, the stream is what the cache holds, and the last
	// message need not be decoded again (most loads, such as the account
	// and the session of every authenticated request).
	gen := s.cache.generation()
	recs, pos := s.cache.get(subj)
	if pos.Seq == last.Sequence && pos.Seq != 0 {
		return recs, pos, nil
	}
	lastRec, err := RawEvent{Subject: subj, Seq: last.Sequence, Header: last.Header, Data: last.Data, Keys: s.keys}.Decode()
	if err != nil {
		return nil, domain.Position{}, fmt.Errorf("load %s: %w", id, err)
	}
	switch {
	case pos.Seq > lastRec.Seq:
		recs, pos = nil, domain.Position{} // cannot happen on an immutable log; start over
	}
	if lastRec.Version != pos.Version+1 {
		// The events between the cache's end and the last one, in batches
		// where the server can, each request bounded by OpTimeout.
		between, err := s.fetch(ctx, id, subj, pos.Seq+1, lastRec.Seq-1)
		if err != nil {
			return nil, domain.Position{}, err
		}
		recs = append(recs, between...)
	}
	recs = append(recs, lastRec)
	pos = domain.Position{Seq: lastRec.Seq, Version: lastRec.Version}
	s.cache.putAt(gen, subj, recs, pos)
	return recs, pos, nil
}

// LastSeqOf returns the sequence of the last event whose subject matches one
// of the subject filters (see SubjectsOf), 0 if there is none.
func (s *Store) LastSeqOf(ctx context.Context, subjects ...string) (uint64, error) {
	var last uint64
	for _, f := range subjects {
		octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
		m, err := s.stream.GetLastMsgForSubject(octx, f)
		cancel()
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		} else if err != nil {
			return 0, unavailable(fmt.Errorf("last event of %s: %w", f, err))
		}
		last = max(last, m.Sequence)
	}
	return last, nil
}

// Get returns the event at one sequence of the log.
func (s *Store) Get(ctx context.Context, seq uint64) (domain.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	m, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return domain.Record{}, fmt.Errorf("get %d: %w", seq, err)
	} else if err != nil {
		return domain.Record{}, unavailable(fmt.Errorf("get %d: %w", seq, err))
	}
	return RawEvent{Subject: m.Subject, Seq: m.Sequence, Header: m.Header, Data: m.Data, Keys: s.keys}.Decode()
}
