package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// Cursor follows the log in stream order from a given sequence, through an
// ordered consumer (ephemeral, flow-controlled, recreated by the client when
// a delivery of its own goes missing). It never acknowledges anything and
// changes nothing on the server beyond its own ephemeral consumer.
//
// A message the log lost (a block file damaged on disk) is not a missing
// delivery to the consumer: the server goes on with the next message it can
// read, and says nothing. A cursor that goes through every message of the
// log (one from Read, or one following every subject or several) notices
// it, and Next returns a *GapError before the event after the gap, unless
// an operator accepted the loss (domain.LossAccepted): then it goes past.
type Cursor struct {
	// mu guards cons and it, which the pump replaces when it makes its
	// consumer again (see stalled).
	mu     sync.Mutex
	cons   jetstream.Consumer
	it     jetstream.MessagesContext
	remake func(ctx context.Context, from uint64) (jetstream.Consumer, jetstream.MessagesContext, error)
	// stallAfter is how long a cursor from Read waits for a message the
	// log holds before it makes its consumer again (stallBound).
	stallAfter time.Duration
	log        *slog.Logger
	ch         chan item
	done       chan struct{}
	once       sync.Once
	prefix     string
	keys       DataKeys
	// match, when set, selects the subjects to deliver on the client side.
	match []string
	// envelopes makes the cursor decode envelopes only (Event nil).
	envelopes bool

	// gapCheck is set when the consumer delivers every message of the log
	// (no filter on the server), so that a sequence it skips is a message
	// the log lost; next is the sequence the pump expects next.
	gapCheck bool
	next     uint64
	// accepted, if set, says whether the loss of first..last was accepted:
	// the cursor goes past it without a *GapError.
	accepted func(ctx context.Context, first, last uint64) (bool, error)
	// lookup asks the log's leader for its next message for the cursor (of
	// the cursor's filter subject, if any) at or after a sequence (see
	// ahead and behind).
	lookup func(ctx context.Context, from uint64) (uint64, error)

	// A cursor from Read ends after end, the log's last sequence when it
	// was made: by sequence, so that a message the log lost cannot make it
	// wait for ever. remaining counts the consumer's pending messages down
	// as Next hands them out (skipped ones included), for progress.
	bounded   bool
	end       uint64
	remaining atomic.Uint64 // written by Next, read by Remaining on any goroutine
	ended     bool

	// pending is how many messages the server had yet to deliver after the
	// last one the pump took.
	pending atomic.Uint64
	// through is the sequence of the last message the pump went through:
	// skipped, or handed to Next (see Follower.rejoin).
	through atomic.Uint64
}

// item is an event for Next, or the end of a bounded cursor (io.EOF). raw
// is how many messages of the consumer it stands for: the event and the
// ones skipped before it.
type item struct {
	rec domain.Record
	err error
	raw uint64
	// subject is the event's subject, for a cursor that feeds the
	// process's shared tail (see tail), which selects on it for each of
	// its followers.
	subject string
}

// Follow returns a cursor over every event from sequence from (1 for the
// whole log) whose subject matches one of subjects (all when none are given;
// see SubjectsOf). It follows live appends until closed.
func (s *Store) Follow(ctx context.Context, from uint64, subjects ...string) (*Cursor, error) {
	return s.follow(ctx, from, false, subjects)
}

// Read returns a cursor over the events from sequence from whose subject
// matches one of subjects (all when none are given) that are in the log when
// Read is called: Next returns io.EOF after the last of them. Events
// appended later are not delivered.
//
// The cursor goes through every message of the log from from, selecting on
// the subject before decoding, and ends by sequence: a message the log lost
// is a *GapError (unless its loss was accepted), never a wait for ever.
func (s *Store) Read(ctx context.Context, from uint64, subjects ...string) (*Cursor, error) {
	return s.follow(ctx, from, true, subjects)
}

// End returns, for a cursor from Read, the last sequence of the log when it
// was made: it goes through the log up to there.
func (c *Cursor) End() uint64 { return c.end }

// ErrCursorClosed is returned by Next after Close.
var ErrCursorClosed = errors.New("eventstore: cursor closed")

// Next returns the next event, waiting for one to be appended if needed. A
// cursor from Read returns io.EOF after its last event.
func (c *Cursor) Next(ctx context.Context) (domain.Record, error) {
	if c.ended {
		return domain.Record{}, io.EOF
	}
	select {
	case it, ok := <-c.ch:
		return c.take(it, ok)
	case <-c.done:
		return domain.Record{}, ErrCursorClosed
	case <-ctx.Done():
		return domain.Record{}, ctx.Err()
	}
}

