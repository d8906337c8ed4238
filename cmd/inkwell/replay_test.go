package main_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
)

// inkwell replay rebuilds the read models of a running server's data
// directory; the server answers from the new tables afterwards and keeps
// following the log.
func TestReplayBesideARunningServer(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	alice := s.registerUser(t, "alice")
	s.createArticle(t, alice.AccessToken, map[string]any{"title": "Before the replay", "content": "words"})
	noEnv := func(string) string { return "" }
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var stdout, stderr bytes.Buffer
	if err := main.Run(ctx, []string{"replay", "--data-dir", s.Config.DataDir}, noEnv, nil, &stdout, &stderr); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"users: 1 events in ", "articles: 2 events in ", "generation 2", "personal: 6 events in ", "replayed 5 read models in one pass over the log: 6 events"} {
		if !strings.Contains(out, want) {
			t.Errorf("replay output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "rebuilt projection") {
		t.Errorf("no progress logged on a non-terminal:\n%s", stderr.String())
	}
	for _, name := range []string{"users", "articles"} {
		st, err := s.DB.State(ctx, name)
		if err != nil || st.Generation != 2 {
			t.Fatalf("%s after replay: %+v (%v)", name, st, err)
		}
	}

	// Served from the new generation, which the live runners keep up to date.
	expect(t, s.request(t, "GET", "/api/auth/me/", alice.AccessToken, nil), http.StatusOK)
	s.createArticle(t, alice.AccessToken, map[string]any{"title": "After the replay", "content": "more words"})
	if n := s.articleCount(t, alice.AccessToken); n != 2 {
		t.Fatalf("%d articles listed after the replay, want 2", n)
	}

	// One projection; an unknown one.
	stdout.Reset()
	if err := main.Run(ctx, []string{"replay", "--data-dir", s.Config.DataDir, "--projection", "users"}, noEnv, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if out := stdout.String(); !strings.HasPrefix(out, "users: 1 events") || strings.Contains(out, "articles") {
		t.Fatalf("replay of users only:\n%s", out)
	}
	err := main.Run(ctx, []string{"replay", "--data-dir", s.Config.DataDir, "--projection", "nope"}, noEnv, nil, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), `no projection "nope"`) {
		t.Fatalf("unknown projection: %v", err)
	}
}
