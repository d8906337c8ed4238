// Package eventstore is Inkwell's event log: one JetStream stream holding
// every event, one subject per aggregate instance. Appends go through a
// Watermill publisher with optimistic concurrency (the subject's expected
// last sequence) and the event id as JetStream's dedupe id; aggregates are
// loaded with the stream's get-message calls (never one consumer per load)
// and cached; readers follow the whole log in order from any sequence.
package eventstore

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
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
	// OpTimeout bounds each request to the server: a read, or one publish
	// waiting for its acknowledgement (default 2s).
	OpTimeout time.Duration
	// AppendTimeout bounds an append whose acknowledgement did not come,
	// while it finds out from the log whether its event was stored
	// (default 5s). After it the append fails with an *UnavailableError whose
	// OutcomeUnknown is set.
	AppendTimeout time.Duration
	Logger        *slog.Logger
	// LogStream and LogSubjectPrefix, if set, name the stream of the log
	// and its subjects exactly. By default they are StreamName and
	// SubjectPrefix, unless the log was rewritten into another stream
	// (inkwell events encrypt), which the bucket <StreamName>_LOG then names
	// (see SwitchLog). StreamName names the buckets beside the log either
	// way.
	LogStream, LogSubjectPrefix string
}

func (c *Config) setDefaults() {
	c.StreamName = cmp.Or(c.StreamName, "INKWELL")
	c.SubjectPrefix = cmp.Or(c.SubjectPrefix, DefaultSubjectPrefix)
	c.Replicas = cmp.Or(c.Replicas, 1)
	c.Duplicates = cmp.Or(c.Duplicates, 2*time.Minute)
	c.CacheSize = cmp.Or(c.CacheSize, 10000)
	c.OpTimeout = cmp.Or(c.OpTimeout, 2*time.Second)
	c.AppendTimeout = cmp.Or(c.AppendTimeout, 5*time.Second)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
}

// Store is the event log.
type Store struct {
	cfg    Config // the log's stream and subjects in StreamName, SubjectPrefix
	base   Config // as configured: the buckets' and dead letters' names
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	pub    message.Publisher
	cache  *streamCache
	lasts  *lastGetter
	log    *slog.Logger

	// keys seal and open the personal fields of events, claimKey keys the
	// names of claims when keyedClaims (UsePersonalData).
	keys        DataKeys
	claimKey    []byte
	keyedClaims bool
	sealedNow   bool // the stream's metadata says SealedNow

	// OnAppend, if set, is called after each successful append.
	OnAppend func(recs []domain.Record)

	// writable, if set, says whether the log can take a write now (see
	// SetWritableCheck); lastStoreErr is the last refusal of the server to
	// store an event, until an event is stored again.
	writable     atomic.Pointer[func() error]
	mu           sync.Mutex
	lastStoreErr error
}

// ReplicasMismatchError is returned by Open when the log's stream exists with
// another number of replicas than Config.Replicas: Inkwell does not change
// how many copies of the log a cluster keeps unless told to
// (ChangeReplicas, `inkwell events replicas --set N`).
type ReplicasMismatchError struct {
	Stream           string
	Have, Configured int
}

func (e *ReplicasMismatchError) Error() string {
	return fmt.Sprintf("the event stream %s has %d replicas, but %d are configured (INKWELL_NATS_REPLICAS): "+
		"set INKWELL_NATS_REPLICAS=%d, or change the stream and Inkwell's buckets with `inkwell events replicas --set %d`",
		e.Stream, e.Have, e.Configured, e.Have, e.Configured)
}

