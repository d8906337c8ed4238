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

	"github.com/nats-io/nats.go"
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
	cons   jetstream.Consumer
	it     jetstream.MessagesContext
	ch     chan item
	done   chan struct{}
	once   sync.Once
	prefix string
	keys   DataKeys
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
	// lookup, for a cursor from Read, asks the log for its next message
	// at or after a sequence (see drained).
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
//
// The cursor goes through every message of the log from from, selecting on
// the subject before decoding, and ends by sequence: a message the log lost
// is a *GapError (unless its loss was accepted), never a wait for ever.
func (s *Store) Read(ctx context.Context, from uint64, subjects ...string) (*Cursor, error) {
	return s.follow(ctx, from, true, subjects)
}

// idleWait is how long a cursor from Read waits for a message before it
// asks the log whether one is still to come (see drained).
const idleWait = 250 * time.Millisecond

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
		it, err = cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(2048, pullBytes(s.nc)))
		return err
	})
	return cons, it, err
}

// pullBytes bounds the bytes a cursor asks the server for at once (and so
// what it holds delivered but not taken: about twice that): 2,048 small
// events, but only 16 MiB of big ones. Unbounded, a reader decoding big
// events more slowly than the server delivers them overflows the client's
// buffer of a subscription (64 MiB): it is a slow consumer, loses messages,
// and crowds out every other request on the connection (a data key's
// fetch, a command's append). The bound is at least twice the largest
// message the server takes, or a big one would never come.
func pullBytes(nc *nats.Conn) int {
	return max(16<<20, 2*int(nc.MaxPayload()))
}

// maxResets is how many times the client tries to make a cursor's consumer
// again before the cursor ends: with its backoff (1s doubling to 10s) and
// 10s a try, about a minute.
const maxResets = 5

// follow makes a cursor (see Follow and Read); tune, if any, sets it up
// before it starts.
func (s *Store) follow(ctx context.Context, from uint64, bounded bool, subjects []string, tune ...func(*Cursor)) (*Cursor, error) {
	from = max(from, 1)
	var end uint64
	if bounded {
		// Before the consumer: every message it counts as pending is at or
		// before the end, or was appended since (and is not delivered).
		var err error
		if end, err = s.Head(ctx); err != nil {
			return nil, fmt.Errorf("read from %d: %w", from, err)
		}
	}
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
	case len(subjects) == 1 && subjects[0] != s.cfg.SubjectPrefix+".>" && !bounded:
		cfg.FilterSubjects = subjects
	case len(subjects) == 1 && subjects[0] != s.cfg.SubjectPrefix+".>":
		// A bounded read goes through every message, so that it notices
		// one the log lost (the server would skip it in silence).
		match = subjects
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
	c := &Cursor{cons: cons, it: it, ch: make(chan item, 4096), done: make(chan struct{}), prefix: s.cfg.SubjectPrefix, keys: s.keys, match: match,
		gapCheck: len(cfg.FilterSubjects) == 0, next: from, accepted: s.lossAccepted, lookup: s.nextSeqFrom}
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
		c.bounded, c.end = true, end
		c.remaining.Store(info.NumPending)
	}
	for _, t := range tune {
		t(c)
	}
	go c.pump()
	return c, nil
}

// End returns, for a cursor from Read, the last sequence of the log when it
// was made: it goes through the log up to there.
func (c *Cursor) End() uint64 { return c.end }

func (c *Cursor) pump() {
	defer close(c.ch)
	var skipped uint64
	// look is set when the server may have nothing more to deliver before
	// the end: the cursor asks the log before it waits again.
	look := false
	for {
		if c.bounded && c.next > c.end {
			c.send(item{err: io.EOF, raw: skipped})
			return
		}
		if c.bounded && look {
			look = false
			if c.drained() {
				// What the server cannot deliver before the end is lost.
				if c.gap(c.next, c.end) {
					c.send(item{err: io.EOF, raw: skipped})
				}
				return
			}
		}
		var opts []jetstream.NextOpt
		if c.bounded {
			opts = append(opts, jetstream.NextMaxWait(idleWait))
		}
		m, err := c.it.Next(opts...)
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			if errors.Is(err, nats.ErrTimeout) {
				look = true
				continue
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
		md, err := m.Metadata()
		if err == nil {
			c.pending.Store(md.NumPending)
			seq := md.Sequence.Stream
			if c.bounded && seq > c.end {
				// Appended after Read: not delivered; the sequences
				// before it that did not come are lost.
				if c.gap(c.next, c.end) {
					c.send(item{err: io.EOF, raw: skipped})
				}
				return
			}
			if seq > c.next && c.gapCheck && !c.gap(c.next, seq-1) {
				return
			}
			c.next = max(c.next, seq+1)
			// The server counts what it holds from its index, lost
			// messages included: nothing pending is worth a look now,
			// something pending may never come.
			look = md.NumPending == 0
		}
		if c.match != nil && !matchesAny(c.match, m.Subject()) {
			skipped++
			continue
		}
		it := item{raw: skipped + 1}
		skipped = 0
		if err != nil {
			it.err = fmt.Errorf("follow: message metadata: %w", err)
		} else if raw := (RawEvent{Subject: m.Subject(), Seq: md.Sequence.Stream, Header: m.Headers(), Data: m.Data(), Keys: c.keys}); c.envelopes {
			it.rec, it.err = raw.DecodeEnvelope()
		} else {
			it.rec, it.err = raw.Decode()
		}
		if !c.send(it) {
			return
		}
	}
}

// send hands it to Next; false if the cursor was closed.
func (c *Cursor) send(it item) bool {
	select {
	case c.ch <- it:
		return true
	case <-c.done:
		return false
	}
}

// gap reports the sequences first..last, which the server did not deliver,
// as a *GapError (unless their loss was accepted, or there are none); false
// if the cursor was closed meanwhile.
func (c *Cursor) gap(first, last uint64) bool {
	if first > last {
		return true
	}
	err := error(&GapError{First: first, Last: last})
	if c.accepted != nil {
		ctx, cancel := c.opContext()
		ok, aerr := c.accepted(ctx, first, last)
		cancel()
		switch {
		case aerr != nil:
			err = fmt.Errorf("%w (whether its loss was accepted cannot be read now: %v)", err, aerr)
		case ok:
			return true
		}
	}
	return c.send(item{err: err})
}

// drained asks the log whether a message at or after the next sequence and
// up to the end is still to come; false when it does not answer.
func (c *Cursor) drained() bool {
	if c.lookup == nil {
		return false
	}
	ctx, cancel := c.opContext()
	defer cancel()
	seq, err := c.lookup(ctx, c.next)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
		return true
	case err != nil:
		return false
	}
	return seq > c.end
}

// opContext bounds a request the pump makes; it ends with the cursor.
func (c *Cursor) opContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	go func() {
		select {
		case <-c.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
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
