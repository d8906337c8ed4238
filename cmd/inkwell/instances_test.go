package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"inkwell/auth"
	main "inkwell/cmd/inkwell"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/users"
	"inkwell/testkit"
)

// twoInstances starts two instances on one NATS server (a stream of their
// own, removed with its buckets when the test ends), one PostgreSQL
// database and one signing key.
func twoInstances(t *testing.T, configure ...func(*main.Config)) (*server, *server) {
	t.Helper()
	natsURL := eventstoretest.ExternalURL(t)
	_, pgURL := projectionstest.MustOpenPostgresURL(t)
	keys := t.TempDir()
	if _, _, err := auth.LoadOrGenerateKeys(keys); err != nil {
		t.Fatal(err)
	}
	master := filepath.Join(keys, auth.MasterKeyFile)
	if _, _, err := auth.LoadOrGenerateMasterKey(master, true); err != nil {
		t.Fatal(err)
	}
	name := "T" + eventstoretest.RandomName()
	shared := append([]func(*main.Config){func(c *main.Config) {
		c.NATSURL, c.DatabaseURL = natsURL, pgURL
		c.NATSStream, c.NATSSubjectPrefix = name, "test."+name
		c.JWTPrivateKeyPath = filepath.Join(keys, auth.PrivateKeyFile)
		c.JWTPublicKeyPath = filepath.Join(keys, auth.PublicKeyFile)
		c.MasterKeyPath = master // every instance has the same
	}}, configure...)
	a := startServer(t, shared...)
	t.Cleanup(func() { eventstoretest.DeleteStreams(t, natsURL, name) })
	return a, startServer(t, shared...)
}

// Password guesses spread over two instances meet the throttle at the same
// count as against one: the counters live in a bucket both share.
func TestThrottlesHoldAcrossInstances(t *testing.T) {
	t.Parallel()
	const free = 3
	a, b := twoInstances(t, trustingLocalProxy(free))
	a.registerUser(t, "victim")
	a.registerUser(t, "other")
	// Until the first 429: blocks grow 1s, 2s, 4s, ... after the free
	// failures, so a throttle that counts shows within a few guesses more.
	guessesUntilBlocked := func(username, from string, instances ...*server) int {
		for i := 0; i < 4*free+8; i++ {
			s := instances[i%len(instances)]
			r := s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": username, "password": fmt.Sprint("guess-", i)},
				"X-Forwarded-For", from)
			if r.Status == 429 {
				return i + 1
			}
			if r.Status != 401 {
				t.Fatalf("guess %d at %s: status %d", i, username, r.Status)
			}
		}
		t.Fatalf("no 429 for %s", username)
		return 0
	}
	one := guessesUntilBlocked("other", "203.0.113.7", a)
	both := guessesUntilBlocked("victim", "203.0.113.66", a, b)
	// Counted per instance, alternating would take twice the free guesses
	// before either instance blocked: 2*free+2 at the least.
	if one > free+4 || both > free+4 {
		t.Fatalf("429 after %d guesses on one instance, %d over two: want each within %d", one, both, free+4)
	}
	t.Logf("429 after %d guesses on one instance, %d alternating over two", one, both)
}

