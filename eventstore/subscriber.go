package eventstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// Metadata keys a Subscriber sets on each message, besides the event's own
// headers.
const (
	MetadataSubject = "Inkwell-Subject"
	MetadataLogSeq  = "Inkwell-Stream-Seq"
)

// ConsumerConfig describes a durable consumer of the log.
type ConsumerConfig struct {
	// Name is the durable name; it is persisted and must never change
	// (renaming means replaying everything to the new name).
	Name string
	// Subjects filters the events (see Store.SubjectsOf).
	Subjects []string
	// AckWait is how long a delivered event may stay unacknowledged before
	// JetStream delivers it again (default 30s).
	AckWait time.Duration
	// MaxAckPending bounds events in flight across every process bound to
	// the consumer; 1 (the default) handles them one at a time, in order,
	// whichever process takes each.
	MaxAckPending int
}

// EnsureConsumer creates (or updates) a durable pull consumer with explicit
// acknowledgements. Consumers are created up front, here, and only bound to
// by subscribers: nothing deletes them when a subscriber stops.
func (s *Store) EnsureConsumer(ctx context.Context, cfg ConsumerConfig) error {
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxAckPending == 0 {
		cfg.MaxAckPending = 1
	}
	cc := jetstream.ConsumerConfig{
		Durable:       cfg.Name,
		Description:   "Inkwell reactor " + cfg.Name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1,
		MaxAckPending: cfg.MaxAckPending,
	}
	if len(cfg.Subjects) == 1 {
		cc.FilterSubject = cfg.Subjects[0]
	} else {
		cc.FilterSubjects = cfg.Subjects
	}
	// Where an existing consumer starts is kept (a rewritten log's
	// consumers start where they stood on the old one: see SwitchLog).
	err := whileClusterBusy(ctx, s.log, "make the consumer "+cfg.Name, func() error {
		c, err := s.js.Consumer(ctx, s.cfg.StreamName, cfg.Name)
		switch {
		case err == nil:
			cc.DeliverPolicy, cc.OptStartSeq = c.CachedInfo().Config.DeliverPolicy, c.CachedInfo().Config.OptStartSeq
		case !errors.Is(err, jetstream.ErrConsumerNotFound):
			return err
		}
		_, err = s.js.CreateOrUpdateConsumer(ctx, s.cfg.StreamName, cc)
		return err
	})
	if err != nil {
		return fmt.Errorf("consumer %s: %w", cfg.Name, err)
	}
	return nil
}

// EnsureDeadLetterStream creates the stream that keeps messages reactors gave
// up on, under <prefix>.deadletter.>, where they can be inspected and replayed.
func (s *Store) EnsureDeadLetterStream(ctx context.Context) (string, error) {
	// inkwell.events -> inkwell.deadletter; another prefix P -> P_deadletter
	// (never under P itself, which belongs to the event stream).
	prefix := s.base.SubjectPrefix + "_deadletter"
	if base, ok := strings.CutSuffix(s.base.SubjectPrefix, ".events"); ok {
		prefix = base + ".deadletter"
	}
	err := whileClusterBusy(ctx, s.log, "create the dead-letter stream", func() error {
		_, err := s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        s.base.StreamName + "_DEADLETTER",
			Description: "Inkwell events that reactors could not handle",
			Subjects:    []string{prefix + ".>"},
			Storage:     jetstream.FileStorage,
			Replicas:    s.cfg.Replicas,
			Duplicates:  s.cfg.Duplicates,
		})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("dead-letter stream: %w", err)
	}
	return prefix, nil
}

// Publisher returns the store's Watermill publisher (for dead letters).
func (s *Store) Publisher() message.Publisher { return s.pub }

// Subscriber is a Watermill subscriber bound to durable consumers of the log
// that EnsureConsumer created; the topic is the consumer's name. Each message
// is acknowledged to JetStream only when the handler acks it (a nack is
// redelivered after a delay), and the next one is fetched only then.
type Subscriber struct {
	store  *Store
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
	stops  []func()
}

// NewSubscriber returns a subscriber over the store's consumers.
func NewSubscriber(store *Store) *Subscriber { return &Subscriber{store: store} }

var _ message.Subscriber = (*Subscriber)(nil)

// Subscribe binds to the durable consumer named topic.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	var cons jetstream.Consumer
	err := whileClusterBusy(ctx, s.store.log, "bind to the consumer "+topic, func() error {
		var err error
		cons, err = s.store.js.Consumer(ctx, s.store.cfg.StreamName, topic)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bind to consumer %s (create it with EnsureConsumer first): %w", topic, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", topic, err)
	}
	out := make(chan *message.Message)
	done := make(chan struct{})
	var once sync.Once
	stop := func() { once.Do(func() { close(done); it.Stop() }) }
	s.stops = append(s.stops, stop)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer stop()
		for {
			m, err := it.Next()
			if err != nil {
				if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					return
				}
				select {
				case <-done:
					return
				case <-ctx.Done():
					return
				case <-time.After(100 * time.Millisecond):
					continue
				}
			}
			wm, err := toWatermill(m)
			if err != nil {
				// Not an event of the log: nothing can handle it.
				_ = m.Term()
				continue
			}
			wm.SetContext(ctx)
			select {
			case out <- wm:
			case <-done:
				return
			case <-ctx.Done():
				return
			}
			select {
			case <-wm.Acked():
				actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = m.DoubleAck(actx)
				cancel()
			case <-wm.Nacked():
				_ = m.NakWithDelay(time.Second)
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Close stops every subscription (the consumers stay).
func (s *Subscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	stops := s.stops
	s.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
	s.wg.Wait()
	return nil
}

// toWatermill turns a JetStream message of the log into a Watermill message:
// the event id as UUID, the event's headers as metadata (without JetStream's
// own publish conditions), and its subject and stream sequence.
func toWatermill(m jetstream.Msg) (*message.Message, error) {
	md, err := m.Metadata()
	if err != nil {
		return nil, err
	}
	h := m.Headers()
	id := h.Get(jetstream.MsgIDHeader)
	if id == "" {
		return nil, errors.New("no event id")
	}
	wm := message.NewMessage(id, m.Data())
	for k, vs := range h {
		if strings.HasPrefix(k, "Nats-") || len(vs) == 0 {
			continue
		}
		wm.Metadata.Set(k, vs[0])
	}
	wm.Metadata.Set(MetadataSubject, m.Subject())
	wm.Metadata.Set(MetadataLogSeq, strconv.FormatUint(md.Sequence.Stream, 10))
	return wm, nil
}

// DecodeMessage turns a Watermill message from a Subscriber back into a Record.
func (s *Store) DecodeMessage(wm *message.Message) (domain.Record, error) {
	seq, err := strconv.ParseUint(wm.Metadata.Get(MetadataLogSeq), 10, 64)
	if err != nil {
		return domain.Record{}, fmt.Errorf("message %s: stream sequence: %w", wm.UUID, err)
	}
	h := nats.Header{}
	for k, v := range wm.Metadata {
		h.Set(k, v)
	}
	h.Set(jetstream.MsgIDHeader, wm.UUID)
	return RawEvent{Subject: wm.Metadata.Get(MetadataSubject), Seq: seq, Header: h, Data: wm.Payload, Keys: s.keys}.Decode()
}
