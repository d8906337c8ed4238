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
