// Package auth holds Inkwell's credentials machinery: the RSA signing keys
// and their JWKS, RS256 access and refresh tokens, and argon2id password
// hashing under a concurrency limit.
package auth

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
)

// MinRSABits is the smallest RSA key Inkwell accepts.
const MinRSABits = 2048

// Keys is the RSA key pair that signs and verifies tokens.
type Keys struct {
	Private *rsa.PrivateKey
	Public  *rsa.PublicKey
	// KID is the key id in every token header and in the JWKS: the RFC 7638
	// thumbprint of the public key.
	KID string
}

// NewKeys wraps a private key, checking its size.
func NewKeys(priv *rsa.PrivateKey) (*Keys, error) {
	if priv.N.BitLen() < MinRSABits {
		return nil, fmt.Errorf("RSA key of %d bits is too small: at least %d are required", priv.N.BitLen(), MinRSABits)
	}
	k := &Keys{Private: priv, Public: &priv.PublicKey}
	k.KID = thumbprint(k.Public)
	return k, nil
}

// LoadKeys reads a PEM private key (PKCS#1 or PKCS#8) and, when pubPath is
// not empty, a PEM public key (PKIX or PKCS#1) that must match it.
func LoadKeys(privPath, pubPath string) (*Keys, error) {
	b, err := os.ReadFile(privPath)
	if err != nil {
		return nil, fmt.Errorf("read the private key: %w", err)
	}
	priv, err := parsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", privPath, err)
	}
	k, err := NewKeys(priv)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", privPath, err)
	}
	if pubPath != "" {
		pb, err := os.ReadFile(pubPath)
		if err != nil {
			return nil, fmt.Errorf("read the public key: %w", err)
		}
		pub, err := parsePublicKey(pb)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", pubPath, err)
		}
		if !pub.Equal(k.Public) {
			return nil, fmt.Errorf("public key %s does not match private key %s", pubPath, privPath)
		}
	}
	return k, nil
}

// Key file names in the data directory.
const (
	PrivateKeyFile = "jwt_private.pem"
	PublicKeyFile  = "jwt_public.pem"
)

// LoadOrGenerateKeys loads the key pair from dir, generating a 2048-bit pair
// there on first use (private key mode 0600).
func LoadOrGenerateKeys(dir string) (*Keys, bool, error) {
	privPath, pubPath := filepath.Join(dir, PrivateKeyFile), filepath.Join(dir, PublicKeyFile)
	k, err := LoadKeys(privPath, pubPath)
	if err == nil {
		return k, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if _, statErr := os.Stat(privPath); statErr == nil {
		return nil, false, err // the private key exists but the public one is missing or unreadable
	}
	priv, err := rsa.GenerateKey(rand.Reader, MinRSABits)
	if err != nil {
		return nil, false, fmt.Errorf("generate RSA key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, false, err
	}
	if err := writeFileExcl(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}), 0o600); err != nil {
		return nil, false, fmt.Errorf("write private key: %w", err)
	}
	if err := writeFileExcl(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600); err != nil {
		return nil, false, fmt.Errorf("write public key: %w", err)
	}
	k, err = NewKeys(priv)
	return k, true, err
}

func writeFileExcl(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// genrsa says how to make a key Inkwell takes.
const genrsa = "make one with: openssl genrsa -out private_key.pem 2048"

// parsePrivateKey reads a PEM RSA private key, and says what is wrong in
// words when the file holds something else.
func parsePrivateKey(b []byte) (*rsa.PrivateKey, error) {
	block, err := pemBlock(b, genrsa)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		return rsaKey[*rsa.PrivateKey](k, err, "a damaged RSA private key (PKCS#1); "+genrsa, "")
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		return rsaKey[*rsa.PrivateKey](k, err, "a damaged private key (PKCS#8); "+genrsa,
			"private key: Inkwell signs tokens with RS256 and needs an RSA key; "+genrsa)
	case "EC PRIVATE KEY":
		return nil, errors.New("an EC private key: Inkwell signs tokens with RS256 and needs an RSA key; " + genrsa)
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		return nil, errors.New("a public key where the private key goes: give the private key here, and the public key as the public key")
	case "CERTIFICATE":
		return nil, errors.New("a certificate where the private key goes; " + genrsa)
	}
	return nil, fmt.Errorf("a PEM block of type %q, not an RSA private key; %s", block.Type, genrsa)
}

// parsePublicKey reads a PEM RSA public key, and says what is wrong in
// words when the file holds something else.
func parsePublicKey(b []byte) (*rsa.PublicKey, error) {
	const pubout = "make it from the private key with: openssl rsa -in private_key.pem -pubout -out public_key.pem"
	block, err := pemBlock(b, pubout)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case "RSA PUBLIC KEY":
		k, err := x509.ParsePKCS1PublicKey(block.Bytes)
		return rsaKey[*rsa.PublicKey](k, err, "a damaged RSA public key (PKCS#1); "+pubout, "")
	case "PUBLIC KEY":
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		return rsaKey[*rsa.PublicKey](k, err, "a damaged public key (PKIX); "+pubout,
			"public key: Inkwell needs the RSA public key of its RSA private key; "+pubout)
	case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return nil, errors.New("a private key where the public key goes; " + pubout)
	}
	return nil, fmt.Errorf("a PEM block of type %q, not an RSA public key; %s", block.Type, pubout)
}

// pemBlock returns the first PEM block of b, or says b is not a PEM file
// (and, by hint, how to make one).
func pemBlock(b []byte, hint string) (*pem.Block, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("not a PEM file (it has no -----BEGIN ...----- block); " + hint)
	}
	return block, nil
}

// rsaKey returns the key k a parse returned (with err) as the RSA key K, or
// says what is wrong: damaged when the parse failed, notRSA (after its
// kind) when k is another kind of key.
func rsaKey[K any](k any, err error, damaged, notRSA string) (K, error) {
	var zero K
	if err != nil {
		return zero, errors.New(damaged)
	}
	rk, ok := k.(K)
	if !ok {
		return zero, errors.New(keyKind(k) + " " + notRSA)
	}
	return rk, nil
}

// keyKind names the kind of a key that is not RSA, with its article.
func keyKind(k any) string {
	switch k.(type) {
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return "an ECDSA"
	case ed25519.PrivateKey, ed25519.PublicKey:
		return "an Ed25519"
	case *ecdh.PrivateKey, *ecdh.PublicKey:
		return "an X25519"
	}
	return fmt.Sprintf("a %T", k)
}

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
	Kid string `json:"kid,omitempty"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func publicJWK(pub *rsa.PublicKey) jwk {
	return jwk{Kty: "RSA", N: b64(pub.N.Bytes()), E: b64(big.NewInt(int64(pub.E)).Bytes())}
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url).
func thumbprint(pub *rsa.PublicKey) string {
	j := publicJWK(pub)
	// Members in lexicographic order, no whitespace, as RFC 7638 requires.
	canon := `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64(sum[:])
}

// JWKS returns the JSON Web Key Set publishing the public key.
func (k *Keys) JWKS() []byte { return jwks(k) }

// jwks returns the JSON Web Key Set publishing the public keys of pairs.
func jwks(pairs ...*Keys) []byte {
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{}}
	for _, k := range pairs {
		j := publicJWK(k.Public)
		j.Use, j.Alg, j.Kid = "sig", "RS256", k.KID
		set.Keys = append(set.Keys, j)
	}
	b, _ := json.Marshal(set)
	return b
}
