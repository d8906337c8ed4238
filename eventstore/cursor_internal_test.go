package eventstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
