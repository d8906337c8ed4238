package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"inkwell/api"
	"inkwell/api/mock"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels/articles"
)

// memIdempotency is an IdempotencyStore in memory, with the JetStream
// bucket's semantics (create if absent, update at a revision).
type memIdempotency struct {
	mu   sync.Mutex
	vals map[string][]byte
	revs map[string]uint64
	rev  uint64
}

func newMemIdempotency() *memIdempotency {
	return &memIdempotency{vals: map[string][]byte{}, revs: map[string]uint64{}}
}

func (m *memIdempotency) Create(_ context.Context, key string, value []byte) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.vals[key]; ok {
		return 0, false, nil
	}
	m.rev++
	m.vals[key], m.revs[key] = append([]byte(nil), value...), m.rev
	return m.rev, true, nil
}

func (m *memIdempotency) Get(_ context.Context, key string) ([]byte, uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.vals[key]
	return v, m.revs[key], ok, nil
}

func (m *memIdempotency) Update(_ context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.revs[key] != rev {
		return 0, false, nil
	}
	m.rev++
	m.vals[key], m.revs[key] = append([]byte(nil), value...), m.rev
	return m.rev, true, nil
}

func (m *memIdempotency) all() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]byte
	for _, v := range m.vals {
		out = append(out, v)
	}
	return out
}

// idemFixture is an API server whose create-article command is scripted,
// with two users.
type idemFixture struct {
	*fakeServer
	store  *memIdempotency
	tokens map[string]string // user name → access token

	mu     sync.Mutex
	calls  int
	ids    []string // the attempt's first aggregate id, per call
	create func(ctx context.Context) (commands.Result, error)
}

func newIdemFixture(t *testing.T) *idemFixture {
	t.Helper()
	f := &idemFixture{store: newMemIdempotency(), tokens: map[string]string{}}
	f.create = func(ctx context.Context) (commands.Result, error) {
		id, err := commands.NewUUID()
		if a := domain.AttemptFrom(ctx); a != nil {
			id = a.NewID("id")
		}
		return commands.Result{ID: id, Seq: 1, Version: 1}, err
	}
	f.fakeServer = newFakeServer(t, func(fs *fakeServer) {
		for i, name := range []string{"ann", "bob"} {
			f.tokens[name] = fs.addUser("0190f3f5-0000-7000-8000-00000000001"+string(rune('1'+i)), name)
		}
		fs.deps.Idempotency = f.store
		// Any article asked for by id, titled after its id.
		fs.reads.ArticleByRefFn = func(_ context.Context, _ domain.Actor, ref string) (articles.View, error) {
			return articles.View{ID: ref, Title: "The title of " + ref, Slug: "s-" + ref, Version: 1}, nil
		}
		fs.cmds.CreateArticle = mock.Handler[commands.CreateArticle, commands.Result](func(ctx context.Context, c commands.CreateArticle) (commands.Result, error) {
			f.mu.Lock()
			f.calls++
			create := f.create
			if a := domain.AttemptFrom(ctx); a != nil {
				f.ids = append(f.ids, peekID(a))
			}
			f.mu.Unlock()
			return create(ctx)
		})
	})
	return f
}

// peekID returns an id the attempt draws, without drawing it: two attempts
// of one request return the same.
func peekID(a *domain.Attempt) string {
	return a.NextEventID(domain.StreamID{Type: "probe", ID: "x"})
}

func (f *idemFixture) post(t *testing.T, user, key, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := f.request("POST", "/api/articles/", body, f.tokens[user])
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return f.serve(req)
}

func (f *idemFixture) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// The same key and body get the first answer back, without running the
// command again; another body with that key is a 422; another user's key
// of the same name is another request.
func TestIdempotencyKeyReplaysTheFirstAnswer(t *testing.T) {
	t.Parallel()
	f := newIdemFixture(t)
	first := f.post(t, "ann", "key-1", `{"title": "One"}`)
	if first.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	again := f.post(t, "ann", "key-1", `{"title": "One"}`)
	if again.Code != first.Code || !bytes.Equal(again.Body.Bytes(), first.Body.Bytes()) || again.Header().Get("Location") != first.Header().Get("Location") {
		t.Fatalf("replay %d %s (Location %q), want the first answer %d %s (Location %q)",
			again.Code, again.Body, again.Header().Get("Location"), first.Code, first.Body, first.Header().Get("Location"))
	}
	if again.Header().Get("Idempotency-Replayed") != "true" || first.Header().Get("Idempotency-Replayed") != "" {
		t.Fatal("Idempotency-Replayed marks the replay, and only it")
	}
	if n := f.callCount(); n != 1 {
		t.Fatalf("the command ran %d times, want once", n)
	}

	other := f.post(t, "ann", "key-1", `{"title": "Two"}`)
	if other.Code != http.StatusUnprocessableEntity || decode[api.Problem](t, other).Errors["Idempotency-Key"] == "" {
		t.Fatalf("another body with the key: %d %s, want 422 naming Idempotency-Key", other.Code, other.Body)
	}
	if bob := f.post(t, "bob", "key-1", `{"title": "One"}`); bob.Code != http.StatusCreated || bob.Header().Get("Idempotency-Replayed") != "" {
		t.Fatalf("another user's key: %d, replayed %q", bob.Code, bob.Header().Get("Idempotency-Replayed"))
	}
	if n := f.callCount(); n != 2 {
		t.Fatalf("the command ran %d times, want twice (ann once, bob once)", n)
	}
	if plain := f.post(t, "ann", "", `{"title": "One"}`); plain.Code != http.StatusCreated || f.callCount() != 3 {
		t.Fatal("a request without a key runs every time")
	}
	for _, v := range f.store.all() {
		if bytes.Contains(v, []byte("The title of")) || bytes.Contains(v, []byte("key-1")) {
			t.Fatalf("the store holds an answer or a key in clear: %s", v)
		}
	}
}

