package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"
)

// JWKSMaxAge is how long a verifier may cache the published key set
// (/.well-known/jwks.json's Cache-Control max-age). A new key must be
// published at least this long before it signs (see `inkwell keys rotate`),
// or a verifier holding an older copy refuses its tokens.
const JWKSMaxAge = 5 * time.Minute

// KeySource gives tokens their keys: the pair that signs new tokens, the
// public key of a key id, and the JWKS that publishes the public keys. A
// *Keys is one static pair; a *KeySet the keys every instance shares.
type KeySource interface {
	SigningKey() *Keys
	PublicKey(kid string) *rsa.PublicKey
	JWKS() []byte
}

// SigningKey implements KeySource: the one pair signs.
func (k *Keys) SigningKey() *Keys { return k }

// PublicKey implements KeySource.
func (k *Keys) PublicKey(kid string) *rsa.PublicKey {
	if kid != k.KID {
		return nil
	}
	return k.Public
}

// KeyEntry is one key of a key set as it is stored: its private key wrapped
// by the master key.
type KeyEntry struct {
	KID       string    `json:"kid"`
	Wrapped   []byte    `json:"wrapped_private_key"`
	CreatedAt time.Time `json:"created_at"`
	// SigningFrom is when instances start signing with it: a moment after
	// it is stored, so that every instance knows it (and accepts its
	// tokens) before any instance signs with it.
	SigningFrom time.Time `json:"signing_from"`
}

// wrapLabel binds a wrapped private key to its key id.
func wrapLabel(kid string) string { return "inkwell signing key " + kid }

// NewKeyEntry generates a 2048-bit RSA pair, wrapped by master, that signs
// from signingFrom on.
func NewKeyEntry(master *MasterKey, now, signingFrom time.Time) (KeyEntry, error) {
	priv, err := rsa.GenerateKey(rand.Reader, MinRSABits)
	if err != nil {
		return KeyEntry{}, fmt.Errorf("generate RSA key: %w", err)
	}
	return WrapKeys(master, mustKeys(NewKeys(priv)), now, signingFrom)
}

func mustKeys(k *Keys, err error) *Keys {
	if err != nil {
		panic("auth: " + err.Error())
	}
	return k
}

// WrapKeys makes the stored entry of a pair (an existing key brought into a
// key set).
func WrapKeys(master *MasterKey, k *Keys, now, signingFrom time.Time) (KeyEntry, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return KeyEntry{}, err
	}
	wrapped, err := master.Wrap(der, wrapLabel(k.KID))
	if err != nil {
		return KeyEntry{}, err
	}
	return KeyEntry{KID: k.KID, Wrapped: wrapped, CreatedAt: now.UTC(), SigningFrom: signingFrom.UTC()}, nil
}

// DecodeKeyEntry reads a stored entry.
func DecodeKeyEntry(b []byte) (KeyEntry, error) {
	var e KeyEntry
	if err := json.Unmarshal(b, &e); err != nil || e.KID == "" {
		return KeyEntry{}, fmt.Errorf("a key entry that is not one: %v", err)
	}
	return e, nil
}

// Encode returns the entry as it is stored.
func (e KeyEntry) Encode() []byte {
	b, _ := json.Marshal(e)
	return b
}

// KeyState is where a key of a set stands, as `inkwell keys list` shows it.
type KeyState struct {
	KeyEntry
	State     string    // "signing", "next" (signs from SigningFrom), "verifying" (superseded) or "retired"
	RetiresAt time.Time // for a superseded key: when the last token it signed has expired
}

// KeySet is the signing keys every instance shares. Each instance signs
// with the newest key whose SigningFrom has come, and verifies with every
// key that has not retired: a key is retired once the key after it has
// signed for longer than a token lives (retireAfter), as no token it signed
// can still be valid.
type KeySet struct {
	mu          sync.RWMutex
	keys        []setKey // by SigningFrom, oldest first
	now         func() time.Time
	retireAfter time.Duration
	// miss, if set, loads the set again for a key id it does not know and
	// reports whether it did (see Keyring).
	miss func() bool
}

type setKey struct {
	entry KeyEntry
	pair  *Keys
}