// Two instances share one NATS server and one PostgreSQL database. Both
// answer commands and queries; each projection is applied by one of them at
// a time. The one applying the projections is stopped while writes go on:
// the other takes over within seconds, and the read model ends equal to a
// fresh rebuild from the log.
func TestTwoInstancesTakeOver(t *testing.T) {
	t.Parallel()
	a, b := twoInstances(t)

	leading := func(s *server) int {
		n := 0
		for _, r := range s.Projection.Runners() {
			if r.Leading() {
				n++
			}
		}
		return n
	}
	testkit.WaitFor(t, 2*time.Minute, "one instance applying each projection", func() bool {
		return leading(a)+leading(b) == len(a.Projection.Runners())
	})
	// The first started usually applies both; a busy machine may have
	// moved one lease already. Either way, b takes over what a applies.
	t.Logf("instance a applies %d projections, b %d", leading(a), leading(b))

	// Both answer, and a write through one is read through the other.
	tok := a.registerUser(t, "writer").AccessToken
	art := b.createArticle(t, tok, map[string]any{"title": "Through b", "is_published": true})
	expect(t, a.request(t, "GET", "/api/articles/"+art["id"].(string)+"/", "", nil), 200)
	bTok := b.login(t, "writer").AccessToken
	expect(t, a.request(t, "GET", "/api/auth/me/", bTok, nil), 200)

	// A retry with the same Idempotency-Key on the other instance gets the
	// first answer, and makes nothing twice.
	once := map[string]any{"title": "Once on either", "is_published": true}
	firstTry := expect(t, a.request(t, "POST", "/api/articles/", tok, once, "Idempotency-Key", "either-1"), 201)
	a.appendsNothing(t, "a retry on the other instance", func() {
		retry := expect(t, b.request(t, "POST", "/api/articles/", tok, once, "Idempotency-Key", "either-1"), 201)
		if retry.Header.Get("Idempotency-Replayed") != "true" || !bytes.Equal(retry.Body, firstTry.Body) {
			t.Fatalf("retry on b: %s (replayed %q), want a's answer %s", retry.Body, retry.Header.Get("Idempotency-Replayed"), firstTry.Body)
		}
	})

	// Writes go on through b while a stops.
	var wg sync.WaitGroup
	var writes, failures atomic.Int64
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := b.request(t, "POST", "/api/articles/", bTok, map[string]any{"title": fmt.Sprint("During the takeover ", i), "is_published": i%2 == 0})
			// 202: recorded, but not yet applied (nobody applies the read
			// model between a's stop and b's takeover).
			if r.Status == 201 || r.Status == 202 {
				writes.Add(1)
			} else {
				failures.Add(1)
			}
		}
	}()
	testkit.WaitFor(t, 2*time.Minute, "writes through b", func() bool { return writes.Load() >= 5 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	testkit.WaitFor(t, 2*time.Minute, "b to take over every projection", func() bool { return leading(b) == len(b.Projection.Runners()) })
	t.Logf("b took over %v after a stopped", time.Since(stopped).Round(time.Millisecond))
	testkit.WaitFor(t, 2*time.Minute, "b to be ready", func() bool { st, _ := b.readyz(t); return st == 200 })
	t.Logf("b was ready %v after a stopped", time.Since(stopped).Round(time.Millisecond))
	after := writes.Load()
	testkit.WaitFor(t, 2*time.Minute, "writes through b after the takeover", func() bool { return writes.Load() >= after+5 })
	close(stop)
	wg.Wait()
	if failures.Load() > 0 || writes.Load() == 0 {
		t.Fatalf("%d writes succeeded and %d failed during the takeover", writes.Load(), failures.Load())
	}

	// b's read model catches up, and equals a fresh rebuild from the log.
	head := b.head(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, r := range b.Projection.Runners() {
		if err := r.WaitFor(ctx, lastSeqOf(t, b, r.Projection())); err != nil {
			t.Fatal(err)
		}
	}
	list := expect(t, b.request(t, "GET", "/api/articles/?author=writer", bTok, nil), 200).Map(t)
	if list["count"] != float64(writes.Load()+2) {
		t.Fatalf("%v articles listed, %d written", list["count"], writes.Load()+2)
	}
	fresh := projectionstest.MustOpenPostgres(t)
	for _, p := range []projections.Projection{users.ReadModel{}, articles.ReadModel{}} {
		if _, err := projections.Rebuild(ctx, fresh, b.Store, p, projections.RebuildOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ps := []projections.Projection{users.ReadModel{}, articles.ReadModel{}}
	projectionstest.SameRows(t, fmt.Sprintf("the read model after the takeover (log at %d)", head),
		projectionstest.Snapshot(t, b.DB, ps...), projectionstest.Snapshot(t, fresh, ps...))
}

// lastSeqOf returns the sequence of the last event in the log that p reads.
func lastSeqOf(t testing.TB, s *server, p projections.Projection) uint64 {
	t.Helper()
	types := map[string]bool{}
	for _, a := range p.AggregateTypes() {
		types[a] = true
	}
	for seq := s.head(t); seq > 0; seq-- {
		rec, err := s.Store.Get(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if types[rec.Stream.Type] {
			return seq
		}
	}
	return 0
}

// The signing keys are one set every instance reads from NATS: a token
// issued by one is accepted by the other; `inkwell keys rotate` adds a key
// that both publish at once and sign with from its time on, while the
// tokens of the key before it stay valid.
func TestKeysSharedAndRotatedAcrossInstances(t *testing.T) {
	t.Parallel()
	master := newMasterKeyFile(t)
	a, b := twoInstances(t, func(c *main.Config) {
		c.JWTPrivateKeyPath, c.JWTPublicKeyPath, c.MasterKeyPath = "", "", master
	})
	kids := func(s *server) []string {
		var set struct{ Keys []struct{ Kid string } }
		expect(t, s.request(t, "GET", "/.well-known/jwks.json", "", nil), 200).JSON(t, &set)
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.Kid)
		}
		sort.Strings(out)
		return out
	}
	if ka, kb := kids(a), kids(b); len(ka) != 1 || fmt.Sprint(ka) != fmt.Sprint(kb) {
		t.Fatalf("instance a publishes %v, b %v: want the same one key", ka, kb)
	}
	old := a.registerUser(t, "keeper")
	expect(t, b.request(t, "GET", "/api/auth/me/", old.AccessToken, nil), 200)

	var out, errs bytes.Buffer
	env := map[string]string{
		"INKWELL_NATS_URL": a.Config.NATSURL, "INKWELL_NATS_STREAM": a.Config.NATSStream,
		"INKWELL_NATS_SUBJECT_PREFIX": a.Config.NATSSubjectPrefix, "INKWELL_MASTER_KEY_PATH": master,
		"INKWELL_DATA_DIR": t.TempDir(),
	}
	if err := main.Run(context.Background(), []string{"keys", "rotate", "--in", "1s"}, func(k string) string { return env[k] }, nil, &out, &errs); err != nil {
		t.Fatalf("keys rotate: %v: %s", err, errs.String())
	}
	var added string
	if _, err := fmt.Sscanf(out.String(), "added %s", &added); err != nil {
		t.Fatalf("keys rotate said %q", out.String())
	}
	for _, s := range []*server{a, b} {
		testkit.WaitFor(t, time.Minute, "both keys published", func() bool { return len(kids(s)) == 2 })
		testkit.WaitFor(t, time.Minute, "the new key signing", func() bool { return kidOf(t, s.login(t, "keeper").AccessToken) == added })
	}
	fresh := b.login(t, "keeper").AccessToken
	for _, s := range []*server{a, b} {
		expect(t, s.request(t, "GET", "/api/auth/me/", old.AccessToken, nil), 200)
		expect(t, s.request(t, "GET", "/api/auth/me/", fresh, nil), 200)
	}
	out.Reset()
	if err := main.Run(context.Background(), []string{"keys", "list"}, func(k string) string { return env[k] }, nil, &out, &errs); err != nil {
		t.Fatalf("keys list: %v: %s", err, errs.String())
	}
	if !strings.Contains(out.String(), added+"\tsigning") || !strings.Contains(out.String(), "\tverifying\t") {
		t.Fatalf("keys list: %s", out.String())
	}
}

// kidOf returns the key id in a token's header.
func kidOf(t *testing.T, token string) string {
	t.Helper()
	header, _, _ := strings.Cut(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Kid string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// A rotation publishes the new key at least one lifetime of the JWKS in a
// verifier's cache (its Cache-Control max-age) before the key signs: a
// verifier that fetched the key set just before the rotation knows the new
// key before any token is signed with it. A shorter --in is said.
func TestRotationNoticeCoversTheJWKSCache(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	r := expect(t, s.request(t, "GET", "/.well-known/jwks.json", "", nil), 200)
	var maxAge int
	if _, err := fmt.Sscanf(r.Header.Get("Cache-Control"), "public, max-age=%d", &maxAge); err != nil {
		t.Fatalf("Cache-Control %q: %v", r.Header.Get("Cache-Control"), err)
	}

	env := map[string]string{"INKWELL_DATA_DIR": t.TempDir()}
	run := func(args ...string) (string, string) {
		var out, errs bytes.Buffer
		if err := main.Run(context.Background(), args, func(k string) string { return env[k] }, nil, &out, &errs); err != nil {
			t.Fatalf("%v: %v: %s", args, err, errs.String())
		}
		return out.String(), errs.String()
	}
	run("keys", "init")
	before := time.Now()
	out, _ := run("keys", "rotate")
	var kid, from string
	if _, err := fmt.Sscanf(out, "added %s (signs from %s", &kid, &from); err != nil {
		t.Fatalf("keys rotate said %q", out)
	}
	signs, err := time.Parse(time.RFC3339, strings.TrimSuffix(from, ")"))
	if err != nil {
		t.Fatal(err)
	}
	if notice := signs.Sub(before); notice < time.Duration(maxAge)*time.Second {
		t.Fatalf("the new key signs %v after the rotation, less than the JWKS's cache lifetime of %ds", notice.Round(time.Second), maxAge)
	}
	if _, errs := run("keys", "rotate", "--in", "10s"); !strings.Contains(errs, "shorter than the JWKS's cache lifetime") {
		t.Fatalf("a rotation with 10s of notice said nothing of it: %q", errs)
	}
}
