package main_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
	"inkwell/testkit"
)

// The tests of issue 29's "errors about settings": every error about a
// setting names its flag and variable and never prints a secret, start-up
// writes nothing before the settings are known to work, and each error
// says what the setting takes or what to do.

// runServe runs inkwell with args and env in the test process, and returns
// everything it wrote and its error. A start-up expected to fail that does
// not is stopped after a while.
func runServe(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := main.Run(ctx, args, getenvOf(env), strings.NewReader(""), &out, &out)
	return out.String(), err
}

// No error prints the password (or token) of a URL setting, whether the URL
// does not parse, names a server that is not there, or one whose name does
// not resolve; each names the setting; and none leaves a data directory
// behind.
func TestNoSecretOfAURLInAnyError(t *testing.T) {
	t.Parallel()
	const pw = "Sup3rS3cret"
	for _, c := range []struct {
		flag, variable string
		urls           []string
		commands       [][]string
	}{
		{
			flag: "--database-url", variable: "INKWELL_DATABASE_URL",
			urls: []string{
				"postgres://u:" + pw + "@host:notaport/db",
				"postgres://u:" + pw + "@127.0.0.1:1/db",
				"postgresql://u:" + pw + "@127.0.0.1:1/db?sslmode=disable",
				"postgres://u:" + pw + "@nosuchhost.invalid/db",
				"postgres://u:" + pw + "@[::1/db",
				"postgres://u:" + pw + "%40x@127.0.0.1:1/db",
				"postgres://u@127.0.0.1:1/db?password=" + pw,
				"postgres://u:" + pw + "@127.0.0.1:1/db?connect_timeout=notanumber",
			},
			commands: [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"migrate"}},
		},
		{
			flag: "--nats-url", variable: "INKWELL_NATS_URL",
			urls: []string{
				"nats://u:" + pw + "@h:notaport",
				"nats://u:" + pw + "@127.0.0.1:1",
				"nats://" + pw + "@127.0.0.1:1",
				"tls://u:" + pw + "@127.0.0.1:1",
				"nats://u:" + pw + "@nosuchhost.invalid:4222",
				"nats://u:" + pw + "@127.0.0.1:1,nats://u:" + pw + "@127.0.0.1:2",
				"nats://u:" + pw + "@127.0.0.1:1, nats://v:" + pw + "@[::1",
				"u:" + pw + "@127.0.0.1:1",
			},
			commands: [][]string{{"serve", "--addr", "127.0.0.1:0"}, {"events", "tail", "--no-follow"}},
		},
	} {
		for _, u := range c.urls {
			for _, command := range c.commands {
				for _, viaEnv := range []bool{false, true} {
					dir := filepath.Join(t.TempDir(), "data")
					env := map[string]string{"INKWELL_DATA_DIR": dir, "INKWELL_NATS_WAIT": "0"}
					args := append([]string(nil), command...)
					if viaEnv {
						env[c.variable] = u
					} else {
						args = append(args, c.flag, u)
					}
					out, err := runServe(t, env, args...)
					if err == nil {
						t.Errorf("inkwell %v with %s %s: no error", command, c.variable, u)
						continue
					}
					msg := err.Error() + "\n" + out
					for _, secret := range []string{pw, "u:p@"} {
						if strings.Contains(msg, secret) {
							t.Errorf("inkwell %v with %s %s prints the password:\n%s", command, c.variable, u, msg)
						}
					}
					if !strings.Contains(err.Error(), c.flag) || !strings.Contains(err.Error(), c.variable) {
						t.Errorf("inkwell %v with %s %s: the error does not name %s and $%s: %v", command, c.variable, u, c.flag, c.variable, err)
					}
					if _, statErr := os.Stat(dir); statErr == nil && command[0] == "serve" {
						t.Errorf("inkwell serve with %s %s created the data directory before failing", c.variable, u)
					}
				}
			}
		}
	}
	// The issue's own line.
	out, err := runServe(t, map[string]string{"INKWELL_DATA_DIR": t.TempDir()}, "serve", "--database-url", "postgres://u:p@host:notaport/db")
	if err == nil || strings.Contains(err.Error()+out, "u:p@") || !strings.Contains(err.Error(), "--database-url") {
		t.Errorf("postgres://u:p@host:notaport/db: %v\n%s", err, out)
	}
}

