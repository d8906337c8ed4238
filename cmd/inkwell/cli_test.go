package main_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
	"inkwell/testkit"
)

// cliBinary builds the binary once per test process, into a directory
// TestMain removes.
var cliBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "inkwell-cli-")
	if err != nil {
		return "", err
	}
	cliBinaryDir.Store(dir)
	path := filepath.Join(dir, "inkwell")
	if out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, out)
	}
	return path, nil
})

var cliBinaryDir atomic.Value // string

func inkwellBinary(t *testing.T) string {
	t.Helper()
	path, err := cliBinary()
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return path
}

// runBinary runs the built binary with args and env, and returns its
// standard output, standard error and exit code.
func runBinary(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, inkwellBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// The command line behaves like Go's tools: -h prints the usage and exits 0,
// a wrong command line exits 2, each command lists its own flags only.
func TestCommandLineConventions(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}, {"serve", "-h"}, {"createsuperuser", "-h"}, {"events", "tail", "-h"}, {"projections", "skip", "-h"}} {
		stdout, stderr, code := runBinary(t, nil, args...)
		if code != 0 || !strings.Contains(stdout+stderr, "USAGE") {
			t.Errorf("inkwell %v: exit %d, output %q", args, code, stdout+stderr)
		}
	}
	if stdout, _, _ := runBinary(t, nil, "help"); !strings.Contains(stdout, "createsuperuser") || !strings.Contains(stdout, "replay") {
		t.Errorf("inkwell help lists no commands:\n%s", stdout)
	}
	for _, args := range [][]string{{"--bogus"}, {"serve", "--bogus"}, {"nope"}, {"events"}, {"serve", "extra"}, {"replay", "--batch-size", "x"}} {
		if _, stderr, code := runBinary(t, nil, args...); code != 2 || stderr == "" {
			t.Errorf("inkwell %v: exit %d (want 2), stderr %q", args, code, stderr)
		}
	}
	help, _, _ := runBinary(t, nil, "createsuperuser", "-h")
	if !strings.Contains(help, "-username") || !strings.Contains(help, "-data-dir") || strings.Contains(help, "-cors-origins") || strings.Contains(help, "-addr") {
		t.Errorf("createsuperuser -h lists other commands' flags, or lacks its own:\n%s", help)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, _, code := runBinary(t, nil, args...)
		if code != 0 || !strings.HasPrefix(stdout, "inkwell ") || !strings.Contains(stdout, "go1.") {
			t.Errorf("inkwell %v: exit %d, %q", args, code, stdout)
		}
	}
}