// TryNext returns the next event if one has already arrived. A cursor from
// Read returns io.EOF after its last event.
func (c *Cursor) TryNext() (domain.Record, bool, error) {
	if c.ended {
		return domain.Record{}, false, io.EOF
	}
	select {
	case it, ok := <-c.ch:
		rec, err := c.take(it, ok)
		if errors.Is(err, io.EOF) {
			return rec, false, err
		}
		return rec, true, err
	default:
		return domain.Record{}, false, nil
	}
}

func (c *Cursor) take(it item, ok bool) (domain.Record, error) {
	if !ok {
		return domain.Record{}, ErrCursorClosed
	}
	rem := c.remaining.Load()
	c.remaining.Store(rem - min(rem, it.raw))
	if errors.Is(it.err, io.EOF) {
		c.ended = true
		c.remaining.Store(0)
	}
	return it.rec, it.err
}

// Remaining returns, for a cursor from Read, how many messages of the log it
// has yet to go through, as the server counts them: an upper bound on the
// events it will still deliver (0 for a cursor from Follow, and once Next
// returned io.EOF). It may be called while another goroutine calls Next.
func (c *Cursor) Remaining() uint64 { return c.remaining.Load() }

// Pending returns how many messages of the log past the last event Next
// returned the cursor has yet to go through: those taken but not handed
// out, and those the server has yet to deliver. It is exact for a cursor on
// one subject filter or on all subjects, and an upper bound for one that
// selects several subjects on the client. 0 means caught up.
func (c *Cursor) Pending() uint64 { return c.pending.Load() + uint64(len(c.ch)) }

// ErrCursorStalled is returned by Check when the server has messages for a
// cursor that delivers none: its consumer was lost (its server died) and
// not made again. Follow again from where the cursor stood.
var ErrCursorStalled = errors.New("the log's cursor has stalled: the server holds messages it does not deliver")

// Check asks the server about the cursor's consumer, for a follower that
// has waited a while for a message: an error if the consumer is gone or
// has messages pending while none waits in the cursor (ErrCursorStalled).
//
// The client holds its consumer while it makes it again (after its server
// died, or the connection moved to another server), and may do so for as
// long as the cluster does not let it: a Check that gets no answer within
// its bound reports the cursor stalled rather than waiting with it.
func (c *Cursor) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	type answer struct {
		info *jetstream.ConsumerInfo
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		info, err := c.consumer().Info(ctx)
		answered <- answer{info, err}
	}()
	var a answer
	select {
	case a = <-answered:
	case <-ctx.Done():
		return unavailable(fmt.Errorf("the log's cursor: its consumer does not answer: %w", ErrCursorStalled))
	}
	if a.err != nil {
		return unavailable(fmt.Errorf("the log's cursor: %w", a.err))
	}
	if a.info.NumPending > 0 && len(c.ch) == 0 {
		return ErrCursorStalled
	}
	if a.info.NumPending == 0 && len(c.ch) == 0 && c.behind(ctx, a.info.Delivered.Stream) {
		return ErrCursorStalled
	}
	return nil
}

// behind reports whether the log's leader holds a message for the cursor
// past delivered, the last its consumer delivered, which the consumer,
// asked again, still neither delivered nor counts as pending: a consumer
// delivers what its node's copy of the log holds, and one placed on a node
// that lags or is stuck (restarted in a cluster) has nothing pending while
// the log has more (see stallBound).
func (c *Cursor) behind(ctx context.Context, delivered uint64) bool {
	held, err := c.lookup(ctx, delivered+1)
	if err != nil {
		return false // none, or the log does not answer: nothing to say
	}
	info, err := c.consumer().Info(ctx)
	return err == nil && info.NumPending == 0 && info.Delivered.Stream < held && len(c.ch) == 0
}

// Close stops the cursor. It does not wait for the client to let go of the
// consumer (see Check): a follower closing a stalled cursor to follow again
// on a new one must not stall with it.
func (c *Cursor) Close() {
	c.once.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		close(c.done)
		go c.it.Stop()
	})
}

// consumer returns the cursor's consumer of the moment.
func (c *Cursor) consumer() jetstream.Consumer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cons
}

// iterator returns the messages of the cursor's consumer of the moment.
func (c *Cursor) iterator() jetstream.MessagesContext {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.it
}
