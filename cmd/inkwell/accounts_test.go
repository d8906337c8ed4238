package main_test

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
	"inkwell/eventstore/eventstoretest"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/testkit"
)

// The tutorial's flow, with its own request bodies: register, login, me, refresh.
func TestTutorialAccountFlow(t *testing.T) {
	t.Parallel()
	tutorialAccountFlow(t, startServer(t))
}

// On the production-style stack: an external NATS server and PostgreSQL.
func TestTutorialAccountFlowOnExternalNATSAndPostgres(t *testing.T) {
	t.Parallel()
	natsURL := eventstoretest.ExternalURL(t)
	_, pgURL := projectionstest.MustOpenPostgresURL(t)
	name := "T" + eventstoretest.RandomName()
	s := startServer(t, func(c *main.Config) {
		c.NATSURL, c.DatabaseURL = natsURL, pgURL
		c.NATSStream, c.NATSSubjectPrefix = name, "test."+name
	})
	t.Cleanup(func() { _ = s.Store.JetStream().DeleteStream(context.Background(), name) })
	if s.DB.Dialect != projections.Postgres {
		t.Fatalf("read model on %s", s.DB.Dialect)
	}
	tutorialAccountFlow(t, s)
}

func TestRestartKeepsAccountsAndReadModel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s1 := startServer(t, func(c *main.Config) { c.DataDir = dir })
	s1.registerUser(t, "persistent")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, func(c *main.Config) { c.DataDir = dir })
	var tk tokens
	expect(t, s2.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": "persistent", "password": "password-persistent"}), 200).JSON(t, &tk)
	me := expect(t, s2.request(t, "GET", "/api/auth/me/", tk.AccessToken, nil), 200).Map(t)
	if me["username"] != "persistent" {
		t.Fatalf("me after restart: %v", me)
	}
	// The signing key was reused: tokens from before the restart still work.
	if s1.Keys.KID != s2.Keys.KID {
		t.Fatal("a new signing key was generated on restart")
	}
}

func TestSecondServerOnOneDataDirIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	startServer(t, func(c *main.Config) { c.DataDir = dir })
	m := main.NewMain()
	m.Config.Addr, m.Config.DataDir, m.Logger = "127.0.0.1:0", dir, testLogger(t)
	err := m.Run(context.Background())
	if err == nil {
		m.Close()
		t.Fatal("a second server started on the same data directory")
	}
	if !strings.Contains(err.Error(), "another Inkwell process") {
		t.Fatalf("unclear refusal: %v", err)
	}
}

func tutorialAccountFlow(t *testing.T, s *server) {
	t.Helper()
	reg := expect(t, s.request(t, "POST", "/api/auth/register/", "", `{
    "username": "johndoe",
    "email": "john@example.com",
    "password": "secure_password_123",
    "first_name": "John",
    "last_name": "Doe"
  }`), http.StatusCreated)
	var tk tokens
	reg.JSON(t, &tk)
	if tk.TokenType != "bearer" || tk.ExpiresIn != 900 || tk.AccessToken == "" || tk.RefreshToken == "" {
		t.Fatalf("register answered %s", reg.Body)
	}
	if reg.Header.Get("Cache-Control") != "no-store" {
		t.Error("token response may be cached")
	}

	// Read-your-writes: me right after register shows the new user.
	me := expect(t, s.request(t, "GET", "/api/auth/me/", tk.AccessToken, nil), http.StatusOK).Map(t)
	if me["username"] != "johndoe" || me["email"] != "john@example.com" || me["first_name"] != "John" || me["last_name"] != "Doe" {
		t.Fatalf("me: %v", me)
	}
	if strings.Contains(strings.ToLower(fmt.Sprint(me)), "argon") || me["password"] != nil || me["password_hash"] != nil {
		t.Fatalf("me leaks the password hash: %v", me)
	}

	login := expect(t, s.request(t, "POST", "/api/auth/login/", "", `{
    "username": "johndoe",
    "password": "secure_password_123"
  }`), http.StatusOK)
	var lt tokens
	login.JSON(t, &lt)

	refreshed := expect(t, s.request(t, "POST", "/api/auth/refresh/", "", `{"refresh_token": "`+lt.RefreshToken+`"}`), http.StatusOK)
	var rt tokens
	refreshed.JSON(t, &rt)
	if rt.AccessToken == "" || rt.RefreshToken == "" {
		t.Fatalf("refresh answered %s", refreshed.Body)
	}
	me2 := expect(t, s.request(t, "GET", "/api/auth/me/", rt.AccessToken, nil), http.StatusOK).Map(t)
	if me2["id"] != me["id"] {
		t.Fatalf("refreshed token is for %v, not %v", me2["id"], me["id"])
	}
}