// NewKeySet returns an empty set; retireAfter is the longest lifetime of a
// token (the refresh token's) and the verifier's leeway.
func NewKeySet(now func() time.Time, retireAfter time.Duration) *KeySet {
	if now == nil {
		now = time.Now
	}
	return &KeySet{now: now, retireAfter: retireAfter}
}

// Load replaces the set's keys with entries, unwrapping each with master.
// An entry wrapped by another master key is an error naming it: every
// instance must read the same master key.
func (s *KeySet) Load(entries []KeyEntry, master *MasterKey) error {
	keys := make([]setKey, 0, len(entries))
	for _, e := range entries {
		der, err := master.Unwrap(e.Wrapped, wrapLabel(e.KID))
		if err != nil {
			return fmt.Errorf("signing key %s: %w: every instance must read the same master key", e.KID, err)
		}
		priv, err := x509.ParsePKCS8PrivateKey(der)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", e.KID, err)
		}
		rk, ok := priv.(*rsa.PrivateKey)
		if !ok {
			return fmt.Errorf("signing key %s is not an RSA key", e.KID)
		}
		pair, err := NewKeys(rk)
		if err != nil {
			return fmt.Errorf("signing key %s: %w", e.KID, err)
		}
		if pair.KID != e.KID {
			return fmt.Errorf("signing key %s holds the key %s", e.KID, pair.KID)
		}
		keys = append(keys, setKey{entry: e, pair: pair})
	}
	// Oldest first; keys that sign from the same instant (only a clock
	// that stands still makes them) in one order on every instance.
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i].entry, keys[j].entry
		switch {
		case !a.SigningFrom.Equal(b.SigningFrom):
			return a.SigningFrom.Before(b.SigningFrom)
		case !a.CreatedAt.Equal(b.CreatedAt):
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.KID < b.KID
	})
	s.mu.Lock()
	s.keys = keys
	s.mu.Unlock()
	return nil
}

// states returns each key's state at now, oldest first.
func (s *KeySet) states(now time.Time) []KeyState {
	out := make([]KeyState, len(s.keys))
	signing := -1
	for i, k := range s.keys {
		out[i] = KeyState{KeyEntry: k.entry, State: "next"}
		if !k.entry.SigningFrom.After(now) {
			signing = i
		}
	}
	if signing < 0 && len(out) > 0 {
		signing = 0 // every key is still to come: the first signs meanwhile
	}
	for i := range out {
		switch {
		case i == signing:
			out[i].State = "signing"
		case i < signing:
			// Superseded when the key after it began to sign.
			out[i].RetiresAt = s.keys[i+1].entry.SigningFrom.Add(s.retireAfter)
			out[i].State = "verifying"
			if !now.Before(out[i].RetiresAt) {
				out[i].State = "retired"
			}
		}
	}
	return out
}

// States returns where each key stands now, oldest first.
func (s *KeySet) States() []KeyState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.states(s.now())
}

// SigningKey implements KeySource: nil while the set is empty.
func (s *KeySet) SigningKey() *Keys {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, st := range s.states(s.now()) {
		if st.State == "signing" {
			return s.keys[i].pair
		}
	}
	return nil
}

// PublicKey implements KeySource: the key of kid unless it has retired. A
// key id the set does not know makes it load again first (a key stored a
// moment ago by another instance).
func (s *KeySet) PublicKey(kid string) *rsa.PublicKey {
	pub, known := s.publicKey(kid)
	if known || pub != nil {
		return pub
	}
	s.mu.RLock()
	miss := s.miss
	s.mu.RUnlock()
	if miss != nil && miss() {
		pub, _ = s.publicKey(kid)
	}
	return pub
}

// publicKey returns the key of kid unless it has retired, and whether the
// set holds kid at all.
func (s *KeySet) publicKey(kid string) (*rsa.PublicKey, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i, st := range s.states(s.now()) {
		if st.KID == kid {
			if st.State == "retired" {
				return nil, true
			}
			return s.keys[i].pair.Public, true
		}
	}
	return nil, false
}

// JWKS implements KeySource: every key that has not retired, the next one
// included (clients that cache the set then know it before it signs).
func (s *KeySet) JWKS() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var pairs []*Keys
	for i, st := range s.states(s.now()) {
		if st.State != "retired" {
			pairs = append(pairs, s.keys[i].pair)
		}
	}
	return jwks(pairs...)
}
