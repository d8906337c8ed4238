package eventstore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// heldConsumer is an ordered consumer that the client holds while it makes
// it again and cannot (its server died): every call waits until released.
type heldConsumer struct {
	jetstream.Consumer
	released chan struct{}
}

func (h *heldConsumer) Info(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	<-h.released
	return nil, ctx.Err()
}

// heldMessages are its messages.
type heldMessages struct {
	jetstream.MessagesContext
	released chan struct{}
}

func (h *heldMessages) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	<-h.released
	return nil, jetstream.ErrMsgIteratorClosed
}

func (h *heldMessages) Stop() { <-h.released }

// A cursor whose consumer the client holds (as nats.go does while it makes
// an ordered consumer again, for as long as the cluster refuses) is
// reported stalled by Check, and closed by Close, without waiting for the
// client: a projection follows again on a new cursor instead of stalling
// with the old one (the cluster scenario met this after a node's kill).
func TestCursorHeldByTheClientIsStalledNotWaitedFor(t *testing.T) {
	t.Parallel()
	released := make(chan struct{})
	defer close(released)
	c := &Cursor{cons: &heldConsumer{released: released}, it: &heldMessages{released: released}, ch: make(chan item, 1), done: make(chan struct{})}
	go c.pump()

	checked := make(chan error, 1)
	go func() { checked <- c.Check(context.Background()) }()
	if err := <-checked; !errors.Is(err, ErrCursorStalled) {
		t.Fatalf("Check of a held consumer: %v, want ErrCursorStalled", err)
	}

	closed := make(chan struct{})
	go func() { c.Close(); close(closed) }()
	<-closed
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Next(ctx); !errors.Is(err, ErrCursorClosed) {
		t.Fatalf("Next after Close: %v, want ErrCursorClosed", err)
	}
}

// silentMessages are the messages of a consumer placed on a node whose copy
// of the log lags or is stuck: it delivers nothing, and says only that it
// waited (the client's idle wait).
type silentMessages struct {
	jetstream.MessagesContext
}

func (silentMessages) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	return nil, nats.ErrTimeout
}

func (silentMessages) Stop() {}

// placedConsumer is a consumer whose placement is not known.
type placedConsumer struct{ jetstream.Consumer }

func (placedConsumer) CachedInfo() *jetstream.ConsumerInfo { return nil }

// oneMessage delivers one message, then waits like silentMessages.
type oneMessage struct {
	jetstream.MessagesContext
	msg  jetstream.Msg
	sent bool
}

func (o *oneMessage) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	if o.sent {
		return nil, nats.ErrTimeout
	}
	o.sent = true
	return o.msg, nil
}

func (o *oneMessage) Stop() {}

// seqMsg is a message of the log at a sequence, on a subject.
type seqMsg struct {
	jetstream.Msg
	seq     uint64
	subject string
}

func (m seqMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.seq}}, nil
}

func (m seqMsg) Subject() string { return m.subject }

// stalledRead is a cursor from Read at sequence 5, the log's end, whose
// consumer delivers nothing while the log's leader holds sequence 5; each
// consumer it makes again comes from remade. It selects no subject, so the
// message at 5, once delivered, ends it.
func stalledRead(remade func() jetstream.MessagesContext) (*Cursor, *int) {
	remakes := 0
	c := &Cursor{cons: placedConsumer{}, it: silentMessages{}, ch: make(chan item, 4), done: make(chan struct{}),
		match: []string{"inkwell.none"}, gapCheck: true, next: 5, bounded: true, end: 5,
		lookup:     func(context.Context, uint64) (uint64, error) { return 5, nil },
		stallAfter: time.Millisecond, log: slog.New(slog.DiscardHandler)}
	c.remake = func(context.Context, uint64) (jetstream.Consumer, jetstream.MessagesContext, error) {
		remakes++
		return placedConsumer{}, remade(), nil
	}
	return c, &remakes
}

// A read whose consumer delivers nothing while the log's leader holds the
// messages it waits for (a consumer placed on a node of a cluster that
// restarted and lags: a replay hung on one for its five minutes) makes its
// consumer again and reads on, rather than wait for ever.
func TestReadMakesAStalledConsumerAgain(t *testing.T) {
	t.Parallel()
	c, remakes := stalledRead(func() jetstream.MessagesContext {
		return &oneMessage{msg: seqMsg{seq: 5, subject: "inkwell.other"}}
	})
	go c.pump()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Next(ctx); !errors.Is(err, io.EOF) {
		t.Fatalf("Next: %v, want io.EOF (the message at 5 went through, and the read ended)", err)
	}
	if *remakes != 1 {
		t.Errorf("made the consumer again %d times, want 1", *remakes)
	}
}

// A read whose consumers, made again and again, deliver nothing ends with
// ErrCursorStalled (an error the log is unavailable) after maxRemakes.
func TestReadGivesUpOnConsumersThatNeverDeliver(t *testing.T) {
	t.Parallel()
	c, remakes := stalledRead(func() jetstream.MessagesContext { return silentMessages{} })
	go c.pump()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.Next(ctx)
	var unavailable *domain.UnavailableError
	if !errors.Is(err, ErrCursorStalled) || !errors.As(err, &unavailable) {
		t.Fatalf("Next: %v, want an unavailable ErrCursorStalled", err)
	}
	if *remakes != maxRemakes {
		t.Errorf("made the consumer again %d times, want %d", *remakes, maxRemakes)
	}
}