// A flag wins over its variable, which wins over the default; -h shows
// the defaults, never a value from the environment (a database password,
// say).
func TestFlagsAndVariables(t *testing.T) {
	t.Parallel()
	secret := "postgres://inkwell:hunter2@db:5432/inkwell"
	help, _, _ := runBinary(t, []string{"INKWELL_DATABASE_URL=" + secret}, "serve", "-h")
	if !strings.Contains(help, "-database-url") || strings.Contains(help, "hunter2") {
		t.Errorf("serve -h shows the environment's database URL:\n%s", help)
	}
	_, stderr, code := runBinary(t, []string{"INKWELL_LOG_LEVEL=loud"}, "migrate")
	if code != 2 || !strings.Contains(stderr, "$INKWELL_LOG_LEVEL") || !strings.Contains(stderr, "--log-level") {
		t.Errorf("a bad log level: exit %d, %q", code, stderr)
	}
	// The flag wins: the bad variable is not read.
	dir := t.TempDir()
	if _, stderr, code := runBinary(t, []string{"INKWELL_LOG_LEVEL=loud", "INKWELL_DATA_DIR=" + dir}, "migrate", "--log-level", "warn"); code != 0 {
		t.Errorf("a flag over a bad variable: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "inkwell.db")); err != nil {
		t.Errorf("migrate did not use $INKWELL_DATA_DIR: %v", err)
	}
	_, stderr, code = runBinary(t, []string{"INKWELL_JWT_ACCESS_TTL=soon"}, "serve")
	if code != 2 || !strings.Contains(stderr, "$INKWELL_JWT_ACCESS_TTL") {
		t.Errorf("a bad duration in a variable: exit %d, %q", code, stderr)
	}
	// An access token that would outlive its refresh token (and the
	// signing key, which retires that long after it is superseded).
	_, stderr, code = runBinary(t, nil, "serve", "--access-ttl", "2h", "--refresh-ttl", "1h")
	if code != 2 || !strings.Contains(stderr, "--access-ttl") || !strings.Contains(stderr, "--refresh-ttl") {
		t.Errorf("an access lifetime longer than the refresh lifetime: exit %d, %q", code, stderr)
	}
}

// What is wrong at start-up is said in words that name the setting and the
// fix, before anything is created; a failed start is not logged as a stop.
func TestStartUpErrorsPointTheRightWay(t *testing.T) {
	t.Parallel()
	run := func(configure func(*main.Config)) (error, string) {
		var logs bytes.Buffer
		m := main.NewMain()
		m.Config.Addr = "127.0.0.1:0"
		m.Config.DataDir = t.TempDir()
		m.Stderr = &logs
		configure(&m.Config)
		err := m.Run(context.Background())
		m.Close()
		return err, logs.String()
	}
	_, _, code := runBinary(t, nil, "serve", "--database-url", "mysql://root@db/inkwell")
	if code != 2 {
		t.Errorf("a mysql:// URL: exit %d", code)
	}
	_, stderr, _ := runBinary(t, nil, "serve", "--database-url", "mysql://root@db/inkwell")
	if !strings.Contains(stderr, "mysql:// databases are not supported") || !strings.Contains(stderr, "postgres://") {
		t.Errorf("a mysql:// URL: %q", stderr)
	}

	// A port in use: said first, before the data directory holds anything.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dir string
	err, logs := run(func(c *main.Config) { c.Addr = ln.Addr().String(); dir = c.DataDir })
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !strings.Contains(err.Error(), "--addr") {
		t.Errorf("a port in use: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the data directory holds %d entries after a start that could not listen", len(entries))
	}
	if strings.Contains(logs, "Inkwell stopped") {
		t.Errorf("a start that failed is logged as a stop:\n%s", logs)
	}

	// Keys that are not RSA private keys: said in words.
	keyDir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPath := filepath.Join(keyDir, "ec.pem")
	_ = os.WriteFile(ecPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	pubDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	pubPath := filepath.Join(keyDir, "pub.pem")
	_ = os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), 0o600)
	for path, want := range map[string]string{ecPath: "needs an RSA key", pubPath: "a public key where the private key goes"} {
		err, _ := run(func(c *main.Config) { c.JWTPrivateKeyPath = path })
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "INKWELL_JWT_PRIVATE_KEY_PATH") ||
			strings.Contains(err.Error(), "asn1") || strings.Contains(err.Error(), "ParseECPrivateKey") {
			t.Errorf("private key %s: %v", filepath.Base(path), err)
		}
	}
}

// inkwell probe answers a container's health check: 0 when the server is
// ready, 1 when there is none.
func TestProbe(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	// A server that has just started is ready once its read models have
	// read the log: a moment, or longer on a busy machine.
	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200", func() bool { st, _ := s.readyz(t); return st == http.StatusOK })
	addr := strings.TrimPrefix(s.URL, "http://")
	if stdout, stderr, code := runBinary(t, nil, "probe", "--addr", addr); code != 0 || !strings.Contains(stdout, "200") {
		t.Errorf("probe of a ready server: exit %d, %q %q", code, stdout, stderr)
	}
	if _, _, code := runBinary(t, []string{"INKWELL_ADDR=" + freeAddr(t)}, "probe"); code != 1 {
		t.Errorf("probe of no server: exit %d, want 1", code)
	}
}
