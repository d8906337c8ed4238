package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"inkwell/auth"
	main "inkwell/cmd/inkwell"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/testkit"

	"github.com/alexedwards/argon2id"
)

// heavyTests is set by heavy_test.go, which is built with -tags heavy.
var heavyTests bool

func TestMain(m *testing.M) {
	if !heavyTests {
		testkit.NotBuilt("heavy fault tests (a full disk, the database down, a slow client)", "go test -tags heavy ./...")
	}
	// The end-to-end tests mostly wait: on the servers they start, NATS,
	// the databases and the disk.
	testkit.Parallel(4)
	code := testkit.Main(m, "inkwell/cmd/inkwell")
	if dir, ok := cliBinaryDir.Load().(string); ok {
		os.RemoveAll(dir)
	}
	if keysMade.Load() {
		if dir, err := testKeys(); err == nil {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// server is an Inkwell server running in the test process on a free port,
// with the embedded event log and SQLite in a temporary directory.
type server struct {
	*main.Main
	URL    string
	client *http.Client
}

// startServer runs Main on 127.0.0.1:0; configure may change the
// configuration first. The server is closed when the test ends.
func startServer(t testing.TB, configure ...func(*main.Config)) *server {
	t.Helper()
	return startServerLogging(t, testLogger(t), configure...)
}

// lightHashing are the argon2id parameters of the test servers: at
// Inkwell's real cost (auth.OWASPParams, 7 MiB and 5 passes, some 17 ms of CPU a
// hash) the hashes of the registrations and logins of these tests took
// most of their CPU. The tests of what that cost does (a flood of logins
// shed, an unknown account answered as slowly as a known one) start their
// servers with startServerRealHashing.
var lightHashing = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// startServerLogs is startServer with the server's log, from level up,
// kept in the returned buffer for the test to read (and written to the
// test's log).
func startServerLogs(t testing.TB, level slog.Level, configure ...func(*main.Config)) (*server, *testkit.Buffer) {
	t.Helper()
	logs := &testkit.Buffer{}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(testkit.LogWriter(t), logs), &slog.HandlerOptions{Level: level}))
	return startServerLogging(t, logger, configure...), logs
}

// startServerRealHashing is startServer with Inkwell's real password
// hashing.
func startServerRealHashing(t testing.TB, configure ...func(*main.Config)) *server {
	t.Helper()
	return launch(t, testLogger(t), nil, configure...)
}

// testKeys is one signing key pair for the servers of this test process:
// generating a 2048-bit RSA key takes some 70ms of CPU, each time.
var testKeys = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "inkwell-test-keys-")
	if err != nil {
		return "", err
	}
	_, _, err = auth.LoadOrGenerateKeys(dir)
	return dir, err
})

// keysMade reports whether testKeys made its directory, for TestMain to
// remove it.
var keysMade atomic.Bool

// startServerLogging is startServer with the server's logger.
func startServerLogging(t testing.TB, logger *slog.Logger, configure ...func(*main.Config)) *server {
	t.Helper()
	return launch(t, logger, &lightHashing, configure...)
}

