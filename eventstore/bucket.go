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

// ThrottlesTTL is how long a throttle's counter is kept after its last
// change (api.ThrottleForget).
const ThrottlesTTL = time.Hour

// Bucket is a JetStream key-value bucket beside the log, which every
// instance shares, with compare-and-set writes; each key expires by itself
// its bucket's TTL after its last write. Unlike the log, a bucket is not a
// record of what happened: it may be lost without losing anything but what
// it keeps for a while. Its operations fail with an *UnavailableError when
// NATS cannot answer.
type Bucket struct {
	kv      jetstream.KeyValue
	what    string
	timeout time.Duration
}

// OpenIdempotency creates (or opens) the bucket of the records of requests
// sent with an Idempotency-Key (see package api).
func (s *Store) OpenIdempotency(ctx context.Context) (*Bucket, error) {
	return s.openBucket(ctx, "IDEMPOTENCY", "idempotency record", "records of requests sent with an Idempotency-Key", IdempotencyTTL)
}

// OpenThrottles creates (or opens) the bucket of the counters of the login
// and registration throttles: every instance counts in it, so that the
// limits hold however a client spreads its requests over the instances.
func (s *Store) OpenThrottles(ctx context.Context) (*Bucket, error) {
	return s.openBucket(ctx, "THROTTLES", "throttle counter", "counters of the login and registration throttles", ThrottlesTTL)
}

// openBucket creates (or opens) the bucket <stream>_<suffix>, with as many
// replicas as the log.
func (s *Store) openBucket(ctx context.Context, suffix, what, description string, ttl time.Duration) (*Bucket, error) {
	name := s.base.StreamName + "_" + suffix
	var kv jetstream.KeyValue
	err := whileClusterBusy(ctx, s.log, "create the "+what+" bucket", func() error {
		var err error
		kv, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      name,
			Description: "Inkwell: " + description,
			History:     1,
			TTL:         ttl,
			Storage:     jetstream.FileStorage,
			Replicas:    s.cfg.Replicas,
		})
		if err != nil || s.cfg.Replicas == 1 {
			return err
		}
		// Replicated, the bucket is read through its leader, as the log
		// is: a replica catching up would answer a direct get with what it
		// has (a record an instance has just written would not be there).
		st, err := s.js.Stream(ctx, "KV_"+name)
		if err != nil {
			return err
		}
		if c := st.CachedInfo().Config; c.AllowDirect {
			c.AllowDirect = false
			if _, err := s.js.UpdateStream(ctx, c); err != nil {
				return err
			}
		}
		kv, err = s.js.KeyValue(ctx, name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s bucket: %w", what, err)
	}
	return &Bucket{kv: kv, what: what, timeout: s.cfg.OpTimeout}, nil
}

// Create stores value under key unless key exists.
func (b *Bucket) Create(ctx context.Context, key string, value []byte) (uint64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	rev, err := b.kv.Create(ctx, key, value)
	switch {
	case err == nil:
		return rev, true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return 0, false, nil
	}
	return 0, false, unavailable(fmt.Errorf("%s: %w", b.what, err))
}

// Get returns the value under key and its revision.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, uint64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	e, err := b.kv.Get(ctx, key)
	switch {
	case err == nil:
		return e.Value(), e.Revision(), true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return nil, 0, false, nil
	}
	return nil, 0, false, unavailable(fmt.Errorf("%s: %w", b.what, err))
}

// Update replaces the value under key if it is still at revision rev.
func (b *Bucket) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	newRev, err := b.kv.Update(ctx, key, value, rev)
	switch {
	case err == nil:
		return newRev, true, nil
	case isWrongLastSeq(err), errors.Is(err, jetstream.ErrKeyExists):
		return 0, false, nil
	}
	return 0, false, unavailable(fmt.Errorf("%s: %w", b.what, err))
}

// Delete forgets the value under key.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if err := b.kv.Delete(ctx, key); err != nil {
		return unavailable(fmt.Errorf("%s: %w", b.what, err))
	}
	return nil
}

// OpenKeys creates (or opens) the bucket of the signing keys every instance
// shares (their private keys wrapped by the master key, see auth.KeySet).
// Its keys do not expire.
func (s *Store) OpenKeys(ctx context.Context) (*Bucket, error) {
	return s.openBucket(ctx, "KEYS", "signing key", "signing keys, wrapped by the master key", 0)
}

// All returns every value in the bucket. It is read at start-up (and
// after a change), so it is asked again while a cluster cannot answer
// (whileClusterBusy), until ctx ends.
func (b *Bucket) All(ctx context.Context) ([][]byte, error) {
	var out [][]byte
	err := whileClusterBusy(ctx, nil, "read the "+b.what+" bucket", func() error {
		var err error
		out, err = b.all(ctx)
		return err
	})
	if err != nil {
		return nil, unavailable(fmt.Errorf("%s: %w", b.what, err))
	}
	return out, nil
}

// all bounds each request by the bucket's timeout, not the whole reading:
// the listing, then each key's value.
func (b *Bucket) all(ctx context.Context) ([][]byte, error) {
	lctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	lister, err := b.kv.ListKeys(lctx)
	if err != nil {
		return nil, err
	}
	var keys []string
	for key := range lister.Keys() {
		keys = append(keys, key)
	}
	// The lister stops by itself once it has listed every key.
	if err := lctx.Err(); err != nil {
		return nil, err
	}
	var out [][]byte
	for _, key := range keys {
		gctx, cancel := context.WithTimeout(ctx, b.timeout)
		e, err := b.kv.Get(gctx, key)
		cancel()
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted meanwhile
		} else if err != nil {
			return nil, err
		}
		out = append(out, e.Value())
	}
	return out, nil
}

// Watch signals on the returned channel after each change of the bucket
// (a signal may stand for several), until ctx ends.
func (b *Bucket) Watch(ctx context.Context) (<-chan struct{}, error) {
	out := make(chan struct{}, 1)
	err := b.watchEach(ctx, func(string, []byte) {
		select {
		case out <- struct{}{}:
		default: // a signal is pending already
		}
	}, func() { close(out) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// watchEach calls changed with the key and value of each change of the
// bucket, in order, until ctx ends; then each of done. The watch is made at
// start-up, so it is asked for again while a cluster cannot answer.
func (b *Bucket) watchEach(ctx context.Context, changed func(key string, value []byte), done ...func()) error {
	var w jetstream.KeyWatcher
	err := whileClusterBusy(ctx, nil, "watch the "+b.what+" bucket", func() error {
		var err error
		w, err = b.kv.WatchAll(ctx, jetstream.UpdatesOnly())
		return err
	})
	if err != nil {
		return unavailable(fmt.Errorf("%s: %w", b.what, err))
	}
	go func() {
		defer func() {
			for _, f := range done {
				f()
			}
		}()
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil { // nil: the end of the initial values
					changed(e.Key(), e.Value())
				}
			}
		}
	}()
	return nil
}
