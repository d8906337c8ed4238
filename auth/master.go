package auth

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeyFile is the master key's file in the data directory.
const MasterKeyFile = "master.key"

// MasterKey wraps the secrets Inkwell keeps in NATS (the private signing
// keys), so that NATS alone does not reveal them: 32 random bytes, kept
// outside NATS in a file that every instance reads.
type MasterKey struct {
	aead cipher.AEAD
	key  []byte
}

// LoadOrGenerateMasterKey reads the master key from path (base64 of 32
// bytes), generating it there (mode 0600) when generate is set and the file
// does not exist. A key that cannot be read is an error naming the file:
// never a new key in its place, which would make every secret wrapped with
// the old one unreadable.
func LoadOrGenerateMasterKey(path string, generate bool) (*MasterKey, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && generate {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, false, err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, false, err
		}
		if err := writeFileExcl(path, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, false, fmt.Errorf("write the master key %s: %w", path, err)
		}
		m, err := NewMasterKey(key)
		return m, true, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the master key %s: %w (it wraps the data keys and signing keys kept in NATS: restore it from its backup)", path, err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, false, fmt.Errorf("the master key %s is not the base64 of 32 bytes (make one with: head -c 32 /dev/urandom | base64)", path)
	}
	m, err := NewMasterKey(key)
	return m, false, err
}

// NewMasterKey returns the master key of 32 bytes.
func NewMasterKey(key []byte) (*MasterKey, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("a master key has 32 bytes, not %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &MasterKey{aead: aead, key: bytes.Clone(key)}, nil
}

// Equal reports whether m and other are the same key (in constant time).
func (m *MasterKey) Equal(other *MasterKey) bool {
	return other != nil && subtle.ConstantTimeCompare(m.key, other.key) == 1
}

// Derive returns a key of 32 bytes for one purpose, named by label (HKDF
// with SHA-256): the same master key and label give the same key, and it
// reveals nothing of the master key or of the keys of other labels.
func (m *MasterKey) Derive(label string) []byte {
	k, err := hkdf.Key(sha256.New, m.key, nil, label, 32)
	if err != nil {
		panic("auth: derive a key: " + err.Error()) // only for lengths HKDF cannot give
	}
	return k
}

// Wrap encrypts secret (AES-256-GCM, a fresh nonce before the ciphertext),
// bound to label: it unwraps only with the same label.
func (m *MasterKey) Wrap(secret []byte, label string) ([]byte, error) {
	nonce := make([]byte, m.aead.NonceSize(), m.aead.NonceSize()+len(secret)+m.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return m.aead.Seal(nonce, nonce, secret, []byte(label)), nil
}

// ErrWrongMasterKey is returned by Unwrap when a secret was not wrapped by
// this master key (or under another label, or was altered).
var ErrWrongMasterKey = errors.New("wrapped by another master key, or altered")

// Unwrap decrypts what Wrap made with this key and label.
func (m *MasterKey) Unwrap(wrapped []byte, label string) ([]byte, error) {
	n := m.aead.NonceSize()
	if len(wrapped) < n+m.aead.Overhead() {
		return nil, ErrWrongMasterKey
	}
	secret, err := m.aead.Open(nil, wrapped[:n], wrapped[n:], []byte(label))
	if err != nil {
		return nil, ErrWrongMasterKey
	}
	return secret, nil
}