// Start-up creates no data directory, no master key, before the settings
// are known to work: a database, a key file or a listener that fails is
// said first.
func TestStartUpWritesNothingBeforeTheSettingsWork(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		name    string
		env     map[string]string
		setting string
	}{
		{"PostgreSQL unreachable", map[string]string{"INKWELL_DATABASE_URL": "postgres://inkwell@127.0.0.1:1/inkwell"}, "--database-url"},
		{"no master key file", map[string]string{"INKWELL_MASTER_KEY_PATH": missing}, "--master-key"},
		{"no signing key file", map[string]string{"INKWELL_JWT_PRIVATE_KEY_PATH": missing}, "--jwt-private-key"},
		{"profiles' address in use", map[string]string{"INKWELL_PPROF_ADDR": busy.Addr().String()}, "--pprof-addr"},
		{"NATS sync unknown", map[string]string{"INKWELL_NATS_SYNC": "sometimes"}, "--nats-sync"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		c.env["INKWELL_DATA_DIR"] = dir
		out, err := runServe(t, c.env, "serve", "--addr", "127.0.0.1:0")
		if err == nil || !strings.Contains(err.Error(), c.setting) {
			t.Errorf("%s: want an error naming %s, got %v\n%s", c.name, c.setting, err, out)
		}
		if entries, statErr := os.ReadDir(dir); statErr == nil {
			t.Errorf("%s: start-up failed after creating the data directory, holding %v", c.name, entries)
		}
	}
}

// Every duration and number setting that is given a value it cannot take
// says the value, the form it takes (a duration needs its unit: 15s) and
// the setting, by its variable or its flag.
func TestEverySettingSaysTheFormItTakes(t *testing.T) {
	t.Parallel()
	settings, help := serveSettings()
	var durations, numbers int
	for _, st := range settings {
		flag, def, variable := st.flag, st.def, st.variable
		var bad, form string
		switch {
		case regexp.MustCompile(`^[0-9]+$`).MatchString(def):
			bad, form = "five", "5"
			numbers++
		case regexp.MustCompile(`^[0-9hms.]+$`).MatchString(def):
			bad, form = "15", "15s"
			durations++
		default:
			continue
		}
		out, err := runServe(t, map[string]string{variable: bad}, "serve")
		if err == nil || !strings.Contains(err.Error(), `"`+bad+`"`) || !strings.Contains(err.Error(), form) ||
			!strings.Contains(err.Error(), "$"+variable) || !strings.Contains(err.Error(), "--"+flag) {
			t.Errorf("%s=%s: want an error with the value, %s and the setting; got %v\n%s", variable, bad, form, err, out)
		}
		out, err = runServe(t, nil, "serve", "--"+flag, bad)
		if err == nil || !strings.Contains(out, `"`+bad+`"`) || !strings.Contains(out, form) || !strings.Contains(out, "-"+flag) {
			t.Errorf("--%s %s: want the value, %s and the flag; got %v\n%s", flag, bad, form, err, out)
		}
	}
	if durations < 6 || numbers < 6 {
		t.Fatalf("found %d durations and %d numbers in serve -h:\n%s", durations, numbers, help)
	}
	for variable, want := range map[string]string{"INKWELL_MIN_FREE_DISK": "64MiB", "INKWELL_NATS_SYNC": "2m",
		"INKWELL_HASH_MEMORY": "7MiB", "INKWELL_MEMORY_LIMIT": "80MiB", "INKWELL_SNAPSHOT_CACHE": "16MiB"} {
		if _, err := runServe(t, map[string]string{variable: "lots"}, "serve"); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), variable) {
			t.Errorf("%s=lots: want the form %s and the setting, got %v", variable, want, err)
		}
	}
}

