// Package eventstore is Inkwell's event log: one JetStream stream holding
// every event, one subject per aggregate instance. Appends go through a
// Watermill publisher with optimistic concurrency (the subject's expected
// last sequence) and the event id as JetStream's dedupe id; aggregates are
// loaded with the stream's get-message calls (never one consumer per load)
// and cached; readers follow the whole log in order from any sequence.
package eventstore

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// Config configures the stream.
type Config struct {
	StreamName    string // default "INKWELL"
	SubjectPrefix string // default "inkwell.events"
	Replicas      int    // default 1
	// Duplicates is JetStream's dedupe window for Nats-Msg-Id (default 2m).
	Duplicates time.Duration
	// CacheSize is how many aggregate streams are kept in memory (default 10,000).
	CacheSize int
	Logger    *slog.Logger
}

func (c *Config) setDefaults() {
	if c.StreamName == "" {
		c.StreamName = "INKWELL"
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Duplicates == 0 {
		c.Duplicates = 2 * time.Minute
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Store is the event log.
type Store struct {
	cfg    Config
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	pub    message.Publisher
	cache  *streamCache
	log    *slog.Logger

	// OnAppend, if set, is called after each successful append.
	OnAppend func(recs []domain.Record)
}

// Open checks the server (JetStream enabled, a supported version), creates or
// updates the stream and returns the store.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := CheckServer(ctx, nc); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	sc := jetstream.StreamConfig{
		Name:        cfg.StreamName,
		Description: "Inkwell event log",
		Subjects:    []string{cfg.SubjectPrefix + ".>"},
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardNew,
		MaxMsgs:     -1,
		MaxBytes:    -1,
		MaxAge:      0,
		Replicas:    cfg.Replicas,
		Duplicates:  cfg.Duplicates,
		DenyDelete:  true,
		DenyPurge:   true,
		AllowDirect: true,
	}
	stream, err := js.CreateOrUpdateStream(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", cfg.StreamName, err)
	}
	return &Store{
		cfg:    cfg,
		nc:     nc,
		js:     js,
		stream: stream,
		pub:    NewPublisher(js),
		cache:  newStreamCache(cfg.CacheSize),
		log:    cfg.Logger,
	}, nil
}

// JetStream returns the JetStream context the store uses.
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// StreamName returns the name of the stream holding the log.
func (s *Store) StreamName() string { return s.cfg.StreamName }

// SubjectPrefix returns the prefix of every event subject.
func (s *Store) SubjectPrefix() string { return s.cfg.SubjectPrefix }

// Subject returns the subject of an aggregate's stream.
func (s *Store) Subject(id domain.StreamID) (string, error) {
	return subjectOf(s.cfg.SubjectPrefix, id)
}

// SubjectsOf returns the subject filters matching every stream of the given
// aggregate types (all streams when none are given).
func (s *Store) SubjectsOf(aggregateTypes ...string) []string {
	if len(aggregateTypes) == 0 {
		return []string{s.cfg.SubjectPrefix + ".>"}
	}
	out := make([]string, len(aggregateTypes))
	for i, t := range aggregateTypes {
		out[i] = s.cfg.SubjectPrefix + "." + t + ".*"
	}
	return out
}

// Load reads every event of one aggregate, in order. It always asks the log
// for the stream's last sequence, so the result is current; events already
// cached are not fetched again. A stream with no events loads empty.
func (s *Store) Load(ctx context.Context, id domain.StreamID) ([]domain.Record, domain.Position, error) {
	subj, err := s.Subject(id)
	if err != nil {
		return nil, domain.Position{}, err
	}
	last, err := s.stream.GetLastMsgForSubject(ctx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, domain.Position{}, nil
	} else if err != nil {
		return nil, domain.Position{}, fmt.Errorf("load %s: %w", id, err)
	}
	lastRec, err := RawEvent{Subject: subj, Seq: last.Sequence, Header: last.Header, Data: last.Data}.Decode()
	if err != nil {
		return nil, domain.Position{}, fmt.Errorf("load %s: %w", id, err)
	}

	recs, pos := s.cache.get(subj)
	switch {
	case pos.Seq == lastRec.Seq:
		return recs, pos, nil
	case pos.Seq > lastRec.Seq:
		recs, pos = nil, domain.Position{} // cannot happen on an immutable log; start over
	}
	if lastRec.Version == pos.Version+1 {
		recs = append(recs, lastRec)
	} else {
		from := pos.Seq + 1
		for {
			m, err := s.stream.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subj))
			if err != nil {
				return nil, domain.Position{}, fmt.Errorf("load %s from %d: %w", id, from, err)
			}
			rec, err := RawEvent{Subject: subj, Seq: m.Sequence, Header: m.Header, Data: m.Data}.Decode()
			if err != nil {
				return nil, domain.Position{}, fmt.Errorf("load %s: %w", id, err)
			}
			recs = append(recs, rec)
			if m.Sequence >= lastRec.Seq {
				break
			}
			from = m.Sequence + 1
		}
	}
	pos = domain.Position{Seq: lastRec.Seq, Version: lastRec.Version}
	s.cache.put(subj, recs, pos)
	return recs, pos, nil
}

