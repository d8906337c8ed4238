package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// GapError is returned by a cursor that went through the log and found
// messages missing: the log once held events at sequences First to Last
// (a sequence is taken only by a stored message, and the log denies
// deletes) and holds them no more. Its storage was damaged. Readers stop
// there rather than go on without the events.
type GapError struct {
	First, Last uint64
}

func (e *GapError) Error() string {
	r := domain.SeqRange(e.First, e.Last)
	return fmt.Sprintf("the event log has lost the events at sequence %s (its storage was damaged): "+
		"restore the log from a backup that holds them (inkwell restore), "+
		"or accept their loss (inkwell events accept-loss --seq %s --reason \"...\"); "+
		"inkwell events verify checks the whole log", r, seqFlag(e.First, e.Last))
}

// seqFlag writes first..last as accept-loss's --seq takes it: 9 or 9-12.
func seqFlag(first, last uint64) string {
	if first == last {
		return fmt.Sprint(first)
	}
	return fmt.Sprintf("%d-%d", first, last)
}

// Losses returns the losses of the log accepted so far, as recorded in the
// log (see domain.LossAccepted), and where their stream stands.
func (s *Store) Losses(ctx context.Context) (*domain.LogLosses, domain.Position, error) {
	var l domain.LogLosses
	recs, pos, err := s.Load(ctx, domain.LogLossesStream())
	if err != nil {
		return nil, pos, fmt.Errorf("the losses of the log: %w", err)
	}
	for _, rec := range recs {
		l.Apply(rec)
	}
	return &l, pos, nil
}

// lossAccepted reports whether the loss of every sequence from first to
// last was accepted.
func (s *Store) lossAccepted(ctx context.Context, first, last uint64) (bool, error) {
	l, _, err := s.Losses(ctx)
	if err != nil {
		return false, err
	}
	return l.CoversAll(first, last), nil
}

// nextSeqFrom returns the sequence of the first message of the log at or
// after from (jetstream.ErrMsgNotFound when there is none).
func (s *Store) nextSeqFrom(ctx context.Context, from uint64) (uint64, error) {
	return s.nextSeqOf(ctx, from, s.cfg.SubjectPrefix+".>")
}

// nextSeqOf returns the sequence of the log's first message at or after
// from whose subject matches the filter subject; jetstream.ErrMsgNotFound
// when there is none.
func (s *Store) nextSeqOf(ctx context.Context, from uint64, subject string) (uint64, error) {
	m, err := s.stream.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subject))
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// ErrNotLost is returned by AcceptLoss for a sequence the log still holds.
var ErrNotLost = errors.New("the log holds an event there: only a loss can be accepted")

// AcceptLoss records in the log that the loss of the events at sequences
// a.First to a.Last is accepted, for a.Reason, by a.By: every reader of the
// log goes past them from then on. Each sequence must be one the log does
// not hold: missing from it, or past its end (a log behind a read model).
// It returns the acceptance as recorded, with the log's last sequence when
// it was made.
func (s *Store) AcceptLoss(ctx context.Context, a domain.LossAccepted, meta domain.Meta) (domain.LossAccepted, error) {
	head, err := s.Head(ctx)
	if err != nil {
		return domain.LossAccepted{}, err
	}
	if a.First > 0 && a.First <= head {
		octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
		seq, err := s.nextSeqFrom(octx, a.First)
		cancel()
		switch {
		case err == nil && seq <= min(a.Last, head):
			return domain.LossAccepted{}, fmt.Errorf("accept the loss of %s: event %d: %w", a.Range(), seq, ErrNotLost)
		case err != nil && !errors.Is(err, jetstream.ErrMsgNotFound):
			return domain.LossAccepted{}, unavailable(fmt.Errorf("accept the loss of %s: %w", a.Range(), err))
		}
	}
	a.LogLast = head
	if a.AcceptedAt.IsZero() {
		a.AcceptedAt = time.Now()
	}
	for attempt := 0; ; attempt++ {
		losses, pos, err := s.Losses(ctx)
		if err != nil {
			return domain.LossAccepted{}, err
		}
		ev, err := losses.Accept(a)
		if err != nil {
			return domain.LossAccepted{}, err
		}
		_, err = s.Append(ctx, domain.LogLossesStream(), pos, meta, ev)
		if err == nil {
			return *ev.(*domain.LossAccepted), nil
		}
		if attempt >= 10 || domain.ErrorCode(err) != domain.ECONFLICT {
			return domain.LossAccepted{}, err
		}
	}
}
