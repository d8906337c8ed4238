// Destroying a user's data key for good (an erasure), and remembering that it is.

package eventstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Destroy destroys subject's data key for good: the bucket holds the
// destroyed marker from then on, and every earlier value of the key is
// deleted securely from the store. It is idempotent: a call that failed
// half way is finished by the next.
func (k *Keyring) Destroy(ctx context.Context, subject string) error {
	for {
		value, rev, ok, err := k.bucket.Get(ctx, subject)
		if err != nil {
			return err
		}
		if ok && bytes.Equal(value, destroyedKey) {
			break
		}
		var done bool
		if ok {
			_, done, err = k.bucket.Update(ctx, subject, destroyedKey, rev)
		} else {
			_, done, err = k.bucket.Create(ctx, subject, destroyedKey)
		}
		if err != nil {
			return err
		}
		if done {
			break
		}
	}
	k.destroyed(subject)
	octx, cancel := context.WithTimeout(ctx, k.bucket.timeout)
	defer cancel()
	history, err := k.bucket.kv.History(octx, subject)
	if err != nil {
		return unavailable(fmt.Errorf("data key bucket: history of %s: %w", subject, err))
	}
	for _, e := range history {
		if e.Operation() == jetstream.KeyValuePut && bytes.Equal(e.Value(), destroyedKey) {
			continue
		}
		if err := k.stream.SecureDeleteMsg(octx, e.Revision()); err != nil && !k.gone(octx, e.Revision()) {
			return unavailable(fmt.Errorf("data key bucket: secure delete of %s: %w", subject, err))
		}
	}
	return nil
}

// gone reports whether the bucket's message seq is not there (a delete of
// it failed because another Destroy of the same key deleted it first:
// JetStream's answer does not keep the error's code).
func (k *Keyring) gone(ctx context.Context, seq uint64) bool {
	_, err := k.stream.GetMsg(ctx, seq)
	return errors.Is(err, jetstream.ErrMsgNotFound)
}

// destroyed remembers that subject's key is destroyed (a fetch under way
// does not remember what it read: see fetch), and calls onDestroyed.
func (k *Keyring) destroyed(subject string) {
	k.mu.Lock()
	k.epoch++
	k.mu.Unlock()
	k.remember(&keyEntry{subject: subject, destroyed: true})
	if f := k.onDestroyed.Load(); f != nil {
		(*f)()
	}
}
