package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// KeyStore is where a key set is kept, for every instance to read: a
// JetStream key-value bucket beside the log (eventstore.Bucket). Its
// operations fail when NATS cannot answer.
type KeyStore interface {
	// All returns every stored entry.
	All(ctx context.Context) ([][]byte, error)
	// Create stores value under key unless key exists.
	Create(ctx context.Context, key string, value []byte) (uint64, bool, error)
	Delete(ctx context.Context, key string) error
	// Watch signals after changes, until ctx ends.
	Watch(ctx context.Context) (<-chan struct{}, error)
}

// Keyring keeps a KeySet in step with its store: loaded at start, loaded
// again after every change of the store (Follow), and when a token names a
// key the set does not know yet (at most once a second).
type Keyring struct {
	Set    *KeySet
	store  KeyStore
	master *MasterKey
	log    *slog.Logger

	// ReloadEvery is how often Follow reads the set again whatever the
	// watch says (0: DefaultReloadEvery).
	ReloadEvery time.Duration

	mu         sync.Mutex
	lastReload time.Time
}

// DefaultReloadEvery bounds how long an instance can go without seeing a
// change of the key set when its watch goes silent without breaking: the
// cluster scenario saw a watch of the bucket stay silent for a minute after
// a NATS failover, and an instance that never loads a rotated key signs
// with the superseded one until that one is deleted.
const DefaultReloadEvery = 10 * time.Second

// storeKey is an entry's key in the store.
func storeKey(kid string) string { return "kid." + kid }

// OpenKeyring loads the set from store. An empty store gets its first key,
// signing at once: first, if it is not nil (the pair Inkwell signed with
// before its keys were shared, so that the tokens it issued stay valid),
// else a new one. Instances that start together may each add one: both
// are kept, and all sign with the same (the newest) as soon as they see
// each other's.
func OpenKeyring(ctx context.Context, store KeyStore, master *MasterKey, set *KeySet, first *Keys, log *slog.Logger) (*Keyring, error) {
	return openKeyring(ctx, store, master, set, first, log, true)
}

// LoadKeyring is OpenKeyring that stores no first key: an empty store
// leaves the set empty.
func LoadKeyring(ctx context.Context, store KeyStore, master *MasterKey, set *KeySet, log *slog.Logger) (*Keyring, error) {
	return openKeyring(ctx, store, master, set, nil, log, false)
}

func openKeyring(ctx context.Context, store KeyStore, master *MasterKey, set *KeySet, first *Keys, log *slog.Logger, makeFirst bool) (*Keyring, error) {
	k := &Keyring{Set: set, store: store, master: master, log: log}
	entries, err := k.entries(ctx)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 && makeFirst {
		now := set.now()
		var e KeyEntry
		if first != nil {
			e, err = WrapKeys(master, first, now, now)
		} else {
			e, err = NewKeyEntry(master, now, now)
		}
		if err != nil {
			return nil, err
		}
		if _, _, err := store.Create(ctx, storeKey(e.KID), e.Encode()); err != nil {
			return nil, err
		}
		log.Info("the shared key set had no signing key: stored one", "kid", e.KID, "imported", first != nil)
		if entries, err = k.entries(ctx); err != nil {
			return nil, err
		}
	}
	if err := set.Load(entries, master); err != nil {
		return nil, err
	}
	set.mu.Lock()
	set.miss = k.reloadOnMiss
	set.mu.Unlock()
	return k, nil
}

// entries reads and decodes every stored entry.
func (k *Keyring) entries(ctx context.Context) ([]KeyEntry, error) {
	raw, err := k.store.All(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the signing keys: %w", err)
	}
	out := make([]KeyEntry, 0, len(raw))
	for _, b := range raw {
		e, err := DecodeKeyEntry(b)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Reload loads the set from the store again.
func (k *Keyring) Reload(ctx context.Context) error {
	entries, err := k.entries(ctx)
	if err != nil {
		return err
	}
	return k.Set.Load(entries, k.master)
}

// reloadOnMiss reloads the set for a key id it does not know, at most once
// a second (a forged kid must not make every request read the store).
func (k *Keyring) reloadOnMiss() bool {
	k.mu.Lock()
	if time.Since(k.lastReload) < time.Second {
		k.mu.Unlock()
		return false
	}
	k.lastReload = time.Now()
	k.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := k.Reload(ctx); err != nil {
		k.log.Warn("reload the signing keys", "err", err)
		return false
	}
	return true
}

// Follow loads the set again after every change of the store, and every
// ReloadEvery whatever the watch says, until ctx ends; when the watch
// breaks (NATS gone), it starts it again.
func (k *Keyring) Follow(ctx context.Context) {
	every := k.ReloadEvery
	if every <= 0 {
		every = DefaultReloadEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	reload := func() {
		if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("reload the signing keys", "err", err)
		}
	}
	for ctx.Err() == nil {
		changes, err := k.store.Watch(ctx)
	watching:
		for err == nil {
			select {
			case _, open := <-changes:
				if !open {
					break watching
				}
				reload()
			case <-tick.C:
				reload()
			case <-ctx.Done():
				break watching
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// Rotate stores a new key that every instance signs with from signingFrom
// on (give them a few seconds to load it first), and deletes the keys that
// have retired. It returns the new entry and the ids deleted.
func (k *Keyring) Rotate(ctx context.Context, signingFrom time.Time) (KeyEntry, []string, error) {
	e, err := NewKeyEntry(k.master, k.Set.now(), signingFrom)
	if err != nil {
		return KeyEntry{}, nil, err
	}
	if _, _, err := k.store.Create(ctx, storeKey(e.KID), e.Encode()); err != nil {
		return KeyEntry{}, nil, err
	}
	if err := k.Reload(ctx); err != nil {
		return e, nil, err
	}
	var retired []string
	for _, st := range k.Set.States() {
		if st.State == "retired" {
			if err := k.store.Delete(ctx, storeKey(st.KID)); err != nil {
				return e, retired, err
			}
			retired = append(retired, st.KID)
		}
	}
	return e, retired, k.Reload(ctx)
}
