package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"inkwell/domain"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	ID, Event string
	Data      map[string]any
}

// readSSE reads n events from an event stream (skipping comments).
func readSSE(t testing.TB, body io.Reader, n int) []sseEvent {
	t.Helper()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out []sseEvent
	var cur sseEvent
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.ID != "" {
				out = append(out, cur)
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.ID = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			cur.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cur.Data); err != nil {
				t.Fatalf("event data %q: %v", line, err)
			}
		}
	}
	if len(out) < n {
		t.Fatalf("read %d events, want %d (%v)", len(out), n, sc.Err())
	}
	return out
}

func (s *server) openStream(t testing.TB, token, query string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("GET", s.URL+"/api/events/stream/"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestEventStream(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.createAdmin(t, "admin").AccessToken
	user := s.registerUser(t, "writer").AccessToken
	s.createArticle(t, user, map[string]any{"title": "Streamed"})
	head := s.head(t)

	expect(t, s.request(t, "GET", "/api/events/stream/", user, nil), 403)
	expect(t, s.request(t, "GET", "/api/events/stream/", "", nil), 401)
	expect(t, s.request(t, "GET", "/api/events/stream/?from=0", admin, nil), 422)

	resp := s.openStream(t, admin, "?from=1")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	events := readSSE(t, resp.Body, int(head))
	for i, e := range events {
		if e.ID != strconv.Itoa(i+1) || e.Data["seq"] != float64(i+1) || e.Data["type"] != e.Event {
			t.Fatalf("event %d: id %s, %v", i, e.ID, e.Data)
		}
		if e.Event == "user.registered" {
			data := e.Data["data"].(map[string]any)
			if _, leaked := data["password_hash"]; leaked || data["username"] == nil {
				t.Fatalf("user.registered shows %v", data)
			}
		}
	}
	// Live: an event appended now arrives.
	expect(t, s.request(t, "POST", "/api/tags/", user, map[string]string{"name": "live"}), 201)
	live := readSSE(t, resp.Body, 1)
	if live[0].Event != "claim.taken" && live[0].Event != "tag.created" {
		t.Fatalf("live event %v", live[0])
	}

	// The aggregate filter knows every aggregate of the catalogue, and no
	// other: filtered by all of them, the stream is the whole log.
	var all []string
	for _, a := range domain.Aggregates() {
		all = append(all, a.Type)
	}
	whole := s.openStream(t, admin, "?from=1&aggregate="+strings.Join(all, ","))
	if whole.StatusCode != 200 {
		t.Fatalf("filtered by every aggregate: %d", whole.StatusCode)
	}
	for i, e := range readSSE(t, whole.Body, int(head)) {
		if e.ID != strconv.Itoa(i+1) {
			t.Fatalf("filtered by every aggregate, event %d has id %s", i+1, e.ID)
		}
	}
	// A name the catalogue does not know is a 422 naming the parameter and
	// listing the names it knows, not a stream that never sends anything.
	for _, c := range []struct{ query, param, problem, known string }{
		{"?aggregate=article,remark", "aggregate", `unknown aggregate type "remark"`, "comment"},
		{"?type=article.create", "type", `unknown event type "article.create"`, "article.created"},
		{"?type=user.registered&aggregate=Article", "aggregate", `unknown aggregate type "Article"`, "article"},
	} {
		var body struct{ Errors map[string]string }
		expect(t, s.request(t, "GET", "/api/events/stream/"+c.query, admin, nil), 422).JSON(t, &body)
		if got := body.Errors[c.param]; !strings.Contains(got, c.problem) || !strings.Contains(got, c.known) {
			t.Fatalf("%s: errors %v, want %s naming %s, listing %s", c.query, body.Errors, c.param, c.problem, c.known)
		}
	}

	// Resume after the last event seen, with a type filter (an empty item
	// of a list is passed over, as an empty parameter is).
	resumed := s.openStream(t, admin, "?type=article.created,", "Last-Event-ID", "1")
	got := readSSE(t, resumed.Body, 1)
	if got[0].Event != "article.created" {
		t.Fatalf("filtered stream: %v", got[0])
	}
}

func TestEventsTail(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.registerUser(t, "tailed").AccessToken
	s.createArticle(t, tok, map[string]any{"title": "Tailed"})
	head := s.head(t)

	out, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": s.Config.DataDir}, "events", "tail", "--from", "1", "--no-follow")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != int(head) {
		t.Fatalf("%d lines for %d events:\n%s", len(lines), head, out)
	}
	for i, l := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("line %d is not JSON: %s", i, l)
		}
		if v["seq"] != float64(i+1) {
			t.Fatalf("line %d has seq %v: not every event in order", i, v["seq"])
		}
		if strings.Contains(l, "password_hash") || strings.Contains(l, "argon2") {
			t.Fatalf("a password hash in the output: %s", l)
		}
	}
	typed, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": s.Config.DataDir}, "events", "tail", "--from", "1", "--no-follow", "--type", "article.created")
	if err != nil || strings.Count(typed, "\n") != 1 || !strings.Contains(typed, `"type":"article.created"`) {
		t.Fatalf("--type: %v %s", err, typed)
	}

	// Following: a new event shows up, and an interrupt ends the command.
	// It starts right after the last event, so that whenever it reaches
	// the log, the next event is the first it prints.
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runWithContext(ctx, map[string]string{"INKWELL_DATA_DIR": s.Config.DataDir}, pw, "events", "tail", "--from", strconv.FormatUint(head+1, 10))
		pw.Close()
	}()
	expect(t, s.request(t, "POST", "/api/tags/", tok, map[string]string{"name": "followed"}), 201)
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.Contains(line, `"seq":`+strconv.FormatUint(head+1, 10)) {
		t.Fatalf("followed line %q, %v", line, err)
	}
	cancel()
	go io.Copy(io.Discard, pr)
	if err := <-done; err != nil {
		t.Fatalf("interrupted tail: %v", err)
	}
}

