package api_test

import (
	"bytes"
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
	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/queries"
	"inkwell/readmodels"
)

// brokenReads fails every article list with an error Inkwell does not
// know: an internal error.
type brokenReads struct{ noReads }

func (brokenReads) ListArticles(context.Context, readmodels.ArticleFilter) (readmodels.ListPage[readmodels.ArticleView], error) {
	return readmodels.ListPage[readmodels.ArticleView]{}, errors.New("the disk caught fire")
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Every line logged while a request is handled carries the request's id:
// an internal error, an authentication failure, a write the read model
// lags behind, and the access log line of each.
func TestEveryLogLineOfARequestNamesIt(t *testing.T) {
	keys, _, err := auth.LoadOrGenerateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(keys, auth.DefaultTokenConfig(), nil)
	var user domain.User
	user.Apply(domain.Record{Version: 1, Seq: 1, Event: &domain.UserRegistered{UserID: "0190f3f5-0000-7000-8000-000000000001", Username: "writer", IsActive: true}})
	qs := &queries.Queries{
		Authenticate: handlerFunc[queries.Authenticate, *domain.User](func(context.Context, queries.Authenticate) (*domain.User, error) {
			return &user, nil
		}),
	}
	cmds := &commands.Handlers{
		CreateArticle: handlerFunc[commands.CreateArticle, commands.Result](func(context.Context, commands.CreateArticle) (commands.Result, error) {
			return commands.Result{ID: "0190f3f5-0000-7000-8000-0000000000a1", Seq: 42, Version: 1}, nil
		}),
	}
	var logs lockedBuffer
	reads := brokenReads{noReads{t}}
	srv := api.NewServer(api.Deps{
		Commands: cmds, Queries: qs, Users: reads, Articles: reads, Categories: reads, Tags: reads, AdminUsers: reads, ReadModels: laggingModels{},
		Tokens: tokens, Keys: keys, ReadYourWritesTimeout: 20 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	access, err := tokens.IssueAccess(user.ID(), "0190f3f5-0000-7000-8000-0000000000e1", auth.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	send := func(method, path, token, body string, status int) {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != status {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, status, rec.Body)
		}
		ids[rec.Header().Get(api.RequestIDHeader)] = true
	}
	send("GET", "/api/articles/", "", "", 500)
	send("GET", "/api/articles/", "not-a-token", "", 401)
	send("POST", "/api/articles/", access.Token, `{"title": "Lagging"}`, 202)

	messages := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(logs.buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		messages[rec["msg"].(string)] = true
		if id, _ := rec["request_id"].(string); !ids[id] {
			t.Errorf("a line without the request's id: %s", line)
		}
	}
	for _, msg := range []string{"internal error", "authentication failed", "read model behind the write", "request"} {
		if !messages[msg] {
			t.Errorf("no %q line was logged: %s", msg, logs.buf.String())
		}
	}
}

// slowReads answers a list when its caller gives up, with what a database
// says of a cancelled statement.
type slowReads struct{ noReads }

func (slowReads) ListArticles(ctx context.Context, _ readmodels.ArticleFilter) (readmodels.ListPage[readmodels.ArticleView], error) {
	<-ctx.Done()
	return readmodels.ListPage[readmodels.ArticleView]{}, &domain.UnavailableError{Dependency: domain.DependencyDatabase, Err: ctx.Err()}
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
	keys, _, err := auth.LoadOrGenerateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	obs := &recordedStatuses{}
	srv := api.NewServer(api.Deps{
		Commands: &commands.Handlers{}, Queries: &queries.Queries{}, Users: slowReads{noReads{t}}, Articles: slowReads{noReads{t}}, Categories: slowReads{noReads{t}}, Tags: slowReads{noReads{t}}, AdminUsers: slowReads{noReads{t}},
		ReadModels: laggingModels{}, Observer: obs, Keys: keys, Tokens: auth.NewTokens(keys, auth.DefaultTokenConfig(), nil),
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("GET", "/api/articles/", nil).WithContext(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}()
	cancel()
	<-done
	if len(obs.statuses) != 1 || obs.statuses[0] != api.StatusClientClosedRequest {
		t.Fatalf("recorded statuses %v, want [499]", obs.statuses)
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if rec["level"] != "INFO" && rec["level"] != "DEBUG" {
			t.Errorf("a client that went away was logged as %v: %s", rec["level"], line)
		}
	}
}
