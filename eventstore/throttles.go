package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ThrottlesTTL is how long a throttle's counter is kept after its last
// change (api.ThrottleForget).
const ThrottlesTTL = time.Hour

// Throttles keeps the counters of the login and registration throttles
// (api.ThrottleStore) in a JetStream key-value bucket: every instance
// counts in it, so that the limits hold however a client spreads its
// requests over the instances, and each counter expires by itself
// ThrottlesTTL after its last change.
type Throttles struct {
	kv      jetstream.KeyValue
	timeout time.Duration
}

// OpenThrottles creates (or opens) the bucket of throttle counters for the
// log's stream, with as many replicas as the log.
func (s *Store) OpenThrottles(ctx context.Context) (*Throttles, error) {
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      s.cfg.StreamName + "_THROTTLES",
		Description: "Inkwell: counters of the login and registration throttles",
		History:     1,
		TTL:         ThrottlesTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    s.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("throttles bucket: %w", err)
	}
	return &Throttles{kv: kv, timeout: s.cfg.OpTimeout}, nil
}

// Get returns the counter under key and its revision (nil, 0: none).
func (t *Throttles) Get(ctx context.Context, key string) ([]byte, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	e, err := t.kv.Get(ctx, key)
	switch {
	case err == nil:
		return e.Value(), e.Revision(), nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, nil
	}
	return nil, 0, unavailable(fmt.Errorf("throttle counter: %w", err))
}

// Put stores value under key if the key is still at revision rev (0:
// absent or deleted).
func (t *Throttles) Put(ctx context.Context, key string, value []byte, rev uint64) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var err error
	if rev == 0 {
		_, err = t.kv.Create(ctx, key, value)
	} else {
		_, err = t.kv.Update(ctx, key, value, rev)
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists), isWrongLastSeq(err):
		return false, nil
	}
	return false, unavailable(fmt.Errorf("throttle counter: %w", err))
}

// Delete forgets the counter under key.
func (t *Throttles) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	if err := t.kv.Delete(ctx, key); err != nil {
		return unavailable(fmt.Errorf("throttle counter: %w", err))
	}
	return nil
}
