package eventstore

import (
	"context"
	"errors"
	"fmt"
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
}

type item struct {
	rec domain.Record
	err error
}

// Follow returns a cursor over every event from sequence from (1 for the
// whole log) whose subject matches one of subjects (all when none are given;
// see SubjectsOf). It follows live appends until closed.
func (s *Store) Follow(ctx context.Context, from uint64, subjects ...string) (*Cursor, error) {
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

// Next returns the next event, waiting for one to be appended if needed.
func (c *Cursor) Next(ctx context.Context) (domain.Record, error) {
	select {
	case it, ok := <-c.ch:
		if !ok {
			return domain.Record{}, ErrCursorClosed
		}
		return it.rec, it.err
	case <-ctx.Done():
		return domain.Record{}, ctx.Err()
	}
}

// TryNext returns the next event if one has already arrived.
func (c *Cursor) TryNext() (domain.Record, bool, error) {
	select {
	case it, ok := <-c.ch:
		if !ok {
			return domain.Record{}, false, ErrCursorClosed
		}
		return it.rec, true, it.err
	default:
		return domain.Record{}, false, nil
	}
}

// Close stops the cursor.
func (c *Cursor) Close() {
	c.once.Do(func() {
		close(c.done)
		c.it.Stop()
	})
}
