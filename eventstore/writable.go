package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// SetWritableCheck installs check, which Append consults before each write:
// while it returns an error (a full disk under the embedded log), appends
// fail at once with an *UnavailableError, and Writable reports it.
func (s *Store) SetWritableCheck(check func() error) { s.writable.Store(&check) }

func (s *Store) checkWritable() error {
	if f := s.writable.Load(); f != nil {
		if err := (*f)(); err != nil {
			reason := "it cannot take writes"
			var wr *WriteRefusal
			if errors.As(err, &wr) {
				reason = wr.Reason
			}
			return &domain.UnavailableError{Dependency: domain.DependencyEventLog, Reason: reason, Err: err}
		}
	}
	return nil
}

// WriteRefusal is an error of a writable check (SetWritableCheck) that says
// why the log takes no writes in words a client may read (Reason); Err is
// the cause, for the logs.
type WriteRefusal struct {
	Reason string
	Err    error
}

func (e *WriteRefusal) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *WriteRefusal) Unwrap() error { return e.Err }

// Writable returns nil if the log can take a write, as far as this process
// knows: the writable check passes and the stream's last refusal to store
// an event (a full disk, a limit) has been followed by a stored one, or by
// a new connection to a restarted server. An append that no stream
// answered (a cluster electing the stream's leader, JetStream down) is not
// such a refusal: it says nothing once the stream answers again, which is
// what a reader of Writable asks the stream itself (Head); kept, it would
// leave an instance that takes no traffic while it is not ready unready
// for good.
func (s *Store) Writable() error {
	if err := s.checkWritable(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastStoreErr != nil {
		return fmt.Errorf("the last append was refused: %w", s.lastStoreErr)
	}
	return nil
}

// RecheckRefusal drops the refusal Writable keeps once the stream's state
// shows room for an event (it answers, and no limit of its own that refuses
// new messages, DiscardNew, is reached) and the refusal is older than
// refusalHold. Kept until an event is stored, a refusal would hold an
// instance that takes no traffic while it is not ready (behind a load
// balancer following /readyz) unready for good once its cause is gone: a
// limit raised, JetStream enabled again by a reload of the server's
// configuration. The hold keeps a cause the stream's state does not show
// (the server's own storage limit) from reading as gone at once: while
// writes come and are refused, each refusal starts the hold again. It
// returns an error only if the stream does not answer.
func (s *Store) RecheckRefusal(ctx context.Context) error {
	s.mu.Lock()
	refused, at, hold := s.lastStoreErr, s.refusedAt, s.refusalHold
	s.mu.Unlock()
	if refused == nil || time.Since(at) < hold {
		return nil
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	if atLimit(info) {
		return nil
	}
	s.mu.Lock()
	if s.refusedAt.Equal(at) { // not a newer one
		s.lastStoreErr = nil
	}
	s.mu.Unlock()
	return nil
}

// defaultRefusalHold is how long RecheckRefusal keeps a refusal at least.
const defaultRefusalHold = 5 * time.Second

// atLimit reports whether the stream refuses new messages for a limit of
// its own that it has reached.
func atLimit(info *jetstream.StreamInfo) bool {
	c, st := info.Config, info.State
	return c.Discard == jetstream.DiscardNew &&
		((c.MaxMsgs > 0 && st.Msgs >= uint64(c.MaxMsgs)) || (c.MaxBytes > 0 && st.Bytes >= uint64(c.MaxBytes)))
}

// ForgetStoreRefusal clears the last refusal to store (the connection was
// re-established, or the server's store was restarted).
func (s *Store) ForgetStoreRefusal() { s.storeSucceeded() }

func (s *Store) storeSucceeded() {
	s.mu.Lock()
	s.lastStoreErr = nil
	s.mu.Unlock()
}

// storeRefused records a refusal of the server that says the log cannot
// store, as opposed to one about this event (a wrong last sequence, too
// large a message) or one that no stream gave (see Writable).
func (s *Store) storeRefused(err error) {
	if errors.Is(err, ErrWrongLastSequence) || errors.Is(err, ErrClosed) || noStreamAnswered(err) || aboutTheMessage(err) {
		return
	}
	s.mu.Lock()
	s.lastStoreErr, s.refusedAt = err, time.Now()
	s.mu.Unlock()
}

// aboutTheMessage reports whether err refuses the message for what it is
// (too large for the server or the stream, a subject or header it cannot
// take), which says nothing of the next one.
func aboutTheMessage(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrBadSubject) || errors.Is(err, nats.ErrInvalidMsg) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeMessageTooLarge)
}

// errCodeMessageTooLarge is JetStream's "message size exceeds maximum
// allowed" (the stream's max_msg_size).
const errCodeMessageTooLarge jetstream.ErrorCode = 10054

// noStreamAnswered reports whether err says that no stream took the
// append up: nobody listened on its subject, or the cluster had no leader
// for the stream to answer ("JetStream system temporarily unavailable").
func noStreamAnswered(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode == errCodeClusterNotAvailable)
}

// errCodeClusterNotAvailable is JetStream's "JetStream system temporarily
// unavailable" (a cluster without a leader for what was asked).
const errCodeClusterNotAvailable jetstream.ErrorCode = 10008
