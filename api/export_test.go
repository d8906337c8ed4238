package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"inkwell/api"
	"inkwell/api/mock"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/personal"
	"inkwell/testkit"
)

// history is an account's history as the fakes of the export hold it:
// sessions and articles in their keys' order, events by sequence.
type history struct {
	sessions []personal.Session
	articles []articles.Key
	gone     map[string]bool // articles deleted after their page was read
	events   []domain.Record
	head     uint64       // the log's head: events after it came after the request
	pages    atomic.Int64 // the pages read of it so far
}

// bigHistory is a history of the writer spanning several pages of every
// kind (the export reads 500 at a time), with ties in the sessions' start,
// an article deleted while the export runs, password changes whose hash
// must not show, and an event after the log's head.
func bigHistory(n int) *history {
	h := &history{gone: map[string]bool{}}
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		at := t0.Add(time.Duration(i/3) * time.Minute) // three sessions a start
		h.sessions = append(h.sessions, personal.Session{ID: fmt.Sprintf("s-%05d", i), UserID: writerID,
			Client: "curl", StartedAt: at, LastUsedAt: at, EndReason: ""})
		h.articles = append(h.articles, articles.Key{ID: fmt.Sprintf("a-%05d", i), CreatedAt: t0.Add(time.Duration(i/2) * time.Second)})
		seq := uint64(2*i + 1)
		var ev domain.Event
		if i%2 == 0 {
			bio := fmt.Sprintf("bio %d <&>", i)
			ev = &domain.UserProfileUpdated{Bio: &bio}
		} else {
			ev = &domain.UserPasswordChanged{PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$SECRET"}
		}
		h.events = append(h.events, domain.Record{ID: fmt.Sprintf("ev-%d", seq), Type: ev.EventType(), SchemaVersion: 2,
			Stream: domain.UserStream(writerID), Version: uint64(i + 1), Seq: seq, OccurredAt: t0.Add(time.Duration(i) * time.Second),
			ActorID: writerID, Event: ev})
	}
	h.gone["a-00777"] = true
	h.head = h.events[len(h.events)-2].Seq
	return h
}

// serveHistory makes f's fakes answer h: pages as the read models give them
// (after a key, up to a limit), articles as reads show them, events from
// the log. h.pages counts the pages read.
func serveHistory(f *fakeServer, h *history) {
	f.reads.WaitForProjectionFn = func(_ context.Context, name string, seq uint64) error {
		if name != "personal" || seq != h.head {
			return fmt.Errorf("waited for %s at %d, want personal at the head %d", name, seq, h.head)
		}
		return nil
	}
	f.reads.SessionsOfFn = func(_ context.Context, userID string, after *personal.Session, limit int) ([]personal.Session, error) {
		h.pages.Add(1)
		i := 0
		if after != nil {
			i = slices.IndexFunc(h.sessions, func(s personal.Session) bool { return s.ID == after.ID }) + 1
		}
		return slices.Clone(h.sessions[i:min(i+limit, len(h.sessions))]), nil
	}
	var author atomic.Value
	f.reads.ArticleKeysOfFn = func(_ context.Context, authorID string, after *articles.Key, limit int) ([]articles.Key, error) {
		h.pages.Add(1)
		author.Store(authorID)
		i := 0
		if after != nil {
			i = slices.IndexFunc(h.articles, func(a articles.Key) bool { return a.ID == after.ID }) + 1
		}
		return slices.Clone(h.articles[i:min(i+limit, len(h.articles))]), nil
	}
	f.reads.ArticleByRefFn = func(_ context.Context, viewer domain.Actor, ref string) (articles.View, error) {
		if viewer.ID != author.Load() {
			return articles.View{}, fmt.Errorf("%q's articles read as %q", author.Load(), viewer.ID)
		}
		if h.gone[ref] {
			return articles.View{}, domain.ErrArticleNotFound
		}
		v := article()
		v.ID, v.Title = ref, "Title of "+ref
		return v, nil
	}
	f.reads.FavoritesOfFn = func(_ context.Context, userID, after string, limit int) ([]articles.Favorite, error) {
		return nil, nil // the favorites' pages: TestExportHoldsFavoritesAndFollows
	}
	f.reads.EventSeqsOfFn = func(_ context.Context, userID string, after uint64, limit int) ([]uint64, error) {
		h.pages.Add(1)
		var out []uint64
		for _, r := range h.events {
			if r.Seq > after && len(out) < limit {
				out = append(out, r.Seq)
			}
		}
		return out, nil
	}
	f.deps.Events = &mock.EventLog{
		HeadFn: func(context.Context) (uint64, error) { return h.head, nil },
		GetFn: func(_ context.Context, seq uint64) (domain.Record, error) {
			for _, r := range h.events {
				if r.Seq == seq {
					return r, nil
				}
			}
			return domain.Record{}, fmt.Errorf("no event %d", seq)
		},
	}
	f.deps.Now = func() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }
}