// An external NATS server that is not up yet when Inkwell starts is waited
// for, each try said in the log without its token; one that does not come
// up within --nats-wait ends in an error naming --nats-url.
func TestExternalNATSDownAtStartIsWaitedFor(t *testing.T) {
	t.Parallel()
	natsURL, p := natsBehindProxy(t)
	token := strings.TrimPrefix(natsURL[:strings.LastIndex(natsURL, "@")], "nats://")

	t.Run("it comes up", func(t *testing.T) {
		p.Refuse(true)
		var log testkit.Buffer
		m := main.NewMain()
		m.Config.Addr, m.Config.DataDir, m.Config.NATSURL = "127.0.0.1:0", t.TempDir(), natsURL
		m.Config.NATSStream, m.Config.NATSSubjectPrefix = "WAITED", "waited.events"
		m.Logger = slog.New(slog.NewTextHandler(&log, nil))
		done := make(chan error, 1)
		go func() { done <- m.Run(context.Background()) }()
		testkit.WaitFor(t, 30*time.Second, "a line saying start-up waits for NATS", func() bool {
			return strings.Contains(log.String(), "waiting for NATS")
		})
		p.Refuse(false)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("start once NATS is up: %v\n%s", err, log.String())
			}
		case <-time.After(90 * time.Second):
			t.Fatalf("not started 90s after NATS came up:\n%s", log.String())
		}
		t.Cleanup(func() { m.Close() })
		if strings.Contains(log.String(), token) {
			t.Errorf("the log prints the NATS token:\n%s", log.String())
		}
	})

	t.Run("it does not", func(t *testing.T) {
		p.Refuse(true)
		t.Cleanup(func() { p.Refuse(false) })
		dir := filepath.Join(t.TempDir(), "data")
		start := time.Now()
		out, err := runServe(t, map[string]string{"INKWELL_DATA_DIR": dir, "INKWELL_NATS_URL": natsURL, "INKWELL_NATS_WAIT": "2s"}, "serve", "--addr", "127.0.0.1:0")
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "--nats-url") || !strings.Contains(err.Error(), "$INKWELL_NATS_URL") ||
			!strings.Contains(err.Error(), "--nats-wait") {
			t.Fatalf("want an error naming --nats-url and --nats-wait, got %v\n%s", err, out)
		}
		if took < 2*time.Second {
			t.Errorf("gave up after %v, before the 2s of INKWELL_NATS_WAIT", took)
		}
		if !strings.Contains(out, "waiting for NATS") {
			t.Errorf("no line said start-up waits for NATS:\n%s", out)
		}
		if strings.Contains(err.Error()+out, token) {
			t.Errorf("the token is printed:\n%v\n%s", err, out)
		}
		if _, statErr := os.Stat(dir); statErr == nil {
			t.Error("the data directory was created for a NATS server that never answered")
		}
	})
}

// A data directory Inkwell's user cannot read is an error naming the path,
// the user running Inkwell, the permission it needs and how to give it.
func TestUnreadableDataDirectorySaysTheFix(t *testing.T) {
	t.Parallel()
	parent, err := os.MkdirTemp("", "inkwell-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// The binary runs as another user than the directory's owner: nobody,
	// when the test runs as root (who may read anything); else the test's
	// user, with the directory made unreadable.
	bin := filepath.Join(parent, "inkwell")
	copyFile(t, inkwellBinary(t), bin, 0o755)
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dir)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	runAs := ""
	if os.Getuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Skip("no user nobody to run as")
		}
		runAs = nobody.Username
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: atoi(t, nobody.Uid), Gid: atoi(t, nobody.Gid)}}
	} else {
		me, err := user.Current()
		if err != nil {
			t.Skip(err)
		}
		runAs = me.Username
		if err := os.Chmod(dir, 0o000); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
	}
	var stderr bytes.Buffer
	cmd.Stderr, cmd.Stdout = &stderr, io.Discard
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("inkwell serve on an unreadable data directory: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{dir, "--data-dir", "permission denied", runAs, "read, write and execute", "chmod -R u+rwX"} {
		if runAs != "" && os.Getuid() == 0 && want == "chmod -R u+rwX" {
			want = "chown -R " + runAs + " " + dir
		}
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the error does not say %q:\n%s", want, stderr.String())
		}
	}
}

// The wrong master key is said once: what is wrong (the secrets in NATS
// are wrapped by another master key than the file named) and what to do.
func TestWrongMasterKeySaysItOnce(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.registerUser(t, "erin")
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": s.Config.DataDir, "INKWELL_MASTER_KEY_PATH": other},
		"events", "tail", "--from", "1", "--no-follow")
	if err == nil {
		t.Fatalf("events tail with another master key: no error\n%s", out)
	}
	msg := err.Error()
	for _, want := range []string{other, "--master-key", "$INKWELL_MASTER_KEY_PATH", "restore it from its backup"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
	if n := strings.Count(msg, "master key"); n > 2 {
		t.Errorf("the error says \"master key\" %d times: %s", n, msg)
	}
	if strings.Count(msg, "wrapped by another master key") != 1 {
		t.Errorf("the error does not say once that the key is another: %s", msg)
	}
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

func atoi(t *testing.T, s string) uint32 {
	t.Helper()
	var n uint32
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + uint32(c-'0')
	}
	return n
}
