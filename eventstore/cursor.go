package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// Cursor follows the log in stream order from a given sequence, through an
// ordered consumer (ephemeral, flow-controlled, recreated by the client on
// any gap). It never acknowledges anything and changes nothing on the server
// beyond its own ephemeral consumer.
type Cursor struct {
	it     jetstream.MessagesContext
	ch     chan item
	done   chan struct{}
	once   sync.Once
	prefix string

	// bounded cursors (Read) end after remaining more events.
	bounded   bool
	remaining uint64
}

type item struct {
	rec domain.Record
	err error
}

// Follow returns a cursor over every event from sequence from (1 for the
// whole log) whose subject matches one of subjects (all when none are given;
// see SubjectsOf). It follows live appends until closed.
func (s *Store) Follow(ctx context.Context, from uint64, subjects ...string) (*Cursor, error) {
	return s.follow(ctx, from, false, subjects)
}

// Read returns a cursor over the events from sequence from whose subject
// matches one of subjects (all when none are given) that are in the log when
// Read is called: Next returns io.EOF after the last of them, and Remaining
// tells how many are left. Events appended later are not delivered.
func (s *Store) Read(ctx context.Context, from uint64, subjects ...string) (*Cursor, error) {
	return s.follow(ctx, from, true, subjects)
}

func (s *Store) follow(ctx context.Context, from uint64, bounded bool, subjects []string) (*Cursor, error) {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: subjects,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		ReplayPolicy:   jetstream.ReplayInstantPolicy,
	}
	if len(subjects) == 1 {
		cfg.FilterSubjects = nil
		if subjects[0] != s.cfg.SubjectPrefix+".>" {
			cfg.FilterSubjects = subjects
		}
	}
	if from > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from
	}
	cons, err := s.js.OrderedConsumer(ctx, s.cfg.StreamName, cfg)
	if err != nil {
		return nil, fmt.Errorf("follow from %d: %w", from, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2048))
	if err != nil {
		return nil, fmt.Errorf("follow from %d: %w", from, err)
	}
	c := &Cursor{it: it, ch: make(chan item, 4096), done: make(chan struct{}), prefix: s.cfg.SubjectPrefix}
	if bounded {
		// The consumer's pending count at creation is the number of matching
		// events in the log from its start sequence at that moment.
		info := cons.CachedInfo()
		if info == nil {
			it.Stop()
			return nil, fmt.Errorf("read from %d: no consumer info", from)
		}
		c.bounded, c.remaining = true, info.NumPending
	}
	go c.pump()
	return c, nil
}

func (c *Cursor) pump() {
	defer close(c.ch)
	for {
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
		md, err := m.Metadata()
		var it item
		if err != nil {
			it.err = fmt.Errorf("follow: message metadata: %w", err)
		} else {
			it.rec, it.err = RawEvent{Subject: m.Subject(), Seq: md.Sequence.Stream, Header: m.Headers(), Data: m.Data()}.Decode()
		}
		select {
		case c.ch <- it:
		case <-c.done:
			return
		}
	}
}

// ErrCursorClosed is returned by Next after Close.
var ErrCursorClosed = errors.New("eventstore: cursor closed")

// Next returns the next event, waiting for one to be appended if needed. A
// cursor from Read returns io.EOF after its last event.
func (c *Cursor) Next(ctx context.Context) (domain.Record, error) {
	if c.bounded && c.remaining == 0 {
		return domain.Record{}, io.EOF
	}
	select {
	case it, ok := <-c.ch:
		if !ok {
			return domain.Record{}, ErrCursorClosed
		}
		c.delivered()
		return it.rec, it.err
	case <-ctx.Done():
		return domain.Record{}, ctx.Err()
	}
}

// TryNext returns the next event if one has already arrived. A cursor from
// Read returns io.EOF after its last event.
func (c *Cursor) TryNext() (domain.Record, bool, error) {
	if c.bounded && c.remaining == 0 {
		return domain.Record{}, false, io.EOF
	}
	select {
	case it, ok := <-c.ch:
		if !ok {
			return domain.Record{}, false, ErrCursorClosed
		}
		c.delivered()
		return it.rec, true, it.err
	default:
		return domain.Record{}, false, nil
	}
}

func (c *Cursor) delivered() {
	if c.bounded && c.remaining > 0 {
		c.remaining--
	}
}

// Remaining returns how many events a cursor from Read has yet to deliver
// (0 for a cursor from Follow). Like Next, it is for one goroutine.
func (c *Cursor) Remaining() uint64 { return c.remaining }

// Close stops the cursor.
func (c *Cursor) Close() {
	c.once.Do(func() {
		close(c.done)
		c.it.Stop()
	})
}
