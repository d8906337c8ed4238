package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	main "inkwell/cmd/inkwell"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/eventstore/eventstoretest"
	"inkwell/faults"
	"inkwell/testkit"
)

// natsBehindProxy starts a NATS server listening on a port of its own, and
// a fault proxy in front of it; the URL reaches the server through the
// proxy.
func natsBehindProxy(t *testing.T) (string, *faults.Proxy) {
	t.Helper()
	addr, token := eventstoretest.MustStartListening(t)
	p := faults.StartProxy(t, addr)
	return "nats://" + token + "@" + p.Addr(), p
}

// readyz returns /readyz's status and checks.
func (s *server) readyz(t testing.TB) (int, map[string]string) {
	t.Helper()
	r := s.request(t, "GET", "/readyz", "", nil)
	var body struct{ Checks map[string]string }
	r.JSON(t, &body)
	return r.Status, body.Checks
}

// expectUnavailable fails unless r is a 503 naming dependency, with
// Retry-After.
func expectUnavailable(t testing.TB, r response, dependency string) {
	t.Helper()
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", r.Status, r.Body)
	}
	if got := r.Map(t)["dependency"]; got != dependency {
		t.Fatalf("dependency %v, want %s: %s", got, dependency, r.Body)
	}
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("a 503 without Retry-After")
	}
}

// timed runs fn and logs how long it took.
func timed(t testing.TB, what string, fn func()) {
	t.Helper()
	start := time.Now()
	fn()
	t.Logf("%s: answered in %v", what, time.Since(start).Round(time.Millisecond))
}

// countingLog is a logger that counts its lines by message.
type countingLog struct {
	mu    sync.Mutex
	lines map[string]int
}

func (c *countingLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, line := range strings.Split(strings.TrimSpace(string(p)), "\n") {
		if _, rest, ok := strings.Cut(line, "msg="); ok {
			msg := rest
			if strings.HasPrefix(msg, `"`) {
				msg, _, _ = strings.Cut(msg[1:], `"`)
			} else {
				msg, _, _ = strings.Cut(msg, " ")
			}
			c.lines[msg]++
		}
	}
	return len(p), nil
}

func (c *countingLog) count(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lines[msg]
}

// An append whose acknowledgement is lost (the connection is cut right
// after the server received it) is not a conflict: the article exists, the
// create answers 201 with it, its slug stays claimed (the next article of
// that title gets "-2"), and the read model keeps working.
func TestLostAcknowledgementOfACreate(t *testing.T) {
	t.Parallel()
	natsURL, p := natsBehindProxy(t)
	s := startServer(t, func(c *main.Config) { c.NATSURL = natsURL })
	tok := s.registerUser(t, "writer").AccessToken

	cut := p.CutAfter([]byte("HPUB inkwell.events.article."))
	first := s.createArticle(t, tok, map[string]any{"title": "Same Title", "is_published": true})
	select {
	case <-cut:
	default:
		t.Fatal("the proxy never cut the connection: the fault was not injected")
	}
	second := s.createArticle(t, tok, map[string]any{"title": "Same Title", "is_published": true})
	if first["slug"] != "same-title" || second["slug"] != "same-title-2" {
		t.Fatalf("slugs %v and %v, want same-title and same-title-2", first["slug"], second["slug"])
	}
	for _, a := range []map[string]any{first, second} {
		got := expect(t, s.request(t, "GET", "/api/articles/"+a["slug"].(string)+"/", "", nil), 200).Map(t)
		if got["id"] != a["id"] {
			t.Fatalf("%s is %v, want %v", a["slug"], got["id"], a["id"])
		}
	}
	created := 0
	for seq := s.head(t); seq > 0; seq-- {
		if rec, err := s.Store.Get(context.Background(), seq); err == nil && rec.Type == "article.created" {
			created++
		}
	}
	if created != 2 {
		t.Fatalf("%d article.created events in the log, want 2", created)
	}
	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200", func() bool { st, _ := s.readyz(t); return st == 200 })
}

