//go:build heavy

package faults_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"inkwell/testkit"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bins are the binaries the suite runs as processes of their own, built
// once by TestMain: Inkwell, and a NATS server (the version go.mod names).
var bins struct{ inkwell, nats string }

// buildBinaries builds the binaries into dir.
func buildBinaries(dir string) error {
	for _, b := range []struct {
		out *string
		pkg string
	}{
		{&bins.inkwell, "inkwell/cmd/inkwell"},
		{&bins.nats, "github.com/nats-io/nats-server/v2"},
	} {
		*b.out = filepath.Join(dir, filepath.Base(b.pkg))
		cmd := exec.Command("go", "build", "-o", *b.out, b.pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}

// freePort returns a TCP port nothing listens on now, below the kernel's
// range of ephemeral ports. A port from that range (what listening on port 0
// gives) can be taken, while a killed node is down, as the local port of any
// outgoing connection on the machine (a client reconnecting, a route dialing),
// and the node's restart then fails to listen; CI saw a NATS node of the
// cluster suite never come back that way. Below the range only a listener
// binds a port, and the ports handed out here are never handed out twice.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	low := ephemeralLow()
	for range 1000 {
		port := low - 1 - rand.IntN(low/3)
		if portsGiven[port] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		ln.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatal("no free port below the ephemeral range")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// ephemeralLow is the first port of the kernel's ephemeral range (Linux's
// default when the kernel does not say).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low < 3000 {
		return 32768
	}
	return low
}

// proc is a child process whose output goes to a log file.
type proc struct {
	t    *testing.T
	name string
	args []string
	env  []string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

func newProc(t *testing.T, name string, env []string, bin string, args ...string) *proc {
	p := &proc{t: t, name: name, args: append([]string{bin}, args...), env: env,
		log: filepath.Join(t.TempDir(), name+".log")}
	t.Cleanup(func() {
		if t.Failed() {
			p.dump()
		}
		p.kill()
		if t.Failed() {
			if b, err := os.ReadFile(p.log); err == nil {
				t.Logf("%s log (last 4 KiB, less the requests that went well):\n%s", name, tail(quiet(b), 4096))
				keep := filepath.Join("..", "artifacts", "logs", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+name+".log")
				if os.MkdirAll(filepath.Dir(keep), 0o755) == nil && os.WriteFile(keep, b, 0o644) == nil {
					t.Logf("%s log, whole: %s", name, strings.TrimPrefix(keep, "../"))
				}
			}
		}
	})
	return p
}

// quiet is a log less its lines about requests answered below 500, which
// would hide what went wrong.
func quiet(b []byte) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if bytes.Contains(line, []byte(" msg=request ")) && !bytes.Contains(line, []byte(" status=5")) {
			continue
		}
		out = append(out, line...)
	}
	return out
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return b
}

// start starts the process (again, after a kill).
func (p *proc) start() {
	p.t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(f, "\n==== start %s\n", time.Now().Format(time.RFC3339Nano))
	p.cmd = exec.Command(p.args[0], p.args[1:]...)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		f.Close()
		close(done)
	}(p.cmd, p.done)
}

// dump makes a running Inkwell process write where each of its goroutines
// stands to its log and end (Go's SIGQUIT), so that a failed test shows
// where a process was stuck; other processes are left to kill.
func (p *proc) dump() {
	if p.cmd == nil || p.cmd.Process == nil || p.args[0] != bins.inkwell {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.done:
		p.cmd = nil
	case <-time.After(10 * time.Second):
	}
}

// kill kills the process with SIGKILL (kill -9) and waits for it to end.
func (p *proc) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT) // a paused process must not stay paused
	_ = p.cmd.Process.Kill()
	<-p.done
	p.cmd = nil
}