// getFunc is the event log's Get.
type getFunc func(ctx context.Context, seq uint64) (domain.Record, error)

// getThrough makes the event log of f's fakes (see serveHistory) answer Get
// through get, which is handed the Get it replaces.
func getThrough(f *fakeServer, get func(ctx context.Context, seq uint64, next getFunc) (domain.Record, error)) {
	log := f.deps.Events.(*mock.EventLog)
	next := log.GetFn
	log.GetFn = func(ctx context.Context, seq uint64) (domain.Record, error) { return get(ctx, seq, next) }
}

// getExport asks f, behind a real HTTP server, for the export of its user
// and returns the response once its header came, for the test to read its
// body: a broken connection shows only to a real client.
func getExport(t *testing.T, f *fakeServer) *http.Response {
	t.Helper()
	srv := httptest.NewServer(f.srv)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/api/auth/me/export/", nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// An export spanning several pages of sessions, articles and events is
// whole and in order: every session, every article still there and every
// event up to the log's head when it was asked for, none twice, never a
// password hash; and the document, written piece by piece, is byte for
// byte what encoding/json makes of api.Export (the shape the old export
// built in memory, and the OpenAPI document describes).
func TestExportStreamsEveryPageInOrder(t *testing.T) {
	t.Parallel()
	h := bigHistory(1234)
	f := newFakeServer(t, func(f *fakeServer) { serveHistory(f, h) })
	rec := f.do("GET", "/api/auth/me/export/", "", true)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if cd := rec.Header().Get("Content-Disposition"); cd != `attachment; filename="inkwell-export.json"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if n := h.pages.Load(); n < 9 {
		t.Fatalf("the export read %d pages, want at least 3 of each kind", n)
	}
	body := rec.Body.Bytes()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var ex api.Export
	if err := dec.Decode(&ex); err != nil {
		t.Fatalf("the export is not an api.Export: %v", err)
	}
	again, err := json.Marshal(ex)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(append(again, '\n'), body) {
		t.Fatalf("the streamed document differs from encoding/json's (%d and %d bytes)", len(body), len(again)+1)
	}

	if ex.User.ID != writerID || !ex.ExportedAt.Equal(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("user %+v exported at %v", ex.User, ex.ExportedAt)
	}
	sessionID := func(s personal.Session) string { return s.ID }
	gotSessions, wantSessions := keys(ex.Sessions, nil, sessionID), keys(h.sessions, nil, sessionID)
	if !slices.Equal(gotSessions, wantSessions) {
		t.Errorf("%d sessions exported, want the %d in order", len(gotSessions), len(wantSessions))
	}
	gotArticles := keys(ex.Articles, nil, func(a api.ArticleResponse) string { return a.ID })
	wantArticles := keys(h.articles, func(a articles.Key) bool { return !h.gone[a.ID] }, func(a articles.Key) string { return a.ID })
	if !slices.Equal(gotArticles, wantArticles) {
		t.Errorf("%d articles exported, want the %d still there, in order", len(gotArticles), len(wantArticles))
	}
	gotEvents := keys(ex.Events, nil, func(e eventstore.EventView) uint64 { return e.Seq })
	wantEvents := keys(h.events, func(r domain.Record) bool { return r.Seq <= h.head }, func(r domain.Record) uint64 { return r.Seq })
	if !slices.Equal(gotEvents, wantEvents) {
		t.Errorf("%d events exported, want the %d up to the head, in order", len(gotEvents), len(wantEvents))
	}
	if bytes.Contains(body, []byte("SECRET")) || bytes.Contains(body, []byte("password_hash")) {
		t.Error("the export shows a password hash")
	}
}

// keys returns the key of each of items that keep keeps (nil: all), in
// order.
func keys[T, K any](items []T, keep func(T) bool, key func(T) K) []K {
	var out []K
	for _, it := range items {
		if keep == nil || keep(it) {
			out = append(out, key(it))
		}
	}
	return out
}

// An account with nothing but itself exports empty lists, not nulls.
func TestExportOfAnEmptyHistory(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(f *fakeServer) { serveHistory(f, &history{head: 7}) })
	rec := f.do("GET", "/api/auth/me/export/", "", true)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if !strings.HasSuffix(rec.Body.String(), `,"sessions":[],"articles":[],"comments":[],"favorites":[],"following":[],"events":[]}`+"\n") {
		t.Errorf("export %s", rec.Body)
	}
	if rec := f.do("GET", "/api/auth/me/export/", "", false); rec.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", rec.Code)
	}
}

// Before the first byte, a failure is answered as any request's: a problem,
// here a 503 with Retry-After naming the database.
func TestExportFailingBeforeItStartsIsAProblem(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(f *fakeServer) {
		serveHistory(f, bigHistory(10))
		f.reads.SessionsOfFn = func(context.Context, string, *personal.Session, int) ([]personal.Session, error) {
			return nil, &domain.UnavailableError{Dependency: domain.DependencyDatabase, Err: errors.New("down")}
		}
	})
	rec := f.do("GET", "/api/auth/me/export/", "", true)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if p := decode[api.Problem](t, rec); p.Dependency != domain.DependencyDatabase {
		t.Errorf("problem %+v", p)
	}
}

// A failure after the first bytes cannot change the status any more: the
// connection is dropped before the response ends, so that the client gets
// an error reading it (and what it read is no JSON document), never a cut
// document that looks whole; the server logs it as an error.
func TestExportFailingMidwayIsABrokenResponse(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	f := newFakeServer(t, func(f *fakeServer) {
		serveHistory(f, bigHistory(1234))
		f.deps.Logger = jsonLogger(&logs)
		getThrough(f, func(ctx context.Context, seq uint64, get getFunc) (domain.Record, error) {
			if seq > 1400 {
				return domain.Record{}, &domain.UnavailableError{Dependency: domain.DependencyEventLog, Err: errors.New("the log broke")}
			}
			return get(ctx, seq)
		})
	})
	resp := getExport(t, f)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("the client read a cut export of %d bytes without an error", len(body))
	}
	if len(body) < 100_000 || json.Valid(body) {
		t.Errorf("the client read %d bytes (valid JSON: %v) before the error %v", len(body), json.Valid(body), err)
	}
	testkit.WaitFor(t, 10*time.Second, "the abort logged", func() bool {
		return strings.Contains(logs.String(), `"level":"ERROR","msg":"export aborted after its first bytes`) &&
			strings.Contains(logs.String(), `"aborted":true`)
	})
}