// A retry while the first request runs is a 409; the first then answers.
func TestIdempotencyKeyInFlightIsAConflict(t *testing.T) {
	t.Parallel()
	f := newIdemFixture(t)
	entered, release := make(chan struct{}), make(chan struct{})
	f.create = func(ctx context.Context) (commands.Result, error) {
		close(entered)
		<-release
		return commands.Result{ID: domain.AttemptFrom(ctx).NewID("id"), Seq: 1, Version: 1}, nil
	}
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- f.post(t, "ann", "slow", `{"title": "Slow"}`) }()
	<-entered
	busy := f.post(t, "ann", "slow", `{"title": "Slow"}`)
	if busy.Code != http.StatusConflict || busy.Header().Get("Retry-After") == "" {
		t.Fatalf("retry in flight: %d %s, want 409 with Retry-After", busy.Code, busy.Body)
	}
	close(release)
	if first := <-done; first.Code != http.StatusCreated {
		t.Fatalf("first: %d %s", first.Code, first.Body)
	}
	if again := f.post(t, "ann", "slow", `{"title": "Slow"}`); again.Header().Get("Idempotency-Replayed") != "true" {
		t.Fatalf("after the first answered: %d, not a replay", again.Code)
	}
}

// A first attempt that failed with a 503 (its outcome maybe unknown) is not
// kept: the retry runs the command again as the same attempt, drawing the
// same ids, so that it finds what the first one recorded.
func TestIdempotencyKeyRetriesAFailedAttemptAsTheSameAttempt(t *testing.T) {
	t.Parallel()
	f := newIdemFixture(t)
	fail := true
	f.create = func(ctx context.Context) (commands.Result, error) {
		id := domain.AttemptFrom(ctx).NewID("id")
		if fail {
			fail = false
			return commands.Result{}, &domain.UnavailableError{Dependency: domain.DependencyEventLog, OutcomeUnknown: true}
		}
		return commands.Result{ID: id, Seq: 1, Version: 1}, nil
	}
	first := f.post(t, "ann", "retry", `{"title": "Retry"}`)
	if first.Code != http.StatusServiceUnavailable || decode[api.Problem](t, first).Dependency != "event_log" {
		t.Fatalf("first: %d %s, want 503 naming the event log", first.Code, first.Body)
	}
	second := f.post(t, "ann", "retry", `{"title": "Retry"}`)
	if second.Code != http.StatusCreated || second.Header().Get("Idempotency-Replayed") != "" {
		t.Fatalf("retry: %d %s, want a new run answered 201", second.Code, second.Body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.ids) != 2 || f.ids[0] != f.ids[1] {
		t.Fatalf("the attempts drew %v, want the same ids twice", f.ids)
	}
}

// A malformed key is a 400 and runs nothing.
func TestIdempotencyKeyMustBeWellFormed(t *testing.T) {
	t.Parallel()
	f := newIdemFixture(t)
	for _, key := range []string{`""`, strings.Repeat("k", 256), "a b", "caf\u00e9", `a"b`} {
		rec := f.post(t, "ann", key, `{"title": "x"}`)
		if rec.Code != http.StatusBadRequest || decode[api.Problem](t, rec).Errors["Idempotency-Key"] == "" {
			t.Errorf("key %q: %d %s, want 400 naming Idempotency-Key", key, rec.Code, rec.Body)
		}
	}
	req := f.request("POST", "/api/articles/", `{"title": "x"}`, f.tokens["ann"])
	req.Header.Add("Idempotency-Key", "one")
	req.Header.Add("Idempotency-Key", "two")
	rec := f.serve(req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("two keys: %d, want 400", rec.Code)
	}
	if n := f.callCount(); n != 0 {
		t.Fatalf("the command ran %d times", n)
	}
	if ok := f.post(t, "ann", `"quoted-sf-string"`, `{"title": "x"}`); ok.Code != http.StatusCreated {
		t.Fatalf("a key as a structured-field string: %d %s", ok.Code, ok.Body)
	}
}