// Open checks the server (JetStream enabled, a supported version), creates or
// updates the stream and returns the store. A stream of another number of
// replicas than cfg.Replicas is a *ReplicasMismatchError.
func Open(ctx context.Context, nc *nats.Conn, cfg Config) (*Store, error) {
	cfg.setDefaults()
	if err := CheckServer(ctx, nc); err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	base := cfg
	if cfg.LogStream != "" {
		cfg.StreamName, cfg.SubjectPrefix = cfg.LogStream, cmp.Or(cfg.LogSubjectPrefix, cfg.SubjectPrefix)
	} else if ptr, ok, err := readLogPointer(ctx, js, cfg.StreamName, cfg.Logger); err != nil {
		return nil, err
	} else if ok {
		cfg.StreamName, cfg.SubjectPrefix = ptr.Stream, ptr.SubjectPrefix
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
		// A direct get may be answered by any replica, and one that is
		// catching up answers with what it has: a stream this instance just
		// appended to would load without its last event (a registration
		// whose session then finds no account). A replicated log is read
		// through its leader.
		AllowDirect: cfg.Replicas == 1,
	}
	// A new log names its claims by a keyed hash (see ClaimStream); one
	// written before keeps the unkeyed names it has until it is rewritten
	// (inkwell events encrypt). The stream's metadata says which.
	sc.Metadata = map[string]string{MetadataClaims: ClaimsKeyed, MetadataSealed: SealedNow}
	var existing jetstream.Stream
	err = whileClusterBusy(ctx, cfg.Logger, "read the stream", func() error {
		var err error
		existing, err = js.Stream(ctx, cfg.StreamName)
		return err
	})
	if err == nil {
		have := existing.CachedInfo().Config
		if have.Replicas != cfg.Replicas {
			return nil, &ReplicasMismatchError{Stream: cfg.StreamName, Have: have.Replicas, Configured: cfg.Replicas}
		}
		if existing.CachedInfo().State.LastSeq > 0 {
			// What the log holds was written as its metadata says; an
			// empty log is written as this build writes.
			sc.Metadata = have.Metadata
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("stream %s: %w", cfg.StreamName, err)
	}
	var stream jetstream.Stream
	if err := whileClusterBusy(ctx, cfg.Logger, "create the stream", func() error {
		var err error
		stream, err = js.CreateOrUpdateStream(ctx, sc)
		return err
	}); err != nil {
		return nil, fmt.Errorf("create stream %s: %w", cfg.StreamName, err)
	}
	return &Store{
		keyedClaims: stream.CachedInfo().Config.Metadata[MetadataClaims] == ClaimsKeyed,
		sealedNow:   stream.CachedInfo().Config.Metadata[MetadataSealed] == SealedNow,
		base:        base,
		cfg:         cfg,
		nc:          nc,
		js:          js,
		stream:      stream,
		pub:         NewPublisher(js, cfg.OpTimeout),
		cache:       newStreamCache(cfg.CacheSize),
		lasts:       newLastGetter(nc, cfg.StreamName, sc.AllowDirect),
		log:         cfg.Logger,
	}, nil
}

// Stream metadata naming how the log names its claims, and which personal
// data it has held sealed from its first event.
const (
	MetadataClaims = "inkwell_claims"
	ClaimsKeyed    = "hmac-sha256"
	MetadataSealed = "inkwell_sealed"
	// SealedNow is what a log written by this build seals: the users'
	// personal data and the articles' text. A log without it holds some of
	// that in clear text (written before Inkwell sealed articles' text)
	// until inkwell events encrypt rewrites it.
	SealedNow = "users,articles"
)

// UsePersonalData makes the store seal the personal fields of the events it
// appends, and open them in the events it reads, with keys, and name claims
// keyed by claimKey (see ClaimStream). It is called once, before the store
// is used.
func (s *Store) UsePersonalData(keys DataKeys, claimKey []byte) {
	s.keys, s.claimKey = keys, claimKey
	if k, ok := keys.(*Keyring); ok {
		// The aggregates in memory hold personal fields in clear text:
		// once a key is destroyed, they are read again from the log.
		clear := s.cache.clear
		k.onDestroyed.Store(&clear)
	}
}

// DataKeys returns the data keys the store seals and opens personal data
// with (nil before UsePersonalData).
func (s *Store) DataKeys() DataKeys { return s.keys }

// ClaimStream names the stream of the claim on a unique value: keyed by the
// claim key (domain.KeyedClaimStream), or, in a log written before claims
// were keyed, as that log names them (domain.ClaimStream). A keyed log on a
// store given no claim key names no stream (its appends fail).
func (s *Store) ClaimStream(kind, value string) domain.StreamID {
	switch {
	case !s.keyedClaims:
		return domain.ClaimStream(kind, value)
	case s.claimKey == nil:
		return domain.StreamID{Type: domain.AggregateClaim}
	}
	return domain.KeyedClaimStream(s.claimKey, kind, value)
}

// KeyedClaims reports whether the log names its claims by a keyed hash; a
// log written before Inkwell did is rewritten by inkwell events encrypt.
func (s *Store) KeyedClaims() bool { return s.keyedClaims }

// SealedThroughout reports whether the log has held every personal datum
// this build seals sealed from its first event (SealedNow); a log written
// before (its articles' text in clear text, say) is rewritten by inkwell
// events encrypt.
func (s *Store) SealedThroughout() bool { return s.keyedClaims && s.sealedNow }

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
// cached are not fetched again. A stream with no events loads empty. When
// ctx carries an attempt of an idempotent request (domain.WithAttempt) that
// already recorded an event on this stream, the stream loads as it stood
// just before that event, so that the attempt decides again as it did then
// (and Append recognizes the event as its own). A log that cannot answer
// gives an *UnavailableError.
func (s *Store) Load(ctx context.Context, id domain.StreamID) ([]domain.Record, domain.Position, error) {
	subj, err := s.Subject(id)
	if err != nil {
		return nil, domain.Position{}, err
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	last, err := s.stream.GetLastMsgForSubject(octx, subj)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		last, err = nil, nil
	} else if err != nil {
		return nil, domain.Position{}, unavailable(fmt.Errorf("load %s: %w", id, err))
	}
	recs, pos, err := s.upTo(octx, id, subj, last)
	if err != nil {
		return nil, domain.Position{}, err
	}
	recs, pos = trimAttempt(ctx, id, recs, pos)
	return recs, pos, nil
}

// LoadEach loads several aggregates, as Load does each, asking the log for
// where their streams stand in one round trip where the server can (NATS
// 2.11+), as one consistent view of the log.
func (s *Store) LoadEach(ctx context.Context, ids ...domain.StreamID) ([][]domain.Record, []domain.Position, error) {
	recs := make([][]domain.Record, len(ids))
	poss := make([]domain.Position, len(ids))
	subjects := make([]string, len(ids))
	for i, id := range ids {
		subj, err := s.Subject(id)
		if err != nil {
			return nil, nil, err
		}
		subjects[i] = subj
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	lasts, err := s.lasts.last(octx, subjects)
	if errors.Is(err, errNoMultiGet) {
		for i, id := range ids {
			if recs[i], poss[i], err = s.Load(ctx, id); err != nil {
				return nil, nil, err
			}
		}
		return recs, poss, nil
	} else if err != nil {
		return nil, nil, unavailable(fmt.Errorf("load %v: %w", ids, err))
	}
	for i, id := range ids {
		if recs[i], poss[i], err = s.upTo(octx, id, subjects[i], lasts[subjects[i]]); err != nil {
			return nil, nil, err
		}
		recs[i], poss[i] = trimAttempt(ctx, id, recs[i], poss[i])
	}
	return recs, poss, nil
}

// trimAttempt returns a stream as it stood before the event, if any, that
// the attempt ctx carries (domain.WithAttempt) recorded on it.
func trimAttempt(ctx context.Context, id domain.StreamID, recs []domain.Record, pos domain.Position) ([]domain.Record, domain.Position) {
	if a := domain.AttemptFrom(ctx); a != nil {
		return a.Before(id, recs, pos)
	}
	return recs, pos
}

// upTo returns the events of stream id (on subject subj) up to last, its
// last message (nil when the stream has none), from the cache and, past
// it, from the log.
func (s *Store) upTo(ctx context.Context, id domain.StreamID, subj string, last *jetstream.RawStreamMsg) ([]domain.Record, domain.Position, error) {
	if last == nil {
		return nil, domain.Position{}, nil
	}
	// A log sequence names one message for good: when the cache ends at the
	// stream's last one, the stream is what the cache holds, and the last
	// message need not be decoded again (most loads, such as the account
	// and the session of every authenticated request).
	gen := s.cache.generation()
	recs, pos := s.cache.get(subj)
	if pos.Seq == last.Sequence && pos.Seq != 0 {
		return recs, pos, nil
	}
	lastRec, err := RawEvent{Subject: subj, Seq: last.Sequence, Header: last.Header, Data: last.Data, Keys: s.keys}.Decode()
	if err != nil {
		return nil, domain.Position{}, fmt.Errorf("load %s: %w", id, err)
	}
	switch {
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
				return nil, domain.Position{}, unavailable(fmt.Errorf("load %s from %d: %w", id, from, err))
			}
			rec, err := RawEvent{Subject: subj, Seq: m.Sequence, Header: m.Header, Data: m.Data, Keys: s.keys}.Decode()
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
	s.cache.putAt(gen, subj, recs, pos)
	return recs, pos, nil
}

// unavailable marks an error of the server (or of reaching it) as the event
// log being unavailable.
func unavailable(err error) error {
	return &domain.UnavailableError{Dependency: domain.DependencyEventLog, Err: err}
}

// Append appends events to one aggregate's stream, which must stand at pos
// (the position it had when loaded). It returns the records as stored.
//
// When the stream moved on since pos, Append fails with an error wrapping
// domain.ErrConcurrentChange and appends nothing. Several events are
// appended one after the other, each expecting the previous one; commands in
// Inkwell decide one event each, so an append is all or nothing.
//
// An append whose acknowledgement does not come (a timeout, a connection
// lost after sending) is not assumed to have failed: Append reads the
// stream to learn whether its event is there, publishing it again (same id,
// same expected sequence: it cannot be stored twice) while it is not, until
// the server answers or AppendTimeout passes. It then fails with an
// *UnavailableError whose OutcomeUnknown is set: the event may be stored.
// Every other failure is certain: nothing was stored.
func (s *Store) Append(ctx context.Context, id domain.StreamID, pos domain.Position, meta domain.Meta, events ...domain.Event) ([]domain.Record, error) {
	subj, err := s.Subject(id)
	if err != nil {
		return nil, err
	}
	if meta.OccurredAt.IsZero() {
		meta.OccurredAt = time.Now()
	}
	attempt := domain.AttemptFrom(ctx)
	recs := make([]domain.Record, 0, len(events))
	for _, ev := range events {
		evID := attempt.NextEventID(id)
		if evID == "" {
			if evID, err = newEventID(); err != nil {
				return recs, err
			}
		}
		rec := domain.NewRecord(evID, id, pos, meta, ev)
		body, err := sealEvent(ctx, s.keys, rec)
		if err != nil {
			return recs, fmt.Errorf("append %s: encode %s: %w", id, rec.Type, err)
		}
		stored, err := s.appendOne(ctx, subj, pos, rec, body)
		if err != nil {
			if errors.Is(err, domain.ErrConcurrentChange) || domain.OutcomeUnknown(err) {
				s.cache.drop(subj)
			}
			return recs, err
		}
		attempt.EventRecorded(id)
		recs = append(recs, stored)
		// The cache holds the event as stored (opened), not the caller's
		// value, which the caller may go on changing.
		cached := stored
		if cached.Event, err = domain.DecodeEvent(stored.Type, stored.SchemaVersion, body); err == nil {
			err = openEvent(ctx, s.keys, &cached)
		}
		if err != nil {
			s.cache.drop(subj)
		} else {
			s.cache.extend(subj, pos, cached)
		}
		pos = domain.Position{Seq: stored.Seq, Version: stored.Version}
	}
	if s.OnAppend != nil && len(recs) > 0 {
		s.OnAppend(recs)
	}
	return recs, nil
}

// appendOne appends one event (rec, whose Seq is not known yet, and its
// body) to subj, which must stand at pos; see Append.
func (s *Store) appendOne(ctx context.Context, subj string, pos domain.Position, rec domain.Record, body []byte) (domain.Record, error) {
	if err := s.checkWritable(); err != nil {
		return rec, err
	}
	// publish sends rec once and returns it as stored.
	publish := func(ctx context.Context) (domain.Record, error) {
		msg := message.NewMessage(rec.ID, body)
		msg.SetContext(ctx)
		encodeHeaders(msg.Metadata, rec)
		msg.Metadata.Set(MetadataExpectedSubjectSeq, strconv.FormatUint(pos.Seq, 10))
		if err := s.pub.Publish(subj, msg); err != nil {
			return rec, err
		}
		seq, err := strconv.ParseUint(msg.Metadata.Get(MetadataStreamSeq), 10, 64)
		if err != nil {
			return rec, fmt.Errorf("append to %s: no stream sequence in ack: %w", subj, err)
		}
		s.storeSucceeded()
		stored := rec
		stored.Seq = seq
		return stored, nil
	}
	stored, err := publish(ctx)
	switch {
	case err == nil:
		return stored, nil
	case errors.Is(err, ErrWrongLastSequence):
		// Someone else's event, or this request's own from an earlier
		// attempt (see domain.Attempt): the stream says which.
		return s.settle(ctx, subj, pos, rec, publish, false)
	case NotStored(err):
		s.storeRefused(err)
		return rec, &domain.UnavailableError{Dependency: domain.DependencyEventLog, Reason: "it did not store the change", Err: err}
	}
	s.log.DebugContext(ctx, "append not acknowledged; reading the log to learn its outcome", "subject", subj, "event_id", rec.ID, "err", err)
	return s.settle(ctx, subj, pos, rec, publish, true)
}

// settle learns whether rec, appended to subj expecting pos, is stored: the
// first event after pos on subj is either rec (stored: rec is returned with
// its sequence) or another (rec can never be stored now: its expected
// sequence is gone; a concurrent change). While there is none, rec is
// published again if an earlier publish may still be on its way (ambiguous),
// and the subject read again.
func (s *Store) settle(ctx context.Context, subj string, pos domain.Position, rec domain.Record, publish func(context.Context) (domain.Record, error), ambiguous bool) (domain.Record, error) {
	// A client that went away does not stop this: what the log holds
	// decides whether claims are kept or given up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.AppendTimeout)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		octx, ocancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
		m, err := s.stream.GetMsg(octx, pos.Seq+1, jetstream.WithGetMsgSubject(subj))
		ocancel()
		switch {
		case err == nil && m.Header.Get(jetstream.MsgIDHeader) == rec.ID:
			stored, err := RawEvent{Subject: subj, Seq: m.Sequence, Header: m.Header, Data: m.Data, Keys: s.keys}.Decode()
			if err != nil {
				return rec, fmt.Errorf("append to %s: %w", subj, err)
			}
			s.storeSucceeded()
			return stored, nil
		case err == nil:
			return rec, fmt.Errorf("append to %s: %w", subj, domain.ErrConcurrentChange)
		case errors.Is(err, jetstream.ErrMsgNotFound) && !ambiguous:
			// Refused for a wrong last sequence, yet this read sees
			// nothing after pos (a replica behind the leader): an event
			// follows pos all the same, and may be this one. Read again.
		case errors.Is(err, jetstream.ErrMsgNotFound):
			// Not stored (yet): publish it again.
			if werr := s.checkWritable(); werr != nil {
				return rec, s.unknownOutcome(subj, werr)
			}
			stored, err := publish(ctx)
			switch {
			case err == nil:
				return stored, nil
			case errors.Is(err, ErrWrongLastSequence):
				ambiguous = false // an answer: the next read is decisive
				continue
			case NotStored(err):
				// This copy was refused, but an earlier one may still be
				// on its way: read again.
				s.storeRefused(err)
			}
		}
		if ctx.Err() != nil {
			return rec, s.unknownOutcome(subj, err)
		}
		select {
		case <-ctx.Done():
			return rec, s.unknownOutcome(subj, err)
		case <-time.After(wait):
		}
		wait = min(wait*2, 500*time.Millisecond)
	}
}

func (s *Store) unknownOutcome(subj string, err error) error {
	return &domain.UnavailableError{Dependency: domain.DependencyEventLog, OutcomeUnknown: true,
		Err: fmt.Errorf("append to %s: outcome unknown: %w", subj, err)}
}

// SetWritableCheck installs check, which Append consults before each write:
// while it returns an error (a full disk under the embedded log), appends
// fail at once with an *UnavailableError, and Writable reports it.
func (s *Store) SetWritableCheck(check func() error) { s.writable.Store(&check) }

func (s *Store) checkWritable() error {
	if f := s.writable.Load(); f != nil {
		if err := (*f)(); err != nil {
			reason := "it cannot take writes"
			var wr *WriteRefusal
			if errors.As(err, &wr) {
				reason = wr.Reason
			}
			return &domain.UnavailableError{Dependency: domain.DependencyEventLog, Reason: reason, Err: err}
		}
	}
	return nil
}

// WriteRefusal is an error of a writable check (SetWritableCheck) that says
// why the log takes no writes in words a client may read (Reason); Err is
// the cause, for the logs.
type WriteRefusal struct {
	Reason string
	Err    error
}

func (e *WriteRefusal) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *WriteRefusal) Unwrap() error { return e.Err }

