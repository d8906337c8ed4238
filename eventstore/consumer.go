// Making a cursor: its ordered consumer of the log, bounded or following, filtered.

package eventstore

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

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
		gapCheck: len(cfg.FilterSubjects) == 0, next: from, accepted: s.lossAccepted, lookup: s.nextSeqFrom, log: s.log, stallAfter: stallBound}
	if len(cfg.FilterSubjects) == 1 {
		c.lookup = func(ctx context.Context, from uint64) (uint64, error) {
			return s.nextSeqOf(ctx, from, cfg.FilterSubjects[0])
		}
	}
	c.remake = func(ctx context.Context, from uint64) (jetstream.Consumer, jetstream.MessagesContext, error) {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
		return s.orderedConsumer(ctx, cfg)
	}
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