// Append appends events to one aggregate's stream, which must stand at pos
// (the position it had when loaded). It returns the records as stored.
//
// When the stream moved on since pos, Append fails with an error wrapping
// domain.ErrConcurrentChange and appends nothing. Several events are
// appended one after the other, each expecting the previous one; commands in
// Inkwell decide one event each, so an append is all or nothing.
func (s *Store) Append(ctx context.Context, id domain.StreamID, pos domain.Position, meta domain.Meta, events ...domain.Event) ([]domain.Record, error) {
	subj, err := s.Subject(id)
	if err != nil {
		return nil, err
	}
	if meta.OccurredAt.IsZero() {
		meta.OccurredAt = time.Now()
	}
	if meta.ActorID == "" {
		meta.ActorID = domain.SystemActorID
	}
	recs := make([]domain.Record, 0, len(events))
	for _, ev := range events {
		evID, err := newEventID()
		if err != nil {
			return recs, err
		}
		rec := domain.Record{
			ID:            evID,
			Type:          ev.EventType(),
			SchemaVersion: domain.SchemaVersionOf(ev),
			Stream:        id,
			Version:       pos.Version + 1,
			OccurredAt:    meta.OccurredAt.UTC(),
			ActorID:       meta.ActorID,
			CorrelationID: meta.CorrelationID,
			Event:         ev,
		}
		body, err := json.Marshal(ev)
		if err != nil {
			return recs, fmt.Errorf("append %s: encode %s: %w", id, rec.Type, err)
		}
		msg := message.NewMessage(evID, body)
		msg.SetContext(ctx)
		encodeHeaders(msg.Metadata, rec)
		msg.Metadata.Set(MetadataExpectedSubjectSeq, strconv.FormatUint(pos.Seq, 10))
		if err := s.pub.Publish(subj, msg); err != nil {
			if errors.Is(err, domain.ErrConcurrentChange) {
				s.cache.drop(subj)
			}
			return recs, err
		}
		rec.Seq, err = strconv.ParseUint(msg.Metadata.Get(MetadataStreamSeq), 10, 64)
		if err != nil {
			return recs, fmt.Errorf("append %s: no stream sequence in ack: %w", id, err)
		}
		recs = append(recs, rec)
		s.cache.extend(subj, pos, rec)
		pos = domain.Position{Seq: rec.Seq, Version: rec.Version}
	}
	if s.OnAppend != nil && len(recs) > 0 {
		s.OnAppend(recs)
	}
	return recs, nil
}

// Head returns the sequence of the last event in the log (0 when empty).
func (s *Store) Head(ctx context.Context) (uint64, error) {
	info, err := s.stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.LastSeq, nil
}

// Get returns the event at one sequence of the log.
func (s *Store) Get(ctx context.Context, seq uint64) (domain.Record, error) {
	m, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return domain.Record{}, fmt.Errorf("get %d: %w", seq, err)
	}
	return RawEvent{Subject: m.Subject, Seq: m.Sequence, Header: m.Header, Data: m.Data}.Decode()
}

// streamCache keeps recently loaded aggregate streams, least recently used
// first out. Records are shared read-only; callers must not modify them.
type streamCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	subject string
	recs    []domain.Record
	pos     domain.Position
}

func newStreamCache(max int) *streamCache {
	return &streamCache{max: max, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *streamCache) get(subject string) ([]domain.Record, domain.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[subject]
	if !ok {
		return nil, domain.Position{}
	}
	c.ll.MoveToFront(el)
	e := el.Value.(*cacheEntry)
	// Full slice expression: appending to the result never writes into the cache.
	return e.recs[:len(e.recs):len(e.recs)], e.pos
}

func (c *streamCache) put(subject string, recs []domain.Record, pos domain.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[subject]; ok {
		e := el.Value.(*cacheEntry)
		if pos.Seq >= e.pos.Seq {
			e.recs, e.pos = recs[:len(recs):len(recs)], pos
		}
		c.ll.MoveToFront(el)
		return
	}
	c.items[subject] = c.ll.PushFront(&cacheEntry{subject: subject, recs: recs[:len(recs):len(recs)], pos: pos})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).subject)
	}
}

// extend adds a just-appended record to a cached stream that stood at pos.
func (c *streamCache) extend(subject string, pos domain.Position, rec domain.Record) {
	c.mu.Lock()
	el, ok := c.items[subject]
	if ok {
		e := el.Value.(*cacheEntry)
		if e.pos == pos {
			recs := append(e.recs[:len(e.recs):len(e.recs)], rec)
			e.recs, e.pos = recs, domain.Position{Seq: rec.Seq, Version: rec.Version}
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if pos == (domain.Position{}) {
		c.put(subject, []domain.Record{rec}, domain.Position{Seq: rec.Seq, Version: rec.Version})
	}
}

func (c *streamCache) drop(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[subject]; ok {
		c.ll.Remove(el)
		delete(c.items, subject)
	}
}
