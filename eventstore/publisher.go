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

	"inkwell/domain"
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
type Publisher struct {
	js      jetstream.JetStream
	timeout time.Duration
	closed  atomic.Bool
}

// NewPublisher returns a Publisher over js.
func NewPublisher(js jetstream.JetStream) *Publisher {
	if js == nil {
		panic("eventstore: nil JetStream")
	}
	return &Publisher{js: js, timeout: 10 * time.Second}
}

var _ message.Publisher = (*Publisher)(nil)

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("eventstore: publisher closed")

// Publish appends the messages to topic (a subject), one after the other,
// stopping at the first failure. A broken expected-sequence condition
// returns an error wrapping domain.ErrConcurrentChange.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	if p.closed.Load() {
		return ErrClosed
	}
	for _, m := range msgs {
		nm := nats.NewMsg(topic)
		nm.Data = m.Payload
		for k, v := range m.Metadata {
			if len(k) > 0 && k[0] == '_' {
				continue
			}
			// Header values are one line: a newline would corrupt the message.
			nm.Header.Set(k, strings.NewReplacer("\r", " ", "\n", " ").Replace(v))
		}
		nm.Header.Set(jetstream.MsgIDHeader, m.UUID)

		ack, err := p.publish(m.Context(), nm)
		if err != nil {
			return err
		}
		m.Metadata.Set(MetadataStreamSeq, strconv.FormatUint(ack.Sequence, 10))
		if ack.Duplicate {
			m.Metadata.Set(MetadataDuplicate, "true")
		}
	}
	return nil
}

// publish sends one message, retrying a publish whose acknowledgement was
// lost: the retry carries the same Nats-Msg-Id, so JetStream answers it
// with the first attempt's sequence instead of storing the event twice.
func (p *Publisher) publish(ctx context.Context, nm *nats.Msg) (*jetstream.PubAck, error) {
	const attempts = 3
	var lastErr error
	for i := 0; i < attempts && ctx.Err() == nil; i++ {
		actx, cancel := context.WithTimeout(ctx, p.timeout/attempts)
		ack, err := p.js.PublishMsg(actx, nm)
		cancel()
		if err == nil {
			return ack, nil
		}
		if isWrongLastSeq(err) {
			return nil, fmt.Errorf("append to %s: %w", nm.Subject, domain.ErrConcurrentChange)
		}
		lastErr = err
		retriable := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
			errors.Is(err, jetstream.ErrNoStreamResponse)
		if !retriable {
			break
		}
	}
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	return nil, fmt.Errorf("append to %s: %w", nm.Subject, lastErr)
}

// Close makes further Publish calls fail.
func (p *Publisher) Close() error {
	p.closed.Store(true)
	return nil
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
