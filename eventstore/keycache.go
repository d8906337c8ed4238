// Fetching a user's data key from the bucket, and the keyring's cache of them.

package eventstore

import (
	"bytes"
	"context"
	"crypto/cipher"
	"fmt"
)

// fetch reads subject's key from the bucket and remembers what it found,
// unless a key was destroyed meanwhile (what it read may be older than the
// destruction).
func (k *Keyring) fetch(ctx context.Context, subject string) (*keyEntry, error) {
	k.mu.Lock()
	epoch := k.epoch
	k.mu.Unlock()
	value, _, ok, err := k.bucket.Get(ctx, subject)
	if err != nil {
		return nil, err
	}
	e := &keyEntry{subject: subject}
	switch {
	case !ok:
		// No key, remembered as such for Erased; Sealer and Opener read
		// the bucket again (another instance may have made it since).
	case bytes.Equal(value, destroyedKey):
		e.destroyed = true
	default:
		key, err := k.wrap.Unwrap(value, keyLabel(subject))
		if err != nil {
			return nil, fmt.Errorf("the data key of user %s: %w", subject, err)
		}
		if e.aead, err = newAEAD(key); err != nil {
			return nil, err
		}
	}
	k.mu.Lock()
	current := k.epoch == epoch
	k.mu.Unlock()
	if current {
		k.remember(e)
	}
	return e, nil
}

// result is the AEAD of e, or the error saying why there is none.
func (e *keyEntry) result() (cipher.AEAD, error) {
	switch {
	case e.destroyed:
		return nil, ErrErased
	case e.aead == nil:
		return nil, ErrNoDataKey
	}
	return e.aead, nil
}

func (k *Keyring) cached(subject string) (*keyEntry, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	el, ok := k.byID[subject]
	if !ok {
		return nil, false
	}
	k.order.MoveToFront(el)
	return el.Value.(*keyEntry), true
}

func (k *Keyring) remember(e *keyEntry) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if el, ok := k.byID[e.subject]; ok {
		el.Value = e
		k.order.MoveToFront(el)
		return
	}
	k.byID[e.subject] = k.order.PushFront(e)
	for k.order.Len() > k.max {
		last := k.order.Back()
		k.order.Remove(last)
		delete(k.byID, last.Value.(*keyEntry).subject)
	}
}
