// Package eventstore is Inkwell's event log: one JetStream stream holding
// every event, one subject per aggregate instance. Appends go through a
// Watermill publisher with optimistic concurrency (the subject's expected
// last sequence) and the event id as JetStream's dedupe id; aggregates are
// loaded with the stream's get-message calls (never one consumer per load)
// and cached; readers follow the whole log in order from any sequence.
package eventstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// SnapshotEvery is how many events of a stream pass between two
	// snapshots written to the snapshot bucket (default
	// DefaultSnapshotEvery; see OpenSnapshots).
	SnapshotEvery int
	// SnapshotCacheBytes bounds the snapshots kept in memory (default
	// DefaultSnapshotCacheBytes; negative: none).
	SnapshotCacheBytes int64
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
	c.SnapshotEvery = max(cmp.Or(c.SnapshotEvery, DefaultSnapshotEvery), 1)
	c.SnapshotCacheBytes = cmp.Or(c.SnapshotCacheBytes, DefaultSnapshotCacheBytes)
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

	// snaps keeps snapshots of aggregates in memory, snapKV in the bucket
	// (once OpenSnapshots is called); snapshotsServed counts the loads a
	// snapshot served.
	snaps           *snapshotCache
	snapKV          atomic.Pointer[Bucket]
	snapshotsServed atomic.Uint64

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
	// store an event, made at refusedAt, until an event is stored again or
	// RecheckRefusal drops it (not before refusalHold has passed).
	writable     atomic.Pointer[func() error]
	mu           sync.Mutex
	lastStoreErr error
	refusedAt    time.Time
	refusalHold  time.Duration

	// tail is the cursor on the whole log that the process's followers
	// share (see Tail), while one follows it.
	tailMu sync.Mutex
	tail   *tail
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
		snaps:       newSnapshotCache(max(cfg.SnapshotCacheBytes, 0)),
		lasts:       newLastGetter(nc, cfg.StreamName, sc.AllowDirect),
		log:         cfg.Logger,
		refusalHold: defaultRefusalHold,
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

// unavailable marks an error of the server (or of reaching it) as the event
// log being unavailable.
func unavailable(err error) error {
	return &domain.UnavailableError{Dependency: domain.DependencyEventLog, Err: err}
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
