package eventstore

import (
	"bytes"
	"container/list"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KeyWrapper wraps the data keys for storage (auth.MasterKey): NATS holds
// them wrapped only, so that the store alone reveals no personal data.
type KeyWrapper interface {
	Wrap(secret []byte, label string) ([]byte, error)
	Unwrap(wrapped []byte, label string) ([]byte, error)
}

// destroyedKey is what the bucket holds for a user whose data key was
// destroyed: it can never be created again, so nothing about them is sealed
// with a new key after their erasure.
var destroyedKey = []byte("destroyed")

// DefaultDataKeyCache is how many users' data keys a Keyring keeps in
// memory by default.
const DefaultDataKeyCache = 50000

// Keyring holds the data key of every user, one per user, in the bucket
// <stream>_DATAKEYS (the key's name is the user id, its value the data key
// wrapped by the master key, bound to the user id). A destroyed key is
// overwritten by a marker and its earlier value securely deleted from the
// store (JetStream's secure delete overwrites the message's bytes in the
// store files). Unwrapped keys are kept in memory, at most cacheSize of
// them, least recently used first out; every instance follows the bucket and
// learns of every destroyed key, so an erasure on one is seen on all.
type Keyring struct {
	stream jetstream.Stream
	bucket *Bucket
	wrap   KeyWrapper

	// onDestroyed, if set, is called after a key is destroyed (here or
	// by another instance).
	onDestroyed atomic.Pointer[func()]

	mu    sync.Mutex
	epoch uint64 // counts the destructions seen
	max   int
	order *list.List               // of *keyEntry, most recently used first
	byID  map[string]*list.Element // subject -> its element in order
}

// keyEntry is what the keyring knows of one user's key: its AEAD, or that it
// was destroyed, or that there was none when it looked (aead nil, destroyed
// false).
type keyEntry struct {
	subject   string
	aead      cipher.AEAD
	destroyed bool
}

// OpenDataKeys creates (or opens) the bucket of the data keys and returns
// the keyring over it, keys wrapped by wrap, at most cacheSize (default
// DefaultDataKeyCache) unwrapped in memory. Until ctx ends it follows the
// bucket, learning of the keys other instances destroy.
func (s *Store) OpenDataKeys(ctx context.Context, wrap KeyWrapper, cacheSize int) (*Keyring, error) {
	b, st, err := s.openDataKeyBucket(ctx)
	if err != nil {
		return nil, err
	}
	k := &Keyring{stream: st, bucket: b, wrap: wrap,
		max: max(cacheSize, 1), order: list.New(), byID: map[string]*list.Element{}}
	if cacheSize == 0 {
		k.max = DefaultDataKeyCache
	}
	// A key changes once after its creation: its destruction. Creations
	// change nothing another instance may have read (a key is read only
	// once it exists), so only destructions are acted upon.
	err = b.watchEach(ctx, func(key string, value []byte) {
		if bytes.Equal(value, destroyedKey) {
			k.destroyed(key)
		}
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// openDataKeyBucket creates (or opens) the bucket <stream>_DATAKEYS. Its
// stream is made here, not by JetStream's bucket creation, which makes a
// stream that denies deleting a message (for good: the setting cannot be
// undone), where the data keys need the secure delete of a destroyed key.
// It keeps two revisions of each key: the destroyed marker is written
// before the key it replaces is deleted securely (with one, the key's
// message would be dropped without its bytes being overwritten).
func (s *Store) openDataKeyBucket(ctx context.Context) (*Bucket, jetstream.Stream, error) {
	name := s.base.StreamName + "_DATAKEYS"
	var kv jetstream.KeyValue
	var st jetstream.Stream
	err := whileClusterBusy(ctx, s.log, "create the data key bucket", func() error {
		var err error
		st, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:              "KV_" + name,
			Description:       "Inkwell: the data keys of personal data, wrapped by the master key",
			Subjects:          []string{"$KV." + name + ".>"},
			MaxMsgsPerSubject: 2,
			MaxMsgs:           -1,
			MaxBytes:          -1,
			MaxConsumers:      -1,
			MaxMsgSize:        -1,
			Storage:           jetstream.FileStorage,
			Replicas:          s.cfg.Replicas,
			AllowRollup:       true,
			Duplicates:        2 * time.Minute,
			Discard:           jetstream.DiscardNew,
			// Read through the leader when replicated, as every bucket.
			AllowDirect: s.cfg.Replicas == 1,
		})
		if err != nil {
			return err
		}
		kv, err = s.js.KeyValue(ctx, name)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("data key bucket: %w", err)
	}
	return &Bucket{kv: kv, what: "data key", timeout: s.cfg.OpTimeout}, st, nil
}

// Sealer implements DataKeys.
func (k *Keyring) Sealer(ctx context.Context, subject string) (cipher.AEAD, error) {
	if e, ok := k.cached(subject); ok && (e.aead != nil || e.destroyed) {
		return e.result()
	}
	for {
		e, err := k.fetch(ctx, subject)
		if err != nil {
			return nil, err
		}
		if e.aead != nil || e.destroyed {
			return e.result()
		}
		key := make([]byte, 32)
		rand.Read(key)
		wrapped, err := k.wrap.Wrap(key, keyLabel(subject))
		if err != nil {
			return nil, err
		}
		if _, created, err := k.bucket.Create(ctx, subject, wrapped); err != nil {
			return nil, err
		} else if !created {
			continue // made by another instance meanwhile: read it
		}
		aead, err := newAEAD(key)
		if err != nil {
			return nil, err
		}
		k.remember(&keyEntry{subject: subject, aead: aead})
		return aead, nil
	}
}

// Opener implements DataKeys.
func (k *Keyring) Opener(ctx context.Context, subject string) (cipher.AEAD, error) {
	if e, ok := k.cached(subject); ok && (e.aead != nil || e.destroyed) {
		return e.result()
	}
	e, err := k.fetch(ctx, subject)
	if err != nil {
		return nil, err
	}
	return e.result()
}

// Erased implements DataKeys. That a user has no key is remembered too (a
// log written before Inkwell sealed personal data has many such users):
// a key made later does not change the answer, and a destruction reaches
// every instance through the bucket.
func (k *Keyring) Erased(ctx context.Context, subject string) (bool, error) {
	e, ok := k.cached(subject)
	if !ok {
		var err error
		if e, err = k.fetch(ctx, subject); err != nil {
			return false, err
		}
	}
	return e.destroyed, nil
}

// keyLabel binds a wrapped data key to its user: a key moved to another
// user's name does not unwrap.
func keyLabel(subject string) string { return "inkwell data key " + subject }

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// SealingErased is k for a rewrite of the log (inkwell events encrypt): it
// seals the fields of an erased user (which read domain.Erased) with a key
// no one keeps, where k refuses; readers learn from the bucket that the
// user is erased, and never try to open them.
func SealingErased(k *Keyring) DataKeys { return sealingErased{k} }

type sealingErased struct{ *Keyring }

func (k sealingErased) Sealer(ctx context.Context, subject string) (cipher.AEAD, error) {
	aead, err := k.Keyring.Sealer(ctx, subject)
	if !errors.Is(err, ErrErased) {
		return aead, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	return newAEAD(key)
}
