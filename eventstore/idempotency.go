package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// IdempotencyTTL is how long the record of an idempotent request is kept.
const IdempotencyTTL = 24 * time.Hour

// Idempotency keeps the records of idempotent requests (see package api) in
// a JetStream key-value bucket: every instance sees them, and each expires
// by itself IdempotencyTTL after its last write. Unlike the log, the bucket
// is not a record of what happened: it may be lost without losing anything
// but the answers kept for retries.
type Idempotency struct {
	kv      jetstream.KeyValue
	timeout time.Duration
}

// OpenIdempotency creates (or opens) the bucket of idempotency records for
// the log's stream, with as many replicas as the log.
func (s *Store) OpenIdempotency(ctx context.Context) (*Idempotency, error) {
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.cfg.StreamName + "_IDEMPOTENCY",
		Description: "Inkwell: records of requests sent with an Idempotency-Key",
		History:     1,
		TTL:         IdempotencyTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("idempotency bucket: %w", err)
	}
	return &Idempotency{kv: kv, timeout: s.cfg.OpTimeout}, nil
}

// Create stores value under key unless key exists.
func (i *Idempotency) Create(ctx context.Context, key string, value []byte) (uint64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	rev, err := i.kv.Create(ctx, key, value)
	switch {
	case err == nil:
		return rev, true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return 0, false, nil
	}
	return 0, false, unavailable(fmt.Errorf("idempotency record: %w", err))
}

// Get returns the value under key and its revision.
func (i *Idempotency) Get(ctx context.Context, key string) ([]byte, uint64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	e, err := i.kv.Get(ctx, key)
	switch {
	case err == nil:
		return e.Value(), e.Revision(), true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, false, nil
	}
	return nil, 0, false, unavailable(fmt.Errorf("idempotency record: %w", err))
}

// Update replaces the value under key if it is still at revision rev.
func (i *Idempotency) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	newRev, err := i.kv.Update(ctx, key, value, rev)
	switch {
	case err == nil:
		return newRev, true, nil
	case isWrongLastSeq(err), errors.Is(err, jetstream.ErrKeyExists):
		return 0, false, nil
	}
	return 0, false, unavailable(fmt.Errorf("idempotency record: %w", err))
}