func TestPathsAnswerWithAndWithoutTrailingSlash(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tk := s.registerUser(t, "slashy")
	for _, p := range []string{"/api/auth/me/", "/api/auth/me"} {
		expect(t, s.request(t, "GET", p, tk.AccessToken, nil), http.StatusOK)
	}
	expect(t, s.request(t, "POST", "/api/auth/login", "", map[string]string{"username": "slashy", "password": "password-slashy"}), http.StatusOK)
	expect(t, s.request(t, "GET", "/healthz/", "", nil), http.StatusOK)
	expect(t, s.request(t, "GET", "/api/nothing-here/", "", nil), http.StatusNotFound)
	expect(t, s.request(t, "PUT", "/api/auth/me", tk.AccessToken, nil), http.StatusMethodNotAllowed)
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.registerUser(t, "taken")

	cases := []struct {
		name   string
		body   any
		status int
		field  string
		header []string
	}{
		{"duplicate username in another case", map[string]string{"username": "TAKEN", "email": "new@example.com", "password": "12345678"}, 409, "username", nil},
		{"duplicate email", map[string]string{"username": "new", "email": "taken@example.com", "password": "12345678"}, 409, "email", nil},
		{"malformed JSON", `{"username": "x",`, 400, "", nil},
		{"not an object", `["username"]`, 422, "body", nil},
		{"two objects", `{} {}`, 400, "", nil},
		{"empty body", ``, 400, "", nil},
		{"empty username", map[string]string{"username": "", "email": "a@example.com", "password": "12345678"}, 422, "username", nil},
		{"bad email", map[string]string{"username": "a", "email": "not-an-email", "password": "12345678"}, 422, "email", nil},
		{"short password", map[string]string{"username": "a", "email": "a@example.com", "password": "1234567"}, 422, "password", nil},
		{"wrong type", `{"username": 42, "email": "a@example.com", "password": "12345678"}`, 422, "username", nil},
		{"privileged field", `{"username": "a", "email": "a@example.com", "password": "12345678", "is_staff": true}`, 422, "is_staff", nil},
		{"body over 1 MiB", `{"username": "` + strings.Repeat("a", 1<<20) + `"}`, 413, "", nil},
		{"not JSON", `username=a`, 415, "", []string{"Content-Type", "application/x-www-form-urlencoded"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.appendsNothing(t, tc.name, func() {
				r := expect(t, s.request(t, "POST", "/api/auth/register/", "", tc.body, tc.header...), tc.status)
				body := r.Map(t)
				if d, _ := body["detail"].(string); d == "" {
					t.Errorf("no detail: %s", r.Body)
				}
				if tc.field != "" {
					errs, _ := body["errors"].(map[string]any)
					if errs[tc.field] == nil {
						t.Errorf("errors do not name %s: %s", tc.field, r.Body)
					}
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("content type %q", ct)
				}
			})
		})
	}
}