// With its NATS server unreachable, Inkwell answers what needs the event
// log with a fast 503 naming it (reads of the read model go on), says so in
// /readyz (logging the change once), and recovers by itself when the server
// is back. A frozen server (the connection open, nothing answered) is a
// 503 too, in bounded time.
func TestEventLogDownIsA503(t *testing.T) {
	t.Parallel()
	natsURL, p := natsBehindProxy(t)
	logs := &countingLog{lines: map[string]int{}}
	s := startServerLogging(t, slog.New(slog.NewTextHandler(logs, nil)), func(c *main.Config) { c.NATSURL = natsURL })
	tok := s.registerUser(t, "writer").AccessToken
	s.createArticle(t, tok, map[string]any{"title": "Before", "is_published": true})

	// Every probe's failing checks, in order: the log must say "not ready"
	// once per change of them, and "ready" once per return to none.
	var changes, recoveries int
	last := "unprobed"
	probe := func() (int, map[string]string) {
		st, checks := s.readyz(t)
		var failing []string
		for name, v := range checks {
			if v != "ok" {
				failing = append(failing, name)
			}
		}
		slices.Sort(failing)
		key := strings.Join(failing, ",")
		switch {
		case key == last:
		case key == "":
			recoveries++
		default:
			changes++
		}
		last = key
		return st, checks
	}
	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200 before the fault", func() bool { st, _ := probe(); return st == 200 })

	p.Refuse(true)
	p.Cut()
	timed(t, "create with the log unreachable", func() {
		expectUnavailable(t, s.request(t, "POST", "/api/articles/", tok, map[string]any{"title": "During"}), "event_log")
	})
	timed(t, "authenticated read with the log unreachable", func() {
		expectUnavailable(t, s.request(t, "GET", "/api/auth/me/", tok, nil), "event_log")
	})
	expect(t, s.request(t, "GET", "/api/articles/", "", nil), 200)
	for i := 0; i < 5; i++ {
		if st, checks := probe(); st != 503 || checks["event_log"] == "ok" {
			t.Fatalf("readyz %d %v with the log unreachable", st, checks)
		}
	}
	if n := logs.count("not ready"); n != changes || n >= 5 {
		t.Fatalf("%d 'not ready' log lines for 5 failing probes whose failing checks changed %d times", n, changes)
	}

	p.Refuse(false)
	testkit.WaitFor(t, 2*time.Minute, "writes to work again", func() bool {
		return s.request(t, "POST", "/api/articles/", tok, map[string]any{"title": "After"}).Status == 201
	})
	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200", func() bool { st, _ := probe(); return st == 200 })
	if n, m := logs.count("ready"), logs.count("not ready"); n != recoveries || m != changes {
		t.Fatalf("%d 'ready' and %d 'not ready' log lines, want %d and %d (one per change of readiness)", n, m, recoveries, changes)
	}

	p.Freeze()
	timed(t, "authenticated read with the log frozen", func() {
		expectUnavailable(t, s.request(t, "GET", "/api/auth/me/", tok, nil), "event_log")
	})
	p.Thaw()
	testkit.WaitFor(t, 2*time.Minute, "reads through the log to work again", func() bool {
		return s.request(t, "GET", "/api/auth/me/", tok, nil).Status == 200
	})
}

// serve with an external NATS server creates the data directory (for the
// SQLite read model and the keys) instead of failing to open SQLite.
func TestExternalLogCreatesTheDataDirectory(t *testing.T) {
	t.Parallel()
	natsURL, _ := natsBehindProxy(t)
	dir := filepath.Join(t.TempDir(), "not", "there", "yet")
	s := startServer(t, func(c *main.Config) { c.NATSURL = natsURL; c.DataDir = dir })
	s.registerUser(t, "writer")
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory %v (%v), want mode 0700", fi, err)
	}
}