// An export whose client stops reading, or that waits on a dependency that
// hangs, is ended once it has sent nothing for ExportStall, though it has
// no deadline of its own.
func TestExportThatMakesNoProgressIsEnded(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		big  bool // events big enough to fill the connection's buffers
	}{{"the client stops reading", true}, {"the log hangs", false}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs testkit.Buffer
			f := newFakeServer(t, func(f *fakeServer) {
				serveHistory(f, bigHistory(60))
				f.deps.Logger = jsonLogger(&logs)
				f.deps.ExportStall = 300 * time.Millisecond
				getThrough(f, func(ctx context.Context, seq uint64, get getFunc) (domain.Record, error) {
					if !c.big {
						<-ctx.Done()
						return domain.Record{}, ctx.Err()
					}
					r, err := get(ctx, seq)
					bio := strings.Repeat("x", 1<<20)
					r.Type, r.Event = "user.profile_updated", &domain.UserProfileUpdated{Bio: &bio}
					return r, err
				})
			})
			resp := getExport(t, f)
			testkit.WaitFor(t, 30*time.Second, "the export ended", func() bool {
				return strings.Contains(logs.String(), "export aborted: no progress for 300ms")
			})
			if _, err := io.ReadAll(resp.Body); err == nil {
				t.Error("the client read a whole export")
			}
		})
	}
}