func TestLoginErrorsLookTheSame(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.registerUser(t, "known")
	strip := func(r response) string {
		m := r.Map(t)
		delete(m, "request_id")
		return fmt.Sprint(m)
	}
	unknown := expect(t, s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": "unknown", "password": "whatever1"}), 401)
	wrong := expect(t, s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": "known", "password": "whatever1"}), 401)
	if strip(unknown) != strip(wrong) {
		t.Fatalf("unknown user and wrong password differ:\n%s\n%s", unknown.Body, wrong.Body)
	}
	expect(t, s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": "known"}), 422)
}

// Of 50 registrations of one username at once, exactly one succeeds and
// the others are refused as duplicates. The bounded password hashing may
// shed some with 503 on a busy machine; those are sent again, as a client
// would, until they are answered: the count is of answers, not of sheds.
func TestConcurrentRegistrationsOfOneUsername(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const n = 50
	statuses := make([]int, n)
	shed := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
				statuses[i] = s.request(t, "POST", "/api/auth/register/", "", map[string]string{
					"username": "popular", "email": fmt.Sprintf("p%d@example.com", i), "password": "12345678",
				}).Status
				if statuses[i] != http.StatusServiceUnavailable {
					return
				}
				shed[i]++
				time.Sleep(wait)
			}
		}(i)
	}
	wg.Wait()
	count := map[int]int{}
	sheds := 0
	for i, st := range statuses {
		count[st]++
		sheds += shed[i]
	}
	if count[201] != 1 || count[409] != n-1 {
		t.Fatalf("statuses %v: want one 201 and %d 409s", count, n-1)
	}
	t.Logf("%d answers were shed with 503 and sent again", sheds)
}

// The tokens that must be refused (alg none, HS256 with the public key, a
// wrong iss or aud, an expired or missing exp, a refresh token as an access
// token, an access token at refresh, ...) are attacked in hostile_test.go.

func TestWellKnownJWKS(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	var set struct {
		Keys []struct {
			Kty, Alg, Kid, N, E, Use string
		} `json:"keys"`
	}
	expect(t, s.request(t, "GET", "/.well-known/jwks.json", "", nil), 200).JSON(t, &set)
	if len(set.Keys) != 1 || set.Keys[0].Kid != s.Keys.KID || set.Keys[0].Alg != "RS256" || set.Keys[0].Kty != "RSA" || set.Keys[0].N == "" {
		t.Fatalf("jwks: %+v", set)
	}
	// Ready once the read models have read the log (they start when the
	// server does).
	testkit.WaitFor(t, time.Minute, "/readyz 200", func() bool {
		status, _ := s.readyz(t)
		return status == 200
	})
}

// The data directory holds emails, password hashes, drafts and the signing
// key: Inkwell keeps it, and every file in it, to its own user, tightening
// what an older version or an operator left open, and a SQLite file kept
// elsewhere too.
func TestDataIsPrivateOnDisk(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	db := filepath.Join(t.TempDir(), "elsewhere.db")
	configure := func(c *main.Config) {
		c.DataDir, c.DatabaseURL = dir, db
		c.JWTPrivateKeyPath, c.JWTPublicKeyPath = "", "" // generated in the data directory
	}
	s1 := startServer(t, configure)
	s1.registerUser(t, "private")
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	// Open everything up, as a umask of 022 and an older version did.
	paths := []string{db}
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(0o644)
		if st.IsDir() {
			mode = 0o755
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	s2 := startServer(t, configure)
	s2.registerUser(t, "another")
	s2.createArticle(t, s2.login(t, "private").AccessToken, map[string]any{"title": "A draft"})
	check := func(p string) {
		st, err := os.Stat(p)
		if err != nil {
			t.Error(err)
			return
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %04o, readable by other users", p, st.Mode().Perm())
		}
	}
	files := 0
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && (d.IsDir() || d.Type().IsRegular()) {
			check(p)
			files++
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		check(p)
	}
	if files < 5 { // the directory, keys, SQLite, the event log's store
		t.Fatalf("only %d entries in the data directory", files)
	}
}