func TestMetricsAndReadiness(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.registerUser(t, "measured")
	expect(t, s.request(t, "GET", "/api/articles/", "", nil), 200)
	r := expect(t, s.request(t, "GET", "/metrics", "", nil), 200)
	body := string(r.Body)
	for _, want := range []string{
		`inkwell_http_requests_total{method="GET",route="/api/articles/",status="200"} 1`,
		`inkwell_commands_total{command="register",outcome="ok"} 1`,
		`inkwell_events_appended_total{type="user.registered"} 1`,
		`inkwell_http_request_duration_seconds_bucket`,
		`inkwell_projection_checkpoint{projection="users"}`,
		`inkwell_projection_lag_events{projection="articles"}`,
		`inkwell_projection_apply_seconds_bucket{projection="users"`,
		`inkwell_projection_leader{projection="articles"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	ready := expect(t, s.request(t, "GET", "/readyz", "", nil), 200).Map(t)
	checks := ready["checks"].(map[string]any)
	for _, c := range []string{"event_log", "database", "projection users", "projection articles"} {
		if checks[c] != "ok" {
			t.Errorf("readiness check %q: %v", c, checks[c])
		}
	}
}

// An authenticated request is counted as a query of the log, not as a
// command.
func TestAuthenticationIsCountedAsAQuery(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.registerUser(t, "counted").AccessToken
	expect(t, s.request(t, "GET", "/api/auth/me/", tok, nil), 200)
	body := string(expect(t, s.request(t, "GET", "/metrics", "", nil), 200).Body)
	if !strings.Contains(body, `inkwell_queries_total{outcome="ok",query="authenticate"} `) {
		t.Error("metrics lack the authentication query")
	}
	if strings.Contains(body, `command="authenticate"`) {
		t.Error("authentication is counted as a command")
	}
}
