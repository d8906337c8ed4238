package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// keyedHash names what the server keeps about a request (where an
// idempotency record is kept, what identifies its request, a throttle's
// counter) by HMAC-SHA256 under a key of the server's (Deps.HashKey, derived
// from the master key), never by a plain hash: a plain hash of a login's
// body, or of a client's address, is found again by hashing guesses, so a
// copy of the store would give passwords and addresses away.
type keyedHash struct{ key []byte }

// newKeyedHash returns a keyedHash under key, or under a random key of this
// process when key is empty (a single instance's tests; instances that
// share their stores must share the key).
func newKeyedHash(key []byte) keyedHash {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			panic("api: no randomness: " + err.Error())
		}
	}
	return keyedHash{key: key}
}

// sum returns the HMAC of parts, each followed by a NUL (so that no two
// lists of parts give the same input).
func (k keyedHash) sum(parts ...string) []byte {
	m := hmac.New(sha256.New, k.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// hex is sum in hexadecimal.
func (k keyedHash) hex(parts ...string) string { return hex.EncodeToString(k.sum(parts...)) }

// throttleKey is the store's key of a throttle's counter: keyed, so that
// the store holds neither usernames nor addresses nor anything to search
// them by, and every key is one the store accepts.
func (k keyedHash) throttleKey(kind, key string) string {
	return kind + "." + hex.EncodeToString(k.sum("inkwell throttle", kind, key)[:20])
}