// An export checks again, as time passes, that its caller's session is
// live: once it has ended (a logout, a password change, a disabled
// account), the download is cut, as a failure after the first bytes is.
func TestExportEndsWithItsSession(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	clock := testkit.NewClock(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	f := newFakeServer(t, func(f *fakeServer) {
		serveHistory(f, bigHistory(1234))
		f.deps.Logger = jsonLogger(&logs)
		f.deps.Now = clock.Now
		getThrough(f, func(ctx context.Context, seq uint64, get getFunc) (domain.Record, error) {
			if seq == 1001 { // half-way, the user logs out everywhere, and time passes
				f.ended.Store(true)
				clock.Add(time.Minute)
			}
			return get(ctx, seq)
		})
	})
	resp := getExport(t, f)
	body, err := io.ReadAll(resp.Body)
	if err == nil || bytes.Contains(body, []byte(`"seq":1003`)) {
		t.Fatalf("the export went on after its session ended: %d bytes, %v", len(body), err)
	}
	testkit.WaitFor(t, 10*time.Second, "the abort logged", func() bool {
		return strings.Contains(logs.String(), "export aborted: the caller's session ended")
	})
}

// Exports run ExportConcurrency at a time, one per user: a second export of
// the same account is refused with 429 while the first runs, another
// account's with 503 while every slot is taken, each with Retry-After; a
// slot is free again once its export ends.
func TestExportsAreBounded(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}), make(chan struct{})
	var other string
	f := newFakeServer(t, func(f *fakeServer) {
		serveHistory(f, bigHistory(3))
		f.deps.ExportConcurrency = 1
		var once atomic.Bool
		getThrough(f, func(ctx context.Context, seq uint64, get getFunc) (domain.Record, error) {
			if once.CompareAndSwap(false, true) {
				close(started)
				<-release
			}
			return get(ctx, seq)
		})
		other = f.addUser("0190f3f5-0000-7000-8000-000000000002", "other")
	})
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- f.do("GET", "/api/auth/me/export/", "", true) }()
	<-started
	for _, c := range []struct {
		token  string
		status int
	}{{f.token, http.StatusTooManyRequests}, {other, http.StatusServiceUnavailable}} {
		rec := f.serve(f.request("GET", "/api/auth/me/export/", "", c.token))
		if rec.Code != c.status || rec.Header().Get("Retry-After") != "10" {
			t.Errorf("status %d, Retry-After %q, want %d after 10 s: %s", rec.Code, rec.Header().Get("Retry-After"), c.status, rec.Body)
		}
	}
	close(release)
	if rec := <-done; rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("the first export: %d %s", rec.Code, rec.Body)
	}
	if rec := f.serve(f.request("GET", "/api/auth/me/export/", "", other)); rec.Code != http.StatusOK {
		t.Errorf("an export once the slot is free: %d %s", rec.Code, rec.Body)
	}
}
