package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	main "inkwell/cmd/inkwell"
	"inkwell/auth"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
)

// legacyLog writes the log the previous version of Inkwell wrote for a short
// history (testdata/legacy-log.jsonl, recorded from it: personal data in
// clear text, claims named by unkeyed hashes, no stream metadata) into a
// stream named stream under prefix.
func legacyLog(t *testing.T, url, stream, prefix string) {
	t.Helper()
	ctx := context.Background()
	nc, err := eventstore.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Description: "Inkwell event log", Subjects: []string{prefix + ".>"}, Storage: jetstream.FileStorage,
		Discard: jetstream.DiscardNew, MaxMsgs: -1, MaxBytes: -1, Replicas: 1, Duplicates: 2 * time.Minute,
		DenyDelete: true, DenyPurge: true, AllowDirect: true,
	}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/legacy-log.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m struct {
			Subject string
			Header  map[string]string
			Data    json.RawMessage
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		msg := nats.NewMsg(prefix + strings.TrimPrefix(m.Subject, "inkwell.events"))
		for k, v := range m.Header {
			msg.Header.Set(k, v)
		}
		msg.Data = m.Data
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// A log written by the previous version keeps working (mixed with sealed
// events this version appends to it), and `inkwell events encrypt` rewrites
// it into a new stream with every personal field sealed and every claim
// keyed, verified, switched to: the accounts log in as before, the unique
// values stay taken, an erased user stays erased, and the copy holds no
// personal data in clear text.
func TestEncryptALogOfThePreviousVersion(t *testing.T) {
	t.Parallel()
	url := eventstoretest.ExternalURL(t)
	name := "T" + eventstoretest.RandomName()
	prefix := "test." + name
	t.Cleanup(func() { eventstoretest.DeleteStreams(t, url, name) })
	legacyLog(t, url, name, prefix)
	master := filepath.Join(t.TempDir(), "master.key")
	if _, _, err := auth.LoadOrGenerateMasterKey(master, true); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	config := func(c *main.Config) {
		c.NATSURL, c.NATSStream, c.NATSSubjectPrefix, c.MasterKeyPath, c.DataDir = url, name, prefix, master, data
	}

	// This version on the old log: the recorded accounts log in, the
	// recorded unique values are taken, new events are sealed.
	old := startServer(t, config)
	alice := old.login(t, "alice").AccessToken
	if me := expect(t, old.request(t, "GET", "/api/auth/me/", alice, nil), http.StatusOK).Map(t); me["bio"] != "Alice's bio" {
		t.Fatalf("alice from the old log: %v", me)
	}
	expect(t, old.request(t, "POST", "/api/auth/register/", "", map[string]string{"username": "alice", "email": "new@example.com", "password": "password-x1"}), http.StatusConflict)
	dave := old.registerUser(t, "dave")
	bob := old.login(t, "bob")
	bobID := expect(t, old.request(t, "GET", "/api/auth/me/", bob.AccessToken, nil), http.StatusOK).Map(t)["id"].(string)
	expect(t, old.request(t, "DELETE", "/api/auth/me/", bob.AccessToken, map[string]string{"password": "password-bob"}), http.StatusNoContent)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	env := map[string]string{
		"INKWELL_NATS_URL": url, "INKWELL_NATS_STREAM": name, "INKWELL_NATS_SUBJECT_PREFIX": prefix,
		"INKWELL_MASTER_KEY_PATH": master, "INKWELL_DATA_DIR": t.TempDir(),
	}
	out, err := runCLI(t, env, "events", "encrypt")
	if err != nil {
		t.Fatalf("events encrypt: %v\n%s", err, out)
	}
	for _, want := range []string{"verified", "switched", "nats stream rm " + name} {
		if !strings.Contains(out, want) {
			t.Fatalf("events encrypt said nothing of %q:\n%s", want, out)
		}
	}

	// The copy: the same number of events, and no personal datum in clear.
	legacy := map[string]bool{}
	for _, v := range [][2]string{{domain.ClaimUsername, "alice"}, {domain.ClaimEmail, "alice@example.com"},
		{domain.ClaimUsername, "bob"}, {domain.ClaimEmail, "bob@example.com"}, {domain.ClaimTagName, "Go"}} {
		legacy[".claim."+domain.ClaimStream(v[0], v[1]).ID] = true
	}
	nc, err := eventstore.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	st, err := js.Stream(context.Background(), name+"_2")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := js.Stream(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	before := orig.CachedInfo().State.Msgs
	if n := st.CachedInfo().State.Msgs; n != before {
		t.Fatalf("the copy has %d events, the log had %d", n, before)
	}
	for seq := uint64(1); seq <= before; seq++ {
		m, err := st.GetMsg(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		for _, clear := range []string{"alice@example.com", "Alice's bio", "bob@example.com", "argon2", `"alice"`} {
			if strings.Contains(string(m.Data), clear) {
				t.Fatalf("event %d of the copy holds %q in clear: %s", seq, clear, m.Data)
			}
		}
		// No claim keeps the name the old log gave it (an unkeyed hash of
		// its value), erased bob's included.
		if legacy[strings.TrimPrefix(m.Subject, prefix+"_2")] {
			t.Fatalf("event %d of the copy is on a claim named as in the old log: %s", seq, m.Subject)
		}
	}

	// The new log, switched to: everything as before.
	s := startServer(t, config)
	if got := s.Store.Log().Stream; got != name+"_2" {
		t.Fatalf("the server opened %s", got)
	}
	alice = s.login(t, "alice").AccessToken
	if me := expect(t, s.request(t, "GET", "/api/auth/me/", alice, nil), http.StatusOK).Map(t); me["bio"] != "Alice's bio" {
		t.Fatalf("alice from the new log: %v", me)
	}
	expect(t, s.request(t, "GET", "/api/auth/me/", dave.AccessToken, nil), http.StatusOK)
	expect(t, s.request(t, "POST", "/api/auth/register/", "", map[string]string{"username": "alice", "email": "new@example.com", "password": "password-x1"}), http.StatusConflict)
	expect(t, s.request(t, "POST", "/api/auth/register/", "", map[string]string{"username": "someone", "email": "alice@example.com", "password": "password-x1"}), http.StatusConflict)
	expect(t, s.request(t, "POST", "/api/tags/", alice, map[string]string{"name": "Go"}), http.StatusConflict)
	s.registerUser(t, "erin")
	recs, _, err := s.Store.Load(context.Background(), domain.UserStream(bobID))
	if err != nil || len(recs) == 0 || !recs[0].Erased {
		t.Fatalf("bob in the new log: %d events, %v", len(recs), err)
	}
	// The name of an erased user is free, in the new log too.
	s.registerUser(t, "bob")

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, env, "events", "encrypt"); err != nil || !strings.Contains(out, "nothing to rewrite") {
		t.Fatalf("events encrypt of a sealed log: %v\n%s", err, out)
	}
}
