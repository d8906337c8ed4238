package main_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A copy of the NATS store gives no password and no client address away,
// not even to whoever hashes guesses: after registrations, logins (right
// and wrong, counted by the throttles) and a password change, all sent
// with an Idempotency-Key, the store's files hold none of the passwords,
// and none of the plain hashes (SHA-256, in hexadecimal or raw, whole or
// cut to 20 bytes) that an attacker could compute from what those requests
// sent: their bodies as fingerprinted, the throttles' keys (address,
// account and address, session), the idempotency records' names. What the
// server keeps of requests is keyed with a key derived from the master key
// (and bound to the client's Idempotency-Key), so a copy of the store alone
// is no dictionary.
func TestStoreHoldsNoGuessableTraceOfRequests(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const addr = "127.0.0.1"
	var inputs []string // what an attacker would hash
	sent := func(method, path, token, key, body string, want int) response {
		t.Helper()
		r := expect(t, s.request(t, method, path, token, body, "Idempotency-Key", key), want)
		scope := "anonymous"
		if token != "" {
			scope = "user " + expect(t, s.request(t, "GET", "/api/auth/me/", token, nil), 200).Map(t)["id"].(string)
		}
		inputs = append(inputs,
			join("inkwell idempotent request", method, path, body), body,
			join("inkwell idempotency key", scope, key), join("inkwell idempotency answer", scope, key))
		return r
	}
	const user, first, second, wrong = "hashed", "first correct horse", "second correct horse", "not the password"
	var tok tokens
	sent("POST", "/api/auth/register/", "", "k-register-1", `{"username": "hashed", "email": "hashed@example.com", "password": "`+first+`"}`, 201).JSON(t, &tok)
	sid, _ := claimsOf(t, tok.AccessToken)["sid"].(string)
	for i, pw := range []string{wrong, wrong, first} {
		want := http.StatusUnauthorized
		if pw == first {
			want = http.StatusOK
		}
		sent("POST", "/api/auth/login/", "", "k-login-"+string(rune('a'+i)), `{"username": "hashed", "password": "`+pw+`"}`, want)
	}
	sent("POST", "/api/auth/password/", tok.AccessToken, "k-password", `{"current_password": "`+wrong+`", "new_password": "`+second+`"}`, 422)
	sent("POST", "/api/auth/password/", tok.AccessToken, "k-password-2", `{"current_password": "`+first+`", "new_password": "`+second+`"}`, 204)
	for _, k := range []struct{ kind, key string }{
		{"login", user + "\x00" + addr}, {"address", addr}, {"register", addr}, {"login", "session\x00" + sid},
	} {
		inputs = append(inputs, k.kind+"\x00"+k.key, k.key)
	}
	inputs = append(inputs, first, second, wrong, addr, user+addr, user+"\x00"+addr)

	dir := filepath.Join(s.Config.DataDir, "nats")
	s.Close() // the store's files as they stand, everything written
	var files [][]byte
	if err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files = append(files, b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no files under %s", dir)
	}
	found := 0
	for _, in := range inputs {
		sum := sha256.Sum256([]byte(in))
		needles := map[string][]byte{
			"sha256, hex": []byte(hex.EncodeToString(sum[:])), "sha256, raw": sum[:],
			"sha256 cut to 20 bytes, hex": []byte(hex.EncodeToString(sum[:20])),
		}
		for _, pw := range []string{first, second, wrong} {
			if in == pw {
				needles["as is"] = []byte(in)
			}
		}
		for what, needle := range needles {
			for _, f := range files {
				if bytes.Contains(f, needle) {
					found++
					t.Errorf("the store holds %s of %q", what, strings.ReplaceAll(in, "\x00", "\\0"))
					break
				}
			}
		}
	}
	t.Logf("%d derivations of %d inputs searched for in %d files of the store: %d found", 3*len(inputs), len(inputs), len(files), found)
}

// join is how the server's names and fingerprints join their parts before
// hashing them: each part followed by a NUL.
func join(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p)
		b.WriteByte(0)
	}
	return b.String()
}