// Writable returns nil if the log can take a write, as far as this process
// knows: the writable check passes and the server's last refusal to store an
// event (a full disk, JetStream disabled) has been followed by a stored one,
// or by a new connection to a restarted server.
func (s *Store) Writable() error {
	if err := s.checkWritable(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastStoreErr != nil {
		return fmt.Errorf("the last append was refused: %w", s.lastStoreErr)
	}
	return nil
}

// ForgetStoreRefusal clears the last refusal to store (the connection was
// re-established, or the server's store was restarted).
func (s *Store) ForgetStoreRefusal() { s.storeSucceeded() }

func (s *Store) storeSucceeded() {
	s.mu.Lock()
	s.lastStoreErr = nil
	s.mu.Unlock()
}

// storeRefused records a refusal of the server that says the log cannot
// store, as opposed to one about this event (a wrong last sequence).
func (s *Store) storeRefused(err error) {
	if errors.Is(err, ErrWrongLastSequence) || errors.Is(err, ErrClosed) {
		return
	}
	s.mu.Lock()
	s.lastStoreErr = err
	s.mu.Unlock()
}

// Head returns the sequence of the last event in the log (0 when empty).
func (s *Store) Head(ctx context.Context) (uint64, error) {
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq, nil
}

// Info returns the state of the stream holding the log.
func (s *Store) Info(ctx context.Context) (*jetstream.StreamInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return nil, unavailable(fmt.Errorf("stream info: %w", err))
	}
	return info, nil
}

