package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Metadata keys the Publisher reads or writes besides the NATS headers.
const (
	// MetadataExpectedSubjectSeq, when set on a message, becomes the
	// Nats-Expected-Last-Subject-Sequence header: the append succeeds only if
	// the subject's last message has this stream sequence (0: no message).
	MetadataExpectedSubjectSeq = jetstream.ExpectedLastSubjSeqHeader
	// MetadataStreamSeq is written by Publish: the stream sequence the
	// message was stored at (Watermill's Publish returns only an error).
	MetadataStreamSeq = "_inkwell_stream_seq"
	// MetadataDuplicate is written by Publish as "true" when JetStream
	// recognized the message id as a duplicate of an earlier publish.
	MetadataDuplicate = "_inkwell_duplicate"
)

// Publisher is a Watermill publisher that appends to a JetStream stream.
// The message UUID becomes Nats-Msg-Id, metadata become headers (keys
// starting with "_" stay local) and the PubAck's stream sequence is written
// back into the message's metadata.
//
// Each message is published once, waiting for its acknowledgement at most
// Timeout. A failed publish is one of three kinds, which the caller tells
// apart: the server refused the expected sequence (ErrWrongLastSequence),
// the message is certainly not stored (NotStored reports true: the server
// refused it, or it was never sent), or anything else: the outcome is
// unknown, and the message may be stored. Publish never retries on its own:
// only the caller can find out what an unanswered publish did (see
// Store.Append).
type Publisher struct {
	js      jetstream.JetStream
	timeout time.Duration
	closed  atomic.Bool
}

// NewPublisher returns a Publisher over js that waits at most timeout for
// each acknowledgement (2s when zero).
// oneLine makes a header value one line (a Replacer serves many goroutines).
var oneLine = strings.NewReplacer("\r", " ", "\n", " ")

func NewPublisher(js jetstream.JetStream, timeout time.Duration) *Publisher {
	if js == nil {
		panic("eventstore: nil JetStream")
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return &Publisher{js: js, timeout: timeout}
}

var _ message.Publisher = (*Publisher)(nil)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("eventstore: publisher closed")

// ErrWrongLastSequence is wrapped by Publish when the server refused a
// message because the subject's last sequence was not the expected one.
var ErrWrongLastSequence = errors.New("wrong last sequence")

// Publish appends the messages to topic (a subject), one after the other,
// stopping at the first failure.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return notStored(ErrClosed)
	}
	for _, m := range msgs {
		nm := nats.NewMsg(topic)
		nm.Data = m.Payload
		for k, v := range m.Metadata {
			if len(k) > 0 && k[0] == '_' {
				continue
			}
			// Header values are one line: a newline would corrupt the message.
			nm.Header.Set(k, oneLine.Replace(v))
		}
		nm.Header.Set(jetstream.MsgIDHeader, m.UUID)

		ctx, cancel := context.WithTimeout(m.Context(), p.timeout)
		ack, err := p.js.PublishMsg(ctx, nm)
		cancel()
		if err != nil {
			return classifyPublishError(nm.Subject, err)
		}
		m.Metadata.Set(MetadataStreamSeq, strconv.FormatUint(ack.Sequence, 10))
		if ack.Duplicate {
			m.Metadata.Set(MetadataDuplicate, "true")
		}
	}
	return nil
}

// Close makes further Publish calls fail.
func (p *Publisher) Close() error {
	p.closed.Store(true)
	return nil
}

// notStoredError wraps a publish error after which the message is certainly
// not in the stream.
type notStoredError struct{ err error }

func (e *notStoredError) Error() string { return e.err.Error() }
func (e *notStoredError) Unwrap() error { return e.err }

func notStored(err error) error { return &notStoredError{err: err} }

// NotStored reports whether a Publish error means that the message is
// certainly not stored: the server answered with a refusal (a wrong last
// sequence included), or the message was never sent.
func NotStored(err error) bool {
	var ns *notStoredError
	return errors.As(err, &ns)
}

// classifyPublishError tells an answered refusal and a publish that never
// left the client (both certain: nothing stored) from a publish whose answer
// did not come (a timeout, a connection lost while waiting: it may be stored).
func classifyPublishError(subject string, err error) error {
	var apiErr *jetstream.APIError
	switch {
	case isWrongLastSeq(err):
		return notStored(fmt.Errorf("append to %s: %w: %w", subject, ErrWrongLastSequence, err))
	case errors.As(err, &apiErr):
		// The stream answered and refused: a store failure (a full disk),
		// a limit, JetStream disabled...
		return notStored(fmt.Errorf("append to %s: %w", subject, err))
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		// Nobody listened on the subject: the message reached no stream.
		return notStored(fmt.Errorf("append to %s: %w", subject, err))
	case errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrMaxPayload),
		errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrInvalidMsg), errors.Is(err, nats.ErrInvalidConnection):
		// Refused by the client before sending (Inkwell's connections do
		// not buffer while disconnected).
		return notStored(fmt.Errorf("append to %s: %w", subject, err))
	}
	return fmt.Errorf("append to %s: %w", subject, err)
}

// isWrongLastSeq reports whether err is JetStream's "wrong last sequence"
// (10071, or 10164 on replicated streams).
func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}
