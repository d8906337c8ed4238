package auth

import (
	"context"
	"crypto/sha256"
	"hash"
	"testing"

	"github.com/alexedwards/argon2id"
)

// Hashes Django 3.2's own hashers wrote of the password below: its default
// PBKDF2-SHA256 and PBKDF2-SHA1 (make_password), argon2 and bcrypt_sha256
// at lower costs than Django's defaults (m=1024,t=1,p=2 and 4 rounds: the
// defaults, 100 MiB and 12 rounds, take seconds on a busy test machine).
const djangoPassword = "correct horse ünïcode"

var djangoHashes = map[string]string{
	"pbkdf2_sha256": "pbkdf2_sha256$260000$eltMXDnBvUuC9SrXltWPOL$rDYB0FEb49R8esFAP14qyZJvqAuj9uc+/dlMdrapaF0=",
	"pbkdf2_sha1":   "pbkdf2_sha1$260000$5qYQNFnin3lusr1NRJUYl0$9pYU+HUY9awdwmKe5hdrAiWHZak=",
	"argon2":        "argon2$argon2id$v=19$m=1024,t=1,p=2$NTBZTzVkOTduVFlMdmNvYkVjOFlxeA$jc8lAs9uLF6V8wyRFwyt7A",
	"bcrypt_sha256": "bcrypt_sha256$$2b$04$i13TKi549r/KQNCo5mZzdeIShsyqlrWEQfrFyY7h/FiXUvo0iKcka",
}

var lightParams = argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestVerifyDjangoHashes(t *testing.T) {
	h := NewHasher(lightParams, 1)
	ctx := context.Background()
	for scheme, encoded := range djangoHashes {
		t.Run(scheme, func(t *testing.T) {
			if ok, err := h.Verify(ctx, djangoPassword, encoded); err != nil || !ok {
				t.Errorf("the right password: %t, %v", ok, err)
			}
			if ok, err := h.Verify(ctx, djangoPassword+"x", encoded); err != nil || ok {
				t.Errorf("a wrong password: %t, %v", ok, err)
			}
		})
	}
	for _, bad := range []string{
		"!EnTFXqPpIdM188bdA9XHL03HrtmxdYMqDiic620d", // unusable: nothing matches, no error
		"!",
	} {
		if ok, err := h.Verify(ctx, djangoPassword, bad); err != nil || ok {
			t.Errorf("unusable hash %q: %t, %v", bad, ok, err)
		}
	}
	for _, bad := range []string{
		"md5$salt$0123456789abcdef0123456789abcdef",
		"pbkdf2_sha256$99999999999$salt$AAAA",
		"pbkdf2_sha256$1000$salt",
		"argon2$argon2id$v=19$m=999999999,t=2,p=8$c2FsdA$AAAA",
	} {
		if ok, err := h.Verify(ctx, djangoPassword, bad); err == nil || ok {
			t.Errorf("malformed hash %q: %t, %v; want an error", bad, ok, err)
		}
		if err := CheckImportedHash(bad); err == nil {
			t.Errorf("CheckImportedHash(%q): nil, want what is wrong", bad)
		}
	}
	for scheme, encoded := range djangoHashes {
		if err := CheckImportedHash(encoded); err != nil {
			t.Errorf("CheckImportedHash of Django's %s hash: %v", scheme, err)
		}
	}
	for _, bad := range []string{
		"pbkdf2_sha1$0$salt$AAAA",
		"pbkdf2_sha256$260000$salt$not base64!",
		"argon2$argon2d$v=19$m=1024,t=1,p=2$c2FsdA$AAAA",
		"argon2$argon2id$v=19$m=1024,t=0,p=2$c2FsdA$AAAA",
		"bcrypt_sha256$$2b$04$short",
	} {
		if err := CheckImportedHash(bad); err == nil {
			t.Errorf("CheckImportedHash(%q): nil, want what is wrong", bad)
		}
	}
}

// With LegacyIterations set, checking a password costs the same work
// whatever the account holds: one argon2id comparison and that many
// PBKDF2-SHA256 iterations, for Inkwell's own hash, an imported
// pbkdf2_sha256 one (of as many iterations, or fewer), an unusable one and
// none (an unknown user). So a failed login's time does not tell which
// accounts hold an imported hash.
func TestEveryKindOfHashCostsTheSameWork(t *testing.T) {
	h := NewHasher(lightParams, 1)
	h.LegacyIterations = 260000
	own, err := h.Hash(context.Background(), djangoPassword)
	if err != nil {
		t.Fatal(err)
	}
	var argonChecks, iterations int
	realKey, realCompare := pbkdf2Key, compareArgon2id
	t.Cleanup(func() { pbkdf2Key, compareArgon2id = realKey, realCompare })
	pbkdf2Key = func(hf func() hash.Hash, password string, salt []byte, iter, keyLen int) ([]byte, error) {
		if hf().Size() == sha256.Size {
			iterations += iter
		}
		return realKey(hf, password, salt, iter, keyLen)
	}
	compareArgon2id = func(password, encoded string) (bool, error) {
		argonChecks++
		return realCompare(password, encoded)
	}
	fewer := "pbkdf2_sha256$1000$salt$" + "rDYB0FEb49R8esFAP14qyZJvqAuj9uc+/dlMdrapaF0="
	for name, encoded := range map[string]string{
		"argon2id": own, "pbkdf2_sha256": djangoHashes["pbkdf2_sha256"], "pbkdf2_sha256 of fewer iterations": fewer,
		"unusable": "!x", "unknown user": "",
	} {
		argonChecks, iterations = 0, 0
		if _, err := h.Verify(context.Background(), "a wrong password", encoded); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if argonChecks != 1 || iterations != h.LegacyIterations {
			t.Errorf("%s: %d argon2id checks and %d PBKDF2-SHA256 iterations, want 1 and %d", name, argonChecks, iterations, h.LegacyIterations)
		}
	}
}