// An instance whose write the log refused is ready again once the cause is
// gone, with no write reaching it: behind a load balancer following /readyz
// it gets none while it is not ready.
func TestReadyAgainWithoutTrafficOnceTheLogTakesWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := startServer(t)
	tok := s.registerUser(t, "refused")
	s.createArticle(t, tok.AccessToken, map[string]any{"title": "Before", "content": "Written."})
	js := s.Store.JetStream()
	st, err := js.Stream(ctx, "INKWELL")
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	was := info.Config
	// The stream refuses new events: it is full by a limit of its own.
	full := was
	full.MaxMsgs, full.Discard = int64(info.State.Msgs), jetstream.DiscardNew
	if _, err := js.UpdateStream(ctx, full); err != nil {
		t.Fatal(err)
	}
	expectUnavailable(t, s.request(t, "POST", "/api/articles/", tok.AccessToken, map[string]any{"title": "Refused", "content": "Not written."}), "event_log")
	if status, checks := s.readyz(t); status != http.StatusServiceUnavailable || !strings.Contains(checks["event_log"], "maximum messages") {
		t.Fatalf("/readyz with the log refusing writes: %d %v", status, checks)
	}

	// The limit goes; nothing writes. The refusal is held 5 seconds.
	if _, err := js.UpdateStream(ctx, was); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, time.Minute, "/readyz 200 with no write", func() bool {
		status, _ := s.readyz(t)
		return status == http.StatusOK
	})
	s.createArticle(t, tok.AccessToken, map[string]any{"title": "After", "content": "Written."})
}

// An article too large for the event log (a NATS server whose max_payload,
// or a stream whose max_msg_size, is below what Inkwell asks) is refused
// with a 413 naming its content, on Inkwell's surface and on Conduit's,
// for a creation and for an update: the same change would be refused
// every time, so it is not a 503 to retry. Nothing is written, and the
// instance stays ready.
func TestAnArticleTooLargeForTheLogIsRefusedWithA413(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := startServer(t)
	tok := s.registerUser(t, "verbose")
	short := s.createArticle(t, tok.AccessToken, map[string]any{"title": "Short", "content": "Written."})
	js := s.Store.JetStream()
	st, err := js.Stream(ctx, "INKWELL")
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	const limit = 256 << 10
	cfg.MaxMsgSize = limit
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	// 50,000 characters: a 50 kB body whose content takes 300 kB once
	// JSON-escaped and 400 kB once sealed.
	long := strings.Repeat("<", 50000)
	tooLarge := func(r response, field string) {
		t.Helper()
		if r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413: %.300s", r.Status, r.Body)
		}
		if !strings.Contains(string(r.Body), "too long for the event log") || !strings.Contains(string(r.Body), field) {
			t.Fatalf("the 413 does not name %s: %.500s", field, r.Body)
		}
	}
	r := s.request(t, "POST", "/api/articles/", tok.AccessToken, map[string]any{"title": "Long", "content": long})
	tooLarge(r, "content")
	if detail, _ := r.Map(t)["detail"].(string); !strings.Contains(detail, "at most 262144") {
		t.Errorf("detail %q does not give the log's limit", detail)
	}
	if errs, _ := r.Map(t)["errors"].(map[string]any); errs["content"] == nil {
		t.Errorf("errors %v, want content", errs)
	}
	tooLarge(s.request(t, "PATCH", "/api/articles/"+short["id"].(string)+"/", tok.AccessToken, map[string]any{"content": long}), "content")
	c := conduit{s}
	r = c.do(t, "POST", "/articles", tok.AccessToken, map[string]any{"article": map[string]any{
		"title": "Long", "description": "Long.", "body": long, "tagList": []string{}}})
	tooLarge(r, "body")
	if errs := conduitErrors(t, r); errs["body"] == nil {
		t.Errorf("Conduit errors %v, want body", errs)
	}

	if status, checks := s.readyz(t); status != http.StatusOK {
		t.Fatalf("/readyz after changes too large: %d %v", status, checks)
	}
	got := s.request(t, "GET", "/api/articles/"+short["slug"].(string)+"/", tok.AccessToken, nil)
	if body := expect(t, got, http.StatusOK).Map(t); body["content"] != "Written." {
		t.Errorf("the article's content is %.80v after a refused update", body["content"])
	}
	list := expect(t, s.request(t, "GET", "/api/articles/?search=Long", "", nil), http.StatusOK)
	if strings.Contains(string(list.Body), `"title":"Long"`) {
		t.Errorf("a refused article is listed: %.300s", list.Body)
	}
}

