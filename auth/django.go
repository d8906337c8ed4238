package auth

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"inkwell/domain"
)

// Password hashes imported from a Django database (inkwell import django)
// are kept as Django wrote them and checked here, as Django's own hashers
// check them: "<algorithm>$<fields>". Each is replaced by an argon2id hash
// at the account's first successful login (commands.Login).

// maxDjangoIterations bounds the PBKDF2 iterations an imported hash may
// ask for (Django 5.2 writes 1,000,000): a hash beyond it is refused
// rather than left to keep a CPU busy for seconds.
const maxDjangoIterations = 10_000_000

// errUnknownHash is the error of a hash of no scheme Inkwell checks.
var errUnknownHash = errors.New("unknown password hash scheme")

// verifyDjango checks password against a hash of one of Django's hashers:
// pbkdf2_sha256 (Django's default), pbkdf2_sha1, argon2 and bcrypt_sha256.
func verifyDjango(password, encoded string) (bool, error) {
	algorithm, rest, _ := strings.Cut(encoded, "$")
	switch algorithm {
	case "pbkdf2_sha256":
		return verifyPBKDF2(sha256.New, password, rest)
	case "pbkdf2_sha1":
		return verifyPBKDF2(sha1.New, password, rest)
	case "argon2":
		return verifyDjangoArgon2(password, rest)
	case "bcrypt_sha256":
		// Django hashes the password with SHA-256 first (bcrypt reads
		// only 72 bytes), and hands bcrypt its hexadecimal digest.
		sum := sha256.Sum256([]byte(password))
		err := bcrypt.CompareHashAndPassword([]byte(rest), []byte(hex.EncodeToString(sum[:])))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	}
	return false, errUnknownHash
}

// verifyPBKDF2 checks "<iterations>$<salt>$<base64 key>".
func verifyPBKDF2(h func() hash.Hash, password, fields string) (bool, error) {
	iterations, salt, want, err := parsePBKDF2(fields)
	if err != nil {
		return false, err
	}
	got, err := pbkdf2Key(h, password, salt, iterations, len(want))
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parsePBKDF2 reads "<iterations>$<salt>$<base64 key>".
func parsePBKDF2(fields string) (iterations int, salt, key []byte, err error) {
	parts := strings.Split(fields, "$")
	if len(parts) != 3 {
		return 0, nil, nil, errors.New("pbkdf2 hash: want iterations$salt$hash")
	}
	iterations, err = strconv.Atoi(parts[0])
	if err != nil || iterations < 1 || iterations > maxDjangoIterations {
		return 0, nil, nil, fmt.Errorf("pbkdf2 hash: iterations %q", parts[0])
	}
	key, err = base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) == 0 {
		return 0, nil, nil, errors.New("pbkdf2 hash: bad key encoding")
	}
	return iterations, []byte(parts[1]), key, nil
}

// djangoArgon2 is a hash of Django's argon2 hasher, read.
type djangoArgon2 struct {
	variant   string
	m, t      uint32
	p         uint8
	salt, key []byte
}

// verifyDjangoArgon2 checks Django's argon2 hash: argon2-cffi's encoding
// without its leading "$": "argon2id$v=19$m=...,t=...,p=...$<salt>$<key>"
// (argon2i too, which Django wrote before 3.1).
func verifyDjangoArgon2(password, fields string) (bool, error) {
	a, err := parseDjangoArgon2(fields)
	if err != nil {
		return false, err
	}
	var got []byte
	if a.variant == "argon2id" {
		got = argon2.IDKey([]byte(password), a.salt, a.t, a.m, a.p, uint32(len(a.key)))
	} else {
		got = argon2.Key([]byte(password), a.salt, a.t, a.m, a.p, uint32(len(a.key)))
	}
	return subtle.ConstantTimeCompare(got, a.key) == 1, nil
}

