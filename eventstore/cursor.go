package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// Cursor follows the log in stream order from a given sequence, through an
// ordered consumer (ephemeral, flow-controlled, recreated by the client on
// any gap). It never acknowledges anything and changes nothing on the server
// beyond its own ephemeral consumer.
type Cursor struct {
	cons   jetstream.Consumer
	it     jetstream.MessagesContext
	ch     chan item
	done   chan struct{}
	once   sync.Once
	prefix string
	keys   DataKeys
	// match, when set, selects the subjects to deliver on the client side.
	match []string

	// A cursor from Read ends after the messages the consumer had pending
	// when created. remaining counts them down as Next hands them out,
	// skipped ones included; pumpLeft is the pump's own count.
	bounded   bool
	remaining atomic.Uint64 // written by Next, read by Remaining on any goroutine
	pumpLeft  uint64
	ended     bool

	// pending is how many messages the server had yet to deliver after the
	// last one the pump took.
	pending atomic.Uint64
}

// item is an event for Next, or the end of a bounded cursor (io.EOF). raw
// is how many messages of the consumer it stands for: the event and the
// ones skipped before it.
type item struct {
	rec domain.Record
	err error
	raw uint64
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
func (s *Store) Read(ctx context.Context, from uint64, subjects ...string) (*Cursor, error) {
	return s.follow(ctx, from, true, subjects)
}

// orderedConsumer makes an ordered consumer of the log and starts its
// messages, asking again while the cluster cannot (whileClusterBusy).
func (s *Store) orderedConsumer(ctx context.Context, cfg jetstream.OrderedConsumerConfig) (jetstream.Consumer, jetstream.MessagesContext, error) {
	var cons jetstream.Consumer
	var it jetstream.MessagesContext
	err := whileClusterBusy(ctx, s.log, "make a consumer", func() error {
		var err error
		if cons, err = s.js.OrderedConsumer(ctx, s.cfg.StreamName, cfg); err != nil {
			return err
		}
		it, err = cons.Messages(jetstream.PullMaxMessages(2048))
		return err
	})
	return cons, it, err
}

// maxResets is how many times the client tries to make a cursor's consumer
// again before the cursor ends: with its backoff (1s doubling to 10s) and
// 10s a try, about a minute.
const maxResets = 5

func (s *Store) follow(ctx context.Context, from uint64, bounded bool, subjects []string) (*Cursor, error) {
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverAllPolicy,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
		// The client makes its consumer again (on a gap, a lost server)
		// holding it, by default for as long as it takes; bounded, a
		// cursor whose consumer cannot be made ends (ErrCursorClosed),
		// and its reader follows again on a new one.
		MaxResetAttempts: maxResets,
	}
	var match []string
	switch {
	case len(subjects) == 1 && subjects[0] != s.cfg.SubjectPrefix+".>":
		cfg.FilterSubjects = subjects
	case len(subjects) > 1:
		// The server matches several filter subjects against every subject
		// of a message block for each message it delivers, which crawls on
		// a log with one subject per aggregate: read every message and
		// select on the subject here, before decoding.
		match = subjects
	}
	if from > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	cons, it, err := s.orderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("follow from %d: %w", from, err)
	}
	c := &Cursor{cons: cons, it: it, ch: make(chan item, 4096), done: make(chan struct{}), prefix: s.cfg.SubjectPrefix, keys: s.keys, match: match}
	// The consumer's pending count at creation is the number of messages
	// in the log from its start sequence (matching its filter) at that
	// moment: until the first message comes, that many are pending.
	info := cons.CachedInfo()
	if info == nil {
		it.Stop()
		return nil, fmt.Errorf("read from %d: no consumer info", from)
	}
	c.pending.Store(info.NumPending)
	if bounded {
		c.bounded, c.pumpLeft = true, info.NumPending
		c.remaining.Store(info.NumPending)
	}
	go c.pump()
	return c, nil
}

func (c *Cursor) pump() {
	defer close(c.ch)
	var skipped uint64
	for {
		if c.bounded && c.pumpLeft == 0 {
			select {
			case c.ch <- item{err: io.EOF, raw: skipped}:
			case <-c.done:
			}
			return
		}
		m, err := c.it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			// Heartbeat and reconnect errors are transient: the ordered
			// consumer recreates itself and resumes after the last delivered
			// message.
			select {
			case <-c.done:
				return
			case <-time.After(50 * time.Millisecond):
				continue
			}
		}
		c.pumpLeft--
		md, err := m.Metadata()
		if err == nil {
			c.pending.Store(md.NumPending)
		}
		if c.match != nil && !matchesAny(c.match, m.Subject()) {
			skipped++
			continue
		}
		it := item{raw: skipped + 1}
		skipped = 0
		if err != nil {
			it.err = fmt.Errorf("follow: message metadata: %w", err)
		} else {
			it.rec, it.err = RawEvent{Subject: m.Subject(), Seq: md.Sequence.Stream, Header: m.Headers(), Data: m.Data(), Keys: c.keys}.Decode()
		}
		select {
		case c.ch <- it:
		case <-c.done:
			return
		}
	}
}

// matchesAny reports whether subject matches one of the NATS subject
// filters (with * and > wildcards).
func matchesAny(filters []string, subject string) bool {
	for _, f := range filters {
		if subjectMatches(f, subject) {
			return true
		}
	}
	return false
}

func subjectMatches(filter, subject string) bool {
	for {
		ftok, frest, fmore := strings.Cut(filter, ".")
		if ftok == ">" {
			return subject != ""
		}
		stok, srest, smore := strings.Cut(subject, ".")
		if ftok != "*" && ftok != stok {
			return false
		}
		if !fmore || !smore {
			return fmore == smore
		}
		filter, subject = frest, srest
	}
}

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
	}
	return it.rec, it.err
}

// Remaining returns, for a cursor from Read, how many messages of the log it
// has yet to go through: an upper bound on the events it will still deliver,
// exact when it reads all subjects or a single filter (0 for a cursor from
// Follow). It may be called while another goroutine calls Next.
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
		info, err := c.cons.Info(ctx)
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
	return nil
}

// Close stops the cursor. It does not wait for the client to let go of the
// consumer (see Check): a follower closing a stalled cursor to follow again
// on a new one must not stall with it.
func (c *Cursor) Close() {
	c.once.Do(func() {
		close(c.done)
		go c.it.Stop()
	})
}