// stop ends the process with SIGTERM, as an operator would.
func (p *proc) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		p.t.Errorf("%s did not stop within 60s of SIGTERM", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

// failIfExited fails the test at once if the process, started to serve, has
// already ended (a port it could not listen on, a bad flag): waiting out the
// full time limit would only hide why, which the end of its log says.
func (p *proc) failIfExited() {
	p.t.Helper()
	if p.cmd == nil {
		return
	}
	select {
	case <-p.done:
		b, _ := os.ReadFile(p.log)
		p.t.Fatalf("%s ended before it served (%v); the end of its log:\n%s", p.name, p.cmd.ProcessState, tail(b, 4096))
	default:
	}
}

// signal sends sig (SIGSTOP, SIGCONT) to the process.
func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// inkwell is an Inkwell server run as a process of its own, on a fixed
// address so that its clients find it again after a restart.
type inkwell struct {
	*proc
	url string
	env []string
}

// newInkwell returns a server configured by env (INKWELL_* variables) on a
// free port; start it with start.
func newInkwell(t *testing.T, name string, env ...string) *inkwell {
	port := freePort(t)
	env = append([]string{
		"INKWELL_ADDR=127.0.0.1:" + strconv.Itoa(port),
		"INKWELL_REGISTRATIONS_PER_HOUR=1000000",
		"INKWELL_LOGIN_THROTTLE_AFTER=1000000",
		"INKWELL_ADDRESS_THROTTLE_AFTER=1000000",
	}, env...)
	return &inkwell{proc: newProc(t, name, env, bins.inkwell, "serve"), url: fmt.Sprintf("http://127.0.0.1:%d", port), env: env}
}

// startServing starts the server and waits until it answers /healthz.
func (s *inkwell) startServing() {
	s.t.Helper()
	s.start()
	testkit.WaitFor(s.t, 120*time.Second, s.name+" to answer /healthz", func() bool { return status(s.url+"/healthz") == 200 })
}

// waitReady waits until /readyz answers 200 and returns how long it took.
func (s *inkwell) waitReady(bound time.Duration) time.Duration {
	s.t.Helper()
	start := time.Now()
	testkit.WaitFor(s.t, bound, s.name+" to be ready (/readyz 200)", func() bool { return status(s.url+"/readyz") == 200 })
	return time.Since(start)
}

// run runs an inkwell command (replay, events tail, ...) with the server's
// configuration and returns its standard output.
func (s *inkwell) run(args ...string) []byte {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.inkwell, args...)
	cmd.Env = append(os.Environ(), s.env...)
	// A command still running at the limit is asked where it stands (Go's
	// SIGQUIT writes every goroutine's stack to stderr, then ends it): a
	// hang shows its wait, not only that it waited.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGQUIT) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		out := tail(stderr.Bytes(), 4096)
		if ctx.Err() != nil {
			out = stderr.Bytes() // the goroutines' stacks, whole
		}
		s.t.Fatalf("inkwell %v: %v\n%s", args, err, out)
	}
	return stdout.Bytes()
}

// lines splits what a command printed (run's answer) into its lines.
func lines(out []byte) [][]byte {
	var ls [][]byte
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ls = append(ls, append([]byte(nil), sc.Bytes()...))
	}
	return ls
}

// natsServer is a NATS server with JetStream run as a process of its own.
type natsServer struct {
	*proc
	url string
}

func newNATS(t *testing.T) *natsServer {
	port := freePort(t)
	p := newProc(t, "nats", nil, bins.nats, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", t.TempDir())
	return &natsServer{proc: p, url: fmt.Sprintf("nats://127.0.0.1:%d", port)}
}

// startServing starts the server and waits until it takes connections.
func (n *natsServer) startServing() {
	n.t.Helper()
	n.start()
	addr := n.url[len("nats://"):]
	testkit.WaitFor(n.t, 60*time.Second, "NATS to listen", func() bool {
		n.failIfExited()
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

var probe = &http.Client{Timeout: 5 * time.Second}

// status returns the status of a GET, 0 when there is no answer.
func status(url string) int {
	resp, err := probe.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