// parseDjangoArgon2 reads the fields of Django's argon2 hash.
func parseDjangoArgon2(fields string) (djangoArgon2, error) {
	var a djangoArgon2
	parts := strings.Split(fields, "$")
	if len(parts) != 5 || parts[1] != "v=19" {
		return a, errors.New("argon2 hash: want variant$v=19$params$salt$hash")
	}
	if a.variant = parts[0]; a.variant != "argon2id" && a.variant != "argon2i" {
		return a, fmt.Errorf("argon2 hash: variant %q", parts[0])
	}
	if _, err := fmt.Sscanf(parts[2], "m=%d,t=%d,p=%d", &a.m, &a.t, &a.p); err != nil {
		return a, fmt.Errorf("argon2 hash: parameters %q", parts[2])
	}
	if a.m > 1<<20 || a.t > 64 || a.t == 0 || a.p == 0 {
		return a, fmt.Errorf("argon2 hash: parameters %q out of bounds", parts[2])
	}
	var err1, err2 error
	a.salt, err1 = base64.RawStdEncoding.DecodeString(parts[3])
	a.key, err2 = base64.RawStdEncoding.DecodeString(parts[4])
	if err1 != nil || err2 != nil || len(a.key) == 0 {
		return a, errors.New("argon2 hash: bad encoding")
	}
	return a, nil
}

// CheckImportedHash returns what makes a password hash of one of Django's
// hashers one Inkwell cannot check passwords against (nil when it can),
// without checking any password: an import reports an account whose hash
// is malformed and imports it without a usable password, rather than keep
// a hash that would fail its every login.
func CheckImportedHash(encoded string) error {
	algorithm, rest, _ := strings.Cut(encoded, "$")
	var err error
	switch algorithm {
	case "pbkdf2_sha256", "pbkdf2_sha1":
		_, _, _, err = parsePBKDF2(rest)
	case "argon2":
		_, err = parseDjangoArgon2(rest)
	case "bcrypt_sha256":
		_, err = bcrypt.Cost([]byte(rest))
	default:
		err = errUnknownHash
	}
	return err
}

// dummyPBKDF2 spends what checking a pbkdf2_sha256 hash of iterations
// costs, for a password checked against another kind of hash (see
// Hasher.LegacyIterations).
func dummyPBKDF2(password string, iterations int) {
	_, _ = pbkdf2Key(sha256.New, password, []byte("inkwell dummy salt"), iterations, sha256.Size)
}

// pbkdf2Key derives a PBKDF2 key (a variable for the test that counts the
// work each kind of hash costs).
var pbkdf2Key = pbkdf2.Key[hash.Hash]

// pbkdf2Iterations returns the iterations of a pbkdf2_sha256 hash, or 0.
func pbkdf2Iterations(encoded string) int {
	rest, ok := strings.CutPrefix(encoded, "pbkdf2_sha256$")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(rest[:max(strings.IndexByte(rest, '$'), 0)])
	return n
}

// verifyAny checks password against any hash an account may hold: Inkwell's
// argon2id, one imported from Django, or an unusable one (an imported
// "!..." or empty: nothing matches it). It spends the same work on every
// kind that LegacyIterations covers: one argon2id check and, when
// legacyIterations is set, one pbkdf2_sha256 derivation of that many
// iterations, real or dummy.
func (h *Hasher) verifyAny(password, encoded string) (bool, error) {
	legacy := h.LegacyIterations
	switch {
	case encoded == "" || domain.UnusablePasswordHash(encoded):
		_, _ = compareArgon2id(password, h.dummy)
		if legacy > 0 {
			dummyPBKDF2(password, legacy)
		}
		return false, nil
	case !domain.ImportedPasswordHash(encoded):
		ok, err := compareArgon2id(password, encoded)
		if legacy > 0 {
			dummyPBKDF2(password, legacy)
		}
		return ok, err
	}
	// An imported hash: its own check, then the argon2id check every
	// other kind of account pays.
	ok, err := verifyDjango(password, encoded)
	_, _ = compareArgon2id(password, h.dummy)
	if n := pbkdf2Iterations(encoded); n > 0 && n < legacy {
		dummyPBKDF2(password, legacy-n)
	}
	if err != nil {
		return false, fmt.Errorf("verify imported password hash: %w", err)
	}
	return ok, nil
}
