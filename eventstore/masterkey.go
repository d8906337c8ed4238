// Checking the master key against the data keys' bucket, and counting the secrets it wraps.

package eventstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// masterCheck is the bucket's key of a random secret wrapped by the master
// key, by which an instance learns that it holds the master key the
// bucket's keys are wrapped with before it wraps or unwraps any.
const masterCheck = "inkwell-master-check"

// Verify checks that the keyring's KeyWrapper (the master key) is the one
// the bucket's keys are wrapped with, writing the check the first time: a
// wrong master key is an error at start-up, not personal data that does not
// open later, and two instances started with different master keys on one
// log cannot both start.
//
// It runs at start-up, so a request the cluster cannot answer yet (a leader
// being elected) is sent again (whileClusterBusy) until ctx ends.
func (k *Keyring) Verify(ctx context.Context) error {
	return whileClusterBusy(ctx, nil, "verify the master key", func() error { return k.verify(ctx) })
}

// verify is one try of Verify.
func (k *Keyring) verify(ctx context.Context) error {
	const label = "inkwell master key check"
	for {
		value, _, ok, err := k.bucket.Get(ctx, masterCheck)
		if err != nil {
			return err
		}
		if ok {
			if _, err := k.wrap.Unwrap(value, label); err != nil {
				return fmt.Errorf("the keys in NATS are wrapped by another master key (%w)", err)
			}
			return nil
		}
		secret := make([]byte, 32)
		rand.Read(secret)
		wrapped, err := k.wrap.Wrap(secret, label)
		if err != nil {
			return err
		}
		if _, created, err := k.bucket.Create(ctx, masterCheck, wrapped); err != nil || created {
			return err
		}
	}
}

// WrappedSecrets counts the secrets wrapped by the master key that NATS
// holds for the log (data keys, signing keys), so that a missing master
// key is never replaced by a new one while they exist.
func (s *Store) WrappedSecrets(ctx context.Context) (uint64, error) {
	var n uint64
	for _, suffix := range []string{"_DATAKEYS", "_KEYS"} {
		var st jetstream.Stream
		err := whileClusterBusy(ctx, s.log, "count the wrapped keys", func() error {
			var err error
			st, err = s.js.Stream(ctx, "KV_"+s.base.StreamName+suffix)
			return err
		})
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		} else if err != nil {
			return 0, unavailable(fmt.Errorf("the buckets of wrapped keys: %w", err))
		}
		n += st.CachedInfo().State.Msgs
	}
	return n, nil
}
