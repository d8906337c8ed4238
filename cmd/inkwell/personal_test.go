package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	main "inkwell/cmd/inkwell"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/testkit"
)

// filesHolding lists the files under dir that contain any of needles.
func filesHolding(t *testing.T, dir string, needles ...string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(data, []byte(n)) {
				out = append(out, strings.TrimPrefix(path, dir)+" holds "+n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// passwordHashOf reads the user's password hash from the log.
func (s *server) passwordHashOf(t *testing.T, id string) string {
	t.Helper()
	u, err := s.Queries.CurrentUser.Handle(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash()
}

// A user who erases their account is gone from everything Inkwell shows or
// keeps: the API, the event stream (SSE and inkwell events tail), a full
// replay, and the bytes of the data directory (the NATS store and the
// SQLite file); their username and email are free again, and the log still
// replays from its first event.
func TestErasureEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.createAdmin(t, "root").AccessToken
	const email, bio = "alice-7f3c@example.com", "Alice's own secret biography"
	var alice tokens
	expect(t, s.request(t, "POST", "/api/auth/register/", "", map[string]string{
		"username": "alice", "email": email, "password": "password-alice",
	}), http.StatusCreated).JSON(t, &alice)
	me := expect(t, s.request(t, "GET", "/api/auth/me/", alice.AccessToken, nil), http.StatusOK).Map(t)
	aliceID := me["id"].(string)
	expect(t, s.request(t, "PATCH", "/api/auth/me/", alice.AccessToken, map[string]any{"bio": bio}), http.StatusOK)
	article := s.createArticle(t, alice.AccessToken, map[string]any{"title": "Alice writes", "content": "words"})
	bob := s.registerUser(t, "bob")
	bobs := s.createArticle(t, bob.AccessToken, map[string]any{"title": "Bob writes", "content": "words"})
	hash := s.passwordHashOf(t, aliceID)

	// The grep below can find what it looks for: bob's email is in the
	// SQLite file (his row), and nothing of alice's is in the NATS store
	// even before the erasure (sealed).
	if got := filesHolding(t, s.Config.DataDir, "bob@example.com"); len(got) == 0 {
		t.Fatal("bob's email is in no file of the data directory: the grep cannot work")
	}
	if got := filesHolding(t, filepath.Join(s.Config.DataDir, "nats"), email, bio, hash); len(got) > 0 {
		t.Fatalf("personal data in clear text in the NATS store: %v", got)
	}

	// A wrong password erases nothing.
	s.appendsNothing(t, "an erasure with a wrong password", func() {
		r := expect(t, s.request(t, "DELETE", "/api/auth/me/", alice.AccessToken, map[string]string{"password": "wrong"}), http.StatusUnprocessableEntity)
		if !strings.Contains(string(r.Body), "password") {
			t.Errorf("the error names no field: %s", r.Body)
		}
	})
	expect(t, s.request(t, "DELETE", "/api/auth/me/", alice.AccessToken, map[string]string{"password": "password-alice"}), http.StatusNoContent)

	// The API: the account and its article are gone.
	expect(t, s.request(t, "GET", "/api/auth/me/", alice.AccessToken, nil), http.StatusUnauthorized)
	expect(t, s.request(t, "GET", "/api/users/"+aliceID+"/", admin, nil), http.StatusNotFound)
	testkit.WaitFor(t, time.Minute, "the cascade deletes the erased user's article", func() bool {
		return s.request(t, "GET", "/api/articles/"+article["id"].(string)+"/", admin, nil).Status == http.StatusNotFound
	})
	expect(t, s.request(t, "GET", "/api/articles/"+bobs["id"].(string)+"/history/", admin, nil), http.StatusOK)

	// The files: no trace of alice's email, bio or password hash.
	if got := filesHolding(t, s.Config.DataDir, email, bio, hash); len(got) > 0 {
		t.Fatalf("the erased user's data is still in the data directory: %v", got)
	}

	// The event stream: every event still there, alice's fields erased.
	head := s.head(t)
	stream := s.openStream(t, admin, "?from=1")
	events := readSSE(t, stream.Body, int(head))
	stream.Body.Close()
	erased := 0
	for _, e := range events {
		raw, _ := json.Marshal(e.Data)
		data := string(raw)
		if strings.Contains(data, email) || strings.Contains(data, bio) || strings.Contains(data, "alice\"") {
			t.Fatalf("the event stream shows the erased user's data: %s", data)
		}
		if e.Event == "user.registered" && strings.Contains(data, aliceID) {
			if !strings.Contains(data, `"email":"`+domain.Erased+`"`) || !strings.Contains(data, `"username":"`+domain.Erased+`"`) {
				t.Fatalf("alice's registration reads %s", data)
			}
			erased++
		}
	}
	if erased != 1 {
		t.Fatalf("%d registrations of alice in the stream, want 1", erased)
	}
	out, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": s.Config.DataDir}, "events", "tail", "--from", "1", "--no-follow")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if strings.Count(out, "\n") != int(head) || strings.Contains(out, email) || strings.Contains(out, bio) || !strings.Contains(out, domain.Erased) {
		t.Fatalf("events tail after the erasure:\n%s", out)
	}

	// A full replay from the first event works, and shows no alice.
	if _, stderr, err := inkwell(t, s.Config.DataDir, "replay"); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	var users struct {
		Count   int              `json:"count"`
		Results []map[string]any `json:"results"`
	}
	expect(t, s.request(t, "GET", "/api/users/", admin, nil), http.StatusOK).JSON(t, &users)
	if users.Count != 2 {
		t.Fatalf("after the replay the users are %v, want root and bob", users.Results)
	}

	// Username and email are free again.
	var again tokens
	expect(t, s.request(t, "POST", "/api/auth/register/", "", map[string]string{
		"username": "alice", "email": email, "password": "password-alice",
	}), http.StatusCreated).JSON(t, &again)
	if s.userID(t, again.AccessToken) == aliceID {
		t.Fatal("the new alice is the erased account")
	}
}

// An article's text is its author's personal data: the log holds it
// sealed with the author's data key from the first event (the NATS store
// never holds it in clear), and after the author's erasure nothing of it is
// readable anywhere: not in the event stream, not in `inkwell events tail`,
// not in any file of the data directory, drafts nobody else ever saw
// included.
func TestErasureLeavesNoDraftBehind(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const title, content, edited = "Zelda's unpublished zephyr notes", "quartz manifesto of the draft", "quartz manifesto, second thoughts"
	const published = "Zelda's public xylophone essay"
	var zelda tokens
	expect(t, s.request(t, "POST", "/api/auth/register/", "", map[string]string{
		"username": "zelda", "email": "zelda@example.com", "password": "password-zelda",
	}), http.StatusCreated).JSON(t, &zelda)
	draft := s.createArticle(t, zelda.AccessToken, map[string]any{"title": title, "content": content})
	slug := draft["slug"].(string)
	expect(t, s.request(t, "PATCH", "/api/articles/"+draft["id"].(string)+"/", zelda.AccessToken, map[string]any{"content": edited}), http.StatusOK)
	public := s.createArticle(t, zelda.AccessToken, map[string]any{"title": published, "content": "xylophone words", "is_published": true})
	needles := []string{title, content, edited, slug, published, "xylophone words"}

	// Sealed from the first event: the store never holds the text in clear
	// (the read model does: it serves it).
	if got := filesHolding(t, filepath.Join(s.Config.DataDir, "nats"), needles...); len(got) > 0 {
		t.Fatalf("articles' text in clear in the NATS store: %v", got)
	}
	if got := filesHolding(t, s.Config.DataDir, title); len(got) == 0 {
		t.Fatal("the draft's title is in no file of the data directory before the erasure: the grep cannot work")
	}

	expect(t, s.request(t, "DELETE", "/api/auth/me/", zelda.AccessToken, map[string]string{"password": "password-zelda"}), http.StatusNoContent)
	admin := s.createAdmin(t, "root").AccessToken
	for _, a := range []map[string]any{draft, public} {
		testkit.WaitFor(t, time.Minute, "the cascade to delete the erased author's article", func() bool {
			return s.request(t, "GET", "/api/articles/"+a["id"].(string)+"/", admin, nil).Status == http.StatusNotFound
		})
	}

	out, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": s.Config.DataDir}, "events", "tail", "--from", "1", "--no-follow")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, n := range needles {
		if strings.Contains(out, n) {
			t.Errorf("events tail shows %q of the erased author's articles", n)
		}
	}
	if !strings.Contains(out, `"title":"`+domain.Erased+`"`) {
		t.Errorf("events tail does not show the erased author's titles as %s:\n%s", domain.Erased, out)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := filesHolding(t, s.Config.DataDir, needles...); len(got) > 0 {
		t.Fatalf("the erased author's articles are still readable in the data directory: %v", got)
	}
}

// A superuser erases an account (deleted already or not); staff may not.
func TestSuperuserErasesAnAccount(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	root := s.createAdmin(t, "root").AccessToken
	carol := s.registerUser(t, "carol")
	id := s.userID(t, carol.AccessToken)
	staff := s.registerUser(t, "staffer")
	staffID := s.userID(t, staff.AccessToken)
	expect(t, s.request(t, "PATCH", "/api/users/"+staffID+"/", root, map[string]any{"is_staff": true}), http.StatusOK)

	s.appendsNothing(t, "an erasure by staff", func() {
		expect(t, s.request(t, "POST", "/api/users/"+id+"/erase/", staff.AccessToken, nil), http.StatusForbidden)
	})
	// Deleted first, erased after: the erasure still reaches the log.
	expect(t, s.request(t, "DELETE", "/api/users/"+id+"/", root, nil), http.StatusNoContent)
	expect(t, s.request(t, "POST", "/api/users/"+id+"/erase/", root, nil), http.StatusNoContent)
	// Again: nothing more to do, and no error.
	s.appendsNothing(t, "a second erasure", func() {
		expect(t, s.request(t, "POST", "/api/users/"+id+"/erase/", root, nil), http.StatusNoContent)
	})
	recs, _, err := s.Store.Load(context.Background(), domain.UserStream(id))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 || !recs[0].Erased || recs[len(recs)-1].Type != "user.erased" {
		t.Fatalf("the erased account's stream: %d events, first erased %t", len(recs), len(recs) > 0 && recs[0].Erased)
	}
	expect(t, s.request(t, "POST", "/api/users/00000000-0000-7000-8000-000000000000/erase/", root, nil), http.StatusNotFound)

	// A superuser's own account is not erased here: that takes one's
	// password (DELETE /api/auth/me/), so that a stolen token cannot.
	rootID := s.userID(t, root)
	s.appendsNothing(t, "a superuser's erasure of their own account without a password", func() {
		expect(t, s.request(t, "POST", "/api/users/"+rootID+"/erase/", root, nil), http.StatusForbidden)
	})
	// It takes an Idempotency-Key like every POST: a malformed one is
	// refused, a retry gets the first answer.
	dave := s.registerUser(t, "dave")
	daveID := s.userID(t, dave.AccessToken)
	s.appendsNothing(t, "an erasure with a malformed Idempotency-Key", func() {
		expect(t, s.request(t, "POST", "/api/users/"+daveID+"/erase/", root, nil, "Idempotency-Key", "not a key"), http.StatusBadRequest)
	})
	key := "6f1c2b1e-7d0a-4d7e-9f2b-0c9a8e7d6b5a"
	expect(t, s.request(t, "POST", "/api/users/"+daveID+"/erase/", root, nil, "Idempotency-Key", key), http.StatusNoContent)
	if r := expect(t, s.request(t, "POST", "/api/users/"+daveID+"/erase/", root, nil, "Idempotency-Key", key), http.StatusNoContent); r.Header.Get("Idempotency-Replayed") != "true" {
		t.Errorf("a retry of an erasure with its key was not replayed: %v", r.Header)
	}
}

// An erasure through one instance is seen by the other, which had the
// user's data key and events in memory.
func TestErasureSeenByAnotherInstance(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t)
	dave := a.registerUser(t, "dave")
	id := b.userID(t, dave.AccessToken)
	recs, _, err := b.Store.Load(context.Background(), domain.UserStream(id))
	if err != nil || len(recs) == 0 || recs[0].Erased {
		t.Fatalf("b loads dave: %d events, %v", len(recs), err)
	}
	// The export on PostgreSQL, through the other instance.
	var ex struct {
		User   map[string]any   `json:"user"`
		Events []map[string]any `json:"events"`
	}
	expect(t, b.request(t, "GET", "/api/auth/me/export/", dave.AccessToken, nil), http.StatusOK).JSON(t, &ex)
	if ex.User["username"] != "dave" || len(ex.Events) == 0 {
		t.Fatalf("dave's export through b: %v, %d events", ex.User, len(ex.Events))
	}
	expect(t, a.request(t, "DELETE", "/api/auth/me/", dave.AccessToken, map[string]string{"password": "password-dave"}), http.StatusNoContent)
	testkit.WaitFor(t, time.Minute, "b reads dave's events erased", func() bool {
		recs, _, err := b.Store.Load(context.Background(), domain.UserStream(id))
		if err != nil {
			t.Fatal(err)
		}
		return recs[0].Erased && recs[0].Event.(*domain.UserRegistered).Email == domain.Erased
	})
	expect(t, b.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": "dave", "password": "password-dave"}), http.StatusUnauthorized)
}

// Without the master key the log's personal data was sealed with, nothing
// starts: a missing master key is not replaced by a new one, and another
// master key is refused with words that say so.
func TestLostMasterKeyIsAClearStartUpError(t *testing.T) {
	t.Parallel()
	a, _ := twoInstances(t)
	a.registerUser(t, "erin")
	env := map[string]string{
		"INKWELL_NATS_URL": a.Config.NATSURL, "INKWELL_NATS_STREAM": a.Config.NATSStream,
		"INKWELL_NATS_SUBJECT_PREFIX": a.Config.NATSSubjectPrefix, "INKWELL_DATA_DIR": t.TempDir(),
	}
	out, err := runCLI(t, env, "events", "tail", "--from", "1", "--no-follow")
	if err == nil || !strings.Contains(err.Error(), "master key") || !strings.Contains(err.Error(), "restore it from its backup") {
		t.Fatalf("a missing master key: %v\n%s", err, out)
	}
	if _, statErr := os.Stat(filepath.Join(env["INKWELL_DATA_DIR"], "master.key")); statErr == nil {
		t.Fatal("a new master key was generated beside a log that has one")
	}
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env["INKWELL_MASTER_KEY_PATH"] = other
	out, err = runCLI(t, env, "events", "tail", "--from", "1", "--no-follow")
	if err == nil || !strings.Contains(err.Error(), "wrapped by another master key") || !strings.Contains(err.Error(), other) {
		t.Fatalf("another master key: %v\n%s", err, out)
	}
	if strings.Contains(out, "erin") {
		t.Fatalf("events shown with the wrong master key:\n%s", out)
	}
}

// The export holds the caller's account, sessions, articles (drafts too)
// and the events they caused, and nothing of anyone else; never a password
// hash.
func TestExportOfOnesOwnData(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	fay := s.registerUser(t, "fay")
	s.login(t, "fay")
	expect(t, s.request(t, "POST", "/api/auth/logout/", fay.AccessToken, nil), http.StatusNoContent)
	gus := s.registerUser(t, "gus")
	s.createArticle(t, gus.AccessToken, map[string]any{"title": "Gus writes"})
	again := s.login(t, "fay").AccessToken
	expect(t, s.request(t, "PATCH", "/api/auth/me/", again, map[string]any{"bio": "Fay's bio"}), http.StatusOK)
	draft := s.createArticle(t, again, map[string]any{"title": "Fay's draft", "content": "words"})
	var ex struct {
		User     map[string]any   `json:"user"`
		Sessions []map[string]any `json:"sessions"`
		Articles []map[string]any `json:"articles"`
		Events   []map[string]any `json:"events"`
	}
	r := expect(t, s.request(t, "GET", "/api/auth/me/export/", again, nil), http.StatusOK)
	r.JSON(t, &ex)
	if ex.User["username"] != "fay" || ex.User["bio"] != "Fay's bio" {
		t.Fatalf("export user: %v", ex.User)
	}
	if len(ex.Sessions) != 3 || ex.Sessions[0]["end_reason"] != "logout" || ex.Sessions[0]["ended_at"] == nil || ex.Sessions[2]["ended_at"] != nil {
		t.Fatalf("export sessions: %v", ex.Sessions)
	}
	if len(ex.Articles) != 1 || ex.Articles[0]["id"] != draft["id"] || ex.Articles[0]["is_published"] != false {
		t.Fatalf("export articles: %v", ex.Articles)
	}
	types := map[string]int{}
	for _, e := range ex.Events {
		types[e["type"].(string)]++
	}
	for _, want := range []string{"user.registered", "session.started", "session.ended", "user.profile_updated", "article.created"} {
		if types[want] == 0 {
			t.Errorf("no %s among the exported events: %v", want, types)
		}
	}
	if strings.Contains(string(r.Body), "gus") || strings.Contains(string(r.Body), "argon2") || strings.Contains(string(r.Body), "password_hash") {
		t.Fatalf("the export holds someone else's data or a password hash:\n%s", r.Body)
	}
}

// externalLog names a log of the test's own on the external NATS server
// (see eventstoretest.ExternalURL), deleted when the test ends: the
// server's URL, the stream's name and the prefix of its subjects.
func externalLog(t *testing.T) (url, name, prefix string) {
	t.Helper()
	url = eventstoretest.ExternalURL(t)
	name = "T" + eventstoretest.RandomName()
	t.Cleanup(func() { eventstoretest.DeleteStreams(t, url, name) })
	return url, name, "test." + name
}

// jetStreamAt connects to the NATS server at url for as long as the test
// runs, and returns its JetStream.
func jetStreamAt(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(eventstoretest.MustConnect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// legacyLog writes the log the previous version of Inkwell wrote for a short
// history (testdata/legacy-log.jsonl, recorded from it: personal data in
// clear text, claims named by unkeyed hashes, no stream metadata) into a
// stream named stream under prefix.
func legacyLog(t *testing.T, url, stream, prefix string) {
	t.Helper()
	ctx := context.Background()
	js := jetStreamAt(t, url)
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
	url, name, prefix := externalLog(t)
	legacyLog(t, url, name, prefix)
	master := newMasterKeyFile(t)
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
	bobID := old.userID(t, bob.AccessToken)
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
	js := jetStreamAt(t, url)
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
		for _, clear := range []string{"alice@example.com", "Alice's bio", "bob@example.com", "argon2", `"alice"`, "Alice writes", "Bob writes"} {
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

// A log written after Inkwell sealed accounts but before it sealed the text
// of articles (its claims keyed, its articles in clear text, an update not
// naming its article's author) is rewritten by `inkwell events encrypt`:
// every article's text sealed with its author's key (the author of an old
// update found from the article's creation), verified and switched to; the
// server warns about such a log until then.
func TestEncryptSealsTheArticlesOfAnEarlierLog(t *testing.T) {
	t.Parallel()
	url, name, prefix := externalLog(t)
	master := newMasterKeyFile(t)
	config := func(c *main.Config) {
		c.NATSURL, c.NATSStream, c.NATSSubjectPrefix, c.MasterKeyPath, c.DataDir = url, name, prefix, master, t.TempDir()
	}
	s := startServer(t, config)
	alice := s.registerUser(t, "alice")
	aliceID := s.userID(t, alice.AccessToken)
	sealed := s.createArticle(t, alice.AccessToken, map[string]any{"title": "Sealed from the start", "content": "sealed words"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// What the earlier build wrote: an article in clear text (schema
	// version 1), updated without naming its author; the stream's metadata
	// without inkwell_sealed.
	ctx := context.Background()
	js := jetStreamAt(t, url)
	article := "01a24a00-0000-7000-8000-0000000000e1"
	at := time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC)
	for i, ev := range []struct{ typ, data string }{
		{"article.created", `{"article_id":"` + article + `","title":"Clear old title","slug":"clear-old-title","content":"clear old words","excerpt":"clear old words","excerpt_auto":true,"author_id":"` + aliceID + `","tags":[],"cover_image":"","is_published":true,"published_at":"2026-11-30T01:02:03Z","created_at":"2026-11-30T01:02:03Z"}`},
		{"article.updated", `{"content":"clear old edit"}`},
	} {
		msg := nats.NewMsg(prefix + ".article." + article)
		msg.Header.Set("Content-Type", "application/json")
		msg.Header.Set("Inkwell-Actor", aliceID)
		msg.Header.Set("Inkwell-Aggregate-Id", article)
		msg.Header.Set("Inkwell-Aggregate-Type", "article")
		msg.Header.Set("Inkwell-Aggregate-Version", fmt.Sprint(i+1))
		msg.Header.Set("Inkwell-Event-Type", ev.typ)
		msg.Header.Set("Inkwell-Occurred-At", at.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano))
		msg.Header.Set("Inkwell-Schema-Version", "1")
		msg.Header.Set("Nats-Msg-Id", fmt.Sprintf("01a24a00-0000-7000-8000-00000000f%03d", i))
		msg.Data = []byte(ev.data)
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	delete(cfg.Metadata, eventstore.MetadataSealed)
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	s, logs := startServerLogs(t, slog.LevelWarn, config)
	if !strings.Contains(logs.String(), "before Inkwell sealed the text of articles") {
		t.Errorf("a server on the earlier log did not warn of its articles in clear text:\n%s", logs.String())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"INKWELL_NATS_URL": url, "INKWELL_NATS_STREAM": name, "INKWELL_NATS_SUBJECT_PREFIX": prefix,
		"INKWELL_MASTER_KEY_PATH": master, "INKWELL_DATA_DIR": t.TempDir(),
	}
	if out, err := runCLI(t, env, "events", "encrypt"); err != nil || !strings.Contains(out, "switched") {
		t.Fatalf("events encrypt: %v\n%s", err, out)
	}
	cp, err := js.Stream(ctx, name+"_2")
	if err != nil {
		t.Fatal(err)
	}
	if cp.CachedInfo().Config.Metadata[eventstore.MetadataSealed] != eventstore.SealedNow {
		t.Errorf("the copy's metadata %v does not say what it seals", cp.CachedInfo().Config.Metadata)
	}
	for seq := uint64(1); seq <= cp.CachedInfo().State.LastSeq; seq++ {
		m, err := cp.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		for _, clear := range []string{"Clear old title", "clear old words", "clear old edit", "Sealed from the start", "sealed words"} {
			if strings.Contains(string(m.Data), clear) {
				t.Fatalf("event %d of the copy holds %q in clear: %s", seq, clear, m.Data)
			}
		}
		if m.Header.Get("Inkwell-Event-Type") == "article.updated" && !strings.Contains(string(m.Data), `"author_id":"`+aliceID+`"`) {
			t.Fatalf("the copy's update of the old article names no author: %s", m.Data)
		}
	}

	// Switched to: the articles read as before, once the new server's
	// read models (in a new data directory) have read the copy.
	s = startServer(t, config)
	s.waitApplied(t)
	if got := expect(t, s.request(t, "GET", "/api/articles/"+article+"/", "", nil), http.StatusOK).Map(t)["content"]; got != "clear old edit" {
		t.Fatalf("the old article's content after the rewrite: %v", got)
	}
	if got := expect(t, s.request(t, "GET", "/api/articles/"+sealed["id"].(string)+"/", alice.AccessToken, nil), http.StatusOK).Map(t)["title"]; got != "Sealed from the start" {
		t.Fatalf("the sealed article's title after the rewrite: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(t, env, "events", "encrypt"); err != nil || !strings.Contains(out, "nothing to rewrite") {
		t.Fatalf("events encrypt of a sealed log: %v\n%s", err, out)
	}
}