// LastSeqOf returns the sequence of the last event whose subject matches one
// of the subject filters (see SubjectsOf), 0 if there is none.
func (s *Store) LastSeqOf(ctx context.Context, subjects ...string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	var last uint64
	for _, f := range subjects {
		m, err := s.stream.GetLastMsgForSubject(ctx, f)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		} else if err != nil {
			return 0, unavailable(fmt.Errorf("last event of %s: %w", f, err))
		}
		last = max(last, m.Sequence)
	}
	return last, nil
}

// Get returns the event at one sequence of the log.
func (s *Store) Get(ctx context.Context, seq uint64) (domain.Record, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	m, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return domain.Record{}, fmt.Errorf("get %d: %w", seq, err)
	} else if err != nil {
		return domain.Record{}, unavailable(fmt.Errorf("get %d: %w", seq, err))
	}
	return RawEvent{Subject: m.Subject, Seq: m.Sequence, Header: m.Header, Data: m.Data, Keys: s.keys}.Decode()
}

// streamCache keeps recently loaded aggregate streams, least recently used
// first out. Records are shared read-only; callers must not modify them.
type streamCache struct {
	mu    sync.Mutex
	gen   uint64 // counts the clears
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

// generation returns the number of clears so far.
func (c *streamCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// putAt puts what was read since generation gen, unless the cache was
// cleared meanwhile (what was read may be older than the clear).
func (c *streamCache) putAt(gen uint64, subject string, recs []domain.Record, pos domain.Position) {
	c.mu.Lock()
	stale := c.gen != gen
	c.mu.Unlock()
	if !stale {
		c.put(subject, recs, pos)
	}
}

// clear forgets every stream.
func (c *streamCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.ll.Init()
	clear(c.items)
}

func (c *streamCache) drop(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[subject]; ok {
		c.ll.Remove(el)
		delete(c.items, subject)
	}
}