// launch starts a server with logger and, if not nil, password hashing of
// params.
func launch(t testing.TB, logger *slog.Logger, params *argon2id.Params, configure ...func(*main.Config)) *server {
	t.Helper()
	m := main.NewMain()
	m.PasswordParams = params
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	keys, err := testKeys()
	if err != nil {
		t.Fatal(err)
	}
	keysMade.Store(true)
	m.Config.JWTPrivateKeyPath = filepath.Join(keys, auth.PrivateKeyFile)
	m.Config.JWTPublicKeyPath = filepath.Join(keys, auth.PublicKeyFile)
	m.Logger = logger
	// Every test client comes from 127.0.0.1: throttles are generous here,
	// and the tests of throttling set their own limits.
	m.Config.RegistrationsPerHour = 1_000_000
	// A write waits for the read models as long as a busy machine may
	// need; the tests of the 202 set a shorter wait.
	m.Config.ReadYourWritesTimeout = time.Minute
	m.Config.LoginThrottleAfter = 1_000_000
	m.Config.AddressThrottleAfter = 1_000_000
	// Many servers share a test process: none sets the process's memory
	// limit (TestKeepMemoryLimit tests it).
	m.Config.MemoryLimit = "0"
	for _, c := range configure {
		c(&m.Config)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("start server: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return &server{Main: m, URL: m.URL(), client: &http.Client{Timeout: 30 * time.Second}}
}

// freeAddr returns an address on 127.0.0.1 that nothing listens on now:
// one for a server the test starts apart (or for no server at all).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// inkwell runs the command args in the test process on the data directory
// dir (a server's, or none's) and returns its standard output and error,
// and its error.
func inkwell(t testing.TB, dir string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := main.Run(ctx, append(args, "--data-dir", dir), func(string) string { return "" }, nil, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// testLogger logs warnings and errors through t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testkit.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Map decodes the body as a JSON object.
func (r response) Map(t testing.TB) map[string]any {
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// request sends a request; body may be nil, a string or []byte (sent as is),
// or any value (sent as JSON). headers are name, value pairs. The exchange
// is checked against the OpenAPI document (checkContract).
func (s *server) request(t testing.TB, method, path, token string, body any, headers ...string) response {
	t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		raw = j
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return s.exchange(t, req, raw)
}

// exchange sends req (whose body is raw) and reads the answer, checking
// both against the OpenAPI document.
func (s *server) exchange(t testing.TB, req *http.Request, raw []byte) response {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkContract(t, req, raw, resp.StatusCode, resp.Header, b)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// expect fails the test unless the response has the wanted status.
func expect(t testing.TB, r response, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// tokens is a token response.
type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// registerUser registers username with password "password-<username>" and
// returns its tokens.
func (s *server) registerUser(t testing.TB, username string) tokens {
	t.Helper()
	var tk tokens
	expect(t, s.request(t, "POST", "/api/auth/register/", "", map[string]string{
		"username": username, "email": username + "@example.com", "password": "password-" + username,
	}), http.StatusCreated).JSON(t, &tk)
	return tk
}

// head returns the sequence of the last event in the log.
func (s *server) head(t testing.TB) uint64 {
	t.Helper()
	h, err := s.Store.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// appendsNothing runs fn and fails if the log grew meanwhile.
func (s *server) appendsNothing(t testing.TB, what string, fn func()) {
	t.Helper()
	before := s.head(t)
	fn()
	if after := s.head(t); after != before {
		t.Errorf("%s appended %d events", what, after-before)
	}
}

// createAdmin makes a superuser (staff too) the way createsuperuser does,
// waits until the read models show it (as an HTTP write would), logs it in
// and returns its tokens.
func (s *server) createAdmin(t testing.TB, username string) tokens {
	t.Helper()
	res, err := s.Commands.Register.Handle(context.Background(), commands.Register{
		User:     domain.NewUser{Username: username, Email: username + "@example.com", Staff: true, Superuser: true},
		Password: "password-" + username,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Projection.WaitFor(ctx, domain.AggregateUser, res.Seq); err != nil {
		t.Fatal(err)
	}
	return s.login(t, username)
}

// login logs username in with password "password-<username>".
func (s *server) login(t testing.TB, username string) tokens {
	t.Helper()
	var tk tokens
	expect(t, s.request(t, "POST", "/api/auth/login/", "", map[string]string{
		"username": username, "password": "password-" + username,
	}), http.StatusOK).JSON(t, &tk)
	return tk
}

// articleCount returns the count of the article list as token sees it.
func (s *server) articleCount(t testing.TB, token string) int {
	t.Helper()
	var list struct {
		Count int `json:"count"`
	}
	expect(t, s.request(t, "GET", "/api/articles/", token, nil), http.StatusOK).JSON(t, &list)
	return list.Count
}

// userID returns the id of the user token was issued to.
func (s *server) userID(t testing.TB, token string) string {
	t.Helper()
	return expect(t, s.request(t, "GET", "/api/auth/me/", token, nil), http.StatusOK).Map(t)["id"].(string)
}

// createArticle creates an article as token and returns its JSON.
func (s *server) createArticle(t testing.TB, token string, body map[string]any) map[string]any {
	t.Helper()
	return expect(t, s.request(t, "POST", "/api/articles/", token, body), http.StatusCreated).Map(t)
}
