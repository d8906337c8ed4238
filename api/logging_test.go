package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"inkwell/api"
	"inkwell/api/mock"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"inkwell/testkit"
)

// jsonLogger logs every level as JSON lines to w.
func jsonLogger(w *testkit.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// eachLogLine calls fn with every line logged to logs so far, decoded; the
// test fails on a line that is not JSON.
func eachLogLine(t *testing.T, logs *testkit.Buffer, fn func(line string, rec map[string]any)) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		fn(line, rec)
	}
}

// Every line logged while a request is handled carries the request's id:
// an internal error, an authentication failure, a write the read model
// lags behind, and the access log line of each.
func TestEveryLogLineOfARequestNamesIt(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	f := newFakeServer(t, func(f *fakeServer) {
		lagging(f)
		f.deps.Logger = jsonLogger(&logs)
		// An error Inkwell does not know: an internal error.
		f.reads.ListArticlesFn = func(context.Context, articles.Filter) (readmodels.ListPage[articles.View], error) {
			return readmodels.ListPage[articles.View]{}, errors.New("the disk caught fire")
		}
		f.cmds.CreateArticle = mock.Handler[commands.CreateArticle, commands.Result](func(context.Context, commands.CreateArticle) (commands.Result, error) {
			return commands.Result{ID: articleID, Seq: 42, Version: 1}, nil
		})
	})
	ids := map[string]bool{}
	send := func(method, path, token, body string, status int) {
		t.Helper()
		rec := f.serve(f.request(method, path, body, token))
		if rec.Code != status {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, status, rec.Body)
		}
		ids[rec.Header().Get(api.RequestIDHeader)] = true
	}
	send("GET", "/api/articles/", "", "", 500)
	send("GET", "/api/articles/", "not-a-token", "", 401)
	send("POST", "/api/articles/", f.token, `{"title": "Lagging"}`, 202)

	messages := map[string]bool{}
	eachLogLine(t, &logs, func(line string, rec map[string]any) {
		messages[rec["msg"].(string)] = true
		if id, _ := rec["request_id"].(string); !ids[id] {
			t.Errorf("a line without the request's id: %s", line)
		}
	})
	for _, msg := range []string{"internal error", "authentication failed", "read model behind the write", "request"} {
		if !messages[msg] {
			t.Errorf("no %q line was logged: %s", msg, logs.String())
		}
	}
}

// recordedStatuses is a metrics observer that keeps the statuses it sees.
type recordedStatuses struct {
	mu       sync.Mutex
	statuses []int
}

func (o *recordedStatuses) ObserveHTTP(route, method string, status int, took time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.statuses = append(o.statuses, status)
}

// A request whose client went away is recorded as 499 (in the access log
// and the metrics), not as a failure of the server or of a dependency.
func TestClientGoneIsNotAServerError(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	obs := &recordedStatuses{}
	f := newFakeServer(t, func(f *fakeServer) {
		f.deps.Logger, f.deps.Observer = jsonLogger(&logs), obs
		// The list is answered when its caller gives up, with what a
		// database says of a cancelled statement.
		f.reads.ListArticlesFn = func(ctx context.Context, _ articles.Filter) (readmodels.ListPage[articles.View], error) {
			<-ctx.Done()
			return readmodels.ListPage[articles.View]{}, &domain.UnavailableError{Dependency: domain.DependencyDatabase, Err: ctx.Err()}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/api/articles/", nil).WithContext(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.serve(req)
	}()
	cancel()
	<-done
	if len(obs.statuses) != 1 || obs.statuses[0] != api.StatusClientClosedRequest {
		t.Fatalf("recorded statuses %v, want [499]", obs.statuses)
	}
	eachLogLine(t, &logs, func(line string, rec map[string]any) {
		if rec["level"] != "INFO" && rec["level"] != "DEBUG" {
			t.Errorf("a client that went away was logged as %v: %s", rec["level"], line)
		}
	})
}
