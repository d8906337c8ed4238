package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// database returns the PostgreSQL URL of a schema of the run's own (and
// how to drop it), or "" for SQLite.
func database(c config) (string, func(), error) {
	if c.database == "" {
		return "", func() {}, nil
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "bench_" + hex.EncodeToString(b)
	db, err := sql.Open("pgx", c.database)
	if err != nil {
		return "", nil, err
	}
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		db.Close()
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	u, err := url.Parse(c.database)
	if err != nil {
		db.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		if c.keep {
			fmt.Println("PostgreSQL schema:", schema)
		} else {
			_, _ = db.Exec("DROP SCHEMA " + schema + " CASCADE")
		}
		db.Close()
	}, nil
}

// server is a running Inkwell process.
type server struct {
	cmd            *exec.Cmd
	base           string
	dir, dbURL     string
	serving, ready time.Duration
	// phases are the phases of the workload closed so far, on this
	// process and on those it replaced (see endPhase); cumulative says
	// that the peaks could not be started afresh: each is the peak since
	// its process started.
	phases     []phase
	cumulative bool
	cpuBefore  time.Duration // the process's CPU time when its last phase ended
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs inkwell serve on the data directory and waits until it is
// ready, timing when it serves (/healthz) and when it is ready (/readyz).
func start(ctx context.Context, binary, dir, dbURL string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, "serve")
	// Access tokens that outlive the seeding of a large data set (15
	// minutes by default, and 100,000 articles may take longer on a busy
	// machine): verifying one costs the same whatever its lifetime.
	cmd.Env = append(os.Environ(), "INKWELL_ADDR=127.0.0.1:"+strconv.Itoa(port), "INKWELL_DATA_DIR="+filepath.Join(dir, "data"),
		"INKWELL_LOG_LEVEL=warn", "INKWELL_DATABASE_URL="+dbURL, "INKWELL_JWT_ACCESS_TTL=6h")
	logFile, err := os.OpenFile(filepath.Join(dir, "inkwell.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: "http://127.0.0.1:" + strconv.Itoa(port), dir: dir, dbURL: dbURL}
	client := &http.Client{Timeout: 2 * time.Second}
	for s.ready == 0 {
		if ctx.Err() != nil || time.Since(began) > 10*time.Minute {
			s.stop()
			return nil, fmt.Errorf("inkwell did not become ready (see %s)", filepath.Join(dir, "inkwell.log"))
		}
		path := "/healthz"
		if s.serving != 0 {
			path = "/readyz"
		}
		resp, err := client.Get(s.base + path)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if s.serving == 0 {
					s.serving = time.Since(began)
					continue
				}
				s.ready = time.Since(began)
				continue
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s, nil
}

func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// phase is the server's resident memory over one phase of the workload.
type phase struct {
	name      string
	peak, end int           // kB: the peak (VmHWM) over the phase, and the RSS (VmRSS) at its end
	cpu       time.Duration // the CPU time the process spent over the phase (-1: unknown)
}

// status reads the process's resident set size now and at its peak since
// the last resetPeak, in kB (ok false when /proc has not got them).
func (s *server) status() (rss, hwm int, ok bool) {
	return procStatus(s.cmd.Process.Pid)
}

// procStatus reads process pid's resident set size now and at its peak
// (VmRSS and VmHWM), in kB (ok false when /proc has not got them).
func procStatus(pid int) (rss, hwm int, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, false
	}
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		name, value, _ := strings.Cut(line, ":")
		kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(value), " kB"))
		switch {
		case err != nil:
		case name == "VmRSS":
			rss, found = kb, found+1
		case name == "VmHWM":
			hwm, found = kb, found+1
		}
	}
	return rss, hwm, found == 2
}

// endPhase closes the phase that began when the last one ended (or when
// the first process started): it records the peak resident memory over it
// and the memory at its end, then starts the peak afresh for the next.
func (s *server) endPhase(name string) {
	rss, hwm, ok := s.status()
	if !ok {
		rss, hwm = -1, -1
	}
	p := phase{name: name, peak: hwm, end: rss, cpu: -1}
	if cpu, ok := s.cpuTime(); ok {
		p.cpu = cpu - s.cpuBefore
		s.cpuBefore = cpu
	}
	s.phases = append(s.phases, p)
	s.resetPeak()
}

// cpuTime reads the CPU time (user and system) the process has spent
// since it started.
func (s *server) cpuTime() (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command's name, which is in parentheses and
	// may hold spaces: utime and stime are the 14th and 15th fields of
	// the line, in clock ticks (a hundredth of a second on Linux).
	_, rest, found := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if !found || len(fields) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true
}

// resetPeak starts the process's peak resident memory (VmHWM) afresh
// (Linux: 5 written to /proc/<pid>/clear_refs), so that the next reading
// shows the peak of what ran since. Where that fails, the peaks are
// counted from the process's start (s.cumulative).
func (s *server) resetPeak() {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0); err != nil {
		s.cumulative = true
	}
}