// A server whose event log takes messages smaller than the largest Inkwell
// may write (eventstore.MinMessageLimit; here a NATS server at its default
// max_payload, 1 MiB) says so when it starts, with the setting to change;
// on the embedded log, which takes them, it says nothing of it.
func TestStartUpWarnsOfALogThatCannotTakeEveryEvent(t *testing.T) {
	t.Parallel()
	const warning = "set max_payload to 4MB"
	url := eventstoretest.MustStartWithMaxPayload(t, 1<<20)
	_, logs := startServerLogs(t, slog.LevelWarn, func(c *main.Config) { c.NATSURL = url })
	if !strings.Contains(logs.String(), warning) || !strings.Contains(logs.String(), "limit=1048576") {
		t.Errorf("start-up on a NATS server whose max_payload is 1 MiB does not warn of it:\n%s", logs)
	}
	_, logs = startServerLogs(t, slog.LevelWarn)
	if strings.Contains(logs.String(), warning) {
		t.Errorf("start-up on the embedded log warns of its message size:\n%s", logs)
	}
}

// On NATS servers that take eventstore.MinMessageLimit, as the documentation
// asks, the largest article a client may send (every field at its limit,
// made of characters the log escapes) is stored, and the answer kept for
// a retry with the same Idempotency-Key is replayed, on both surfaces.
func TestTheLargestArticleWithAnIdempotencyKey(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *main.Config) {
		c.NATSURL = eventstoretest.MustStartWithMaxPayload(t, eventstore.MinMessageLimit)
	})
	tok := s.registerUser(t, "prolix")
	tags := make([]string, domain.MaxTags)
	for i := range tags {
		tags[i] = fmt.Sprintf("%s%02d", strings.Repeat("<", domain.MaxTagNameLen-2), i)
	}
	content, excerpt := strings.Repeat("<", domain.MaxContentLen), strings.Repeat("<", domain.MaxExcerptLen)
	cover := "https://example.com/" + strings.Repeat("a", domain.MaxURLLen-len("https://example.com/"))
	for _, c := range []struct {
		surface, path string
		body          map[string]any
		scheme        string
	}{
		// Conduit's creates its tags; Inkwell's names them.
		{"conduit", conduitBase + "/articles", map[string]any{"article": map[string]any{"title": strings.Repeat(">", domain.MaxTitleLen),
			"body": content, "description": excerpt, "tagList": tags}}, "Token "},
		{"inkwell", "/api/articles/", map[string]any{"title": strings.Repeat("<", domain.MaxTitleLen), "content": content,
			"excerpt": excerpt, "tags": tags, "cover_image": cover, "is_published": true}, "Bearer "},
	} {
		key := "largest-" + c.surface
		// Sent unescaped, as a client may: 200 kB of body.
		var body bytes.Buffer
		enc := json.NewEncoder(&body)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(c.body); err != nil {
			t.Fatal(err)
		}
		first := s.request(t, "POST", c.path, "", body.Bytes(), "Authorization", c.scheme+tok.AccessToken, "Idempotency-Key", key)
		if first.Status != http.StatusCreated {
			t.Fatalf("%s: the largest article: status %d: %.500s", c.surface, first.Status, first.Body)
		}
		again := s.request(t, "POST", c.path, "", body.Bytes(), "Authorization", c.scheme+tok.AccessToken, "Idempotency-Key", key)
		if again.Status != http.StatusCreated || again.Header.Get("Idempotency-Replayed") != "true" || !bytes.Equal(again.Body, first.Body) {
			t.Fatalf("%s: the retry: status %d, Idempotency-Replayed %q, same body %t: %.300s", c.surface, again.Status,
				again.Header.Get("Idempotency-Replayed"), bytes.Equal(again.Body, first.Body), again.Body)
		}
	}
}
