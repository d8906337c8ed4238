// Command inkwell-bench is Inkwell's load benchmark: it builds a data set of
// a given size through the API, runs Inkwell as a process of its own on
// SQLite or PostgreSQL, drives each endpoint with closed-loop workers at set
// concurrencies (a trivial endpoint of the same binary measured in the same
// run is the ceiling), and prints one table with the process's memory and
// start-up time.
//
//	go run ./cmd/inkwell-bench                          # SQLite, 1,000 articles
//	go run ./cmd/inkwell-bench -articles 100000 -database postgres://postgres@127.0.0.1:5432/test
//
// Each worker connects from a loopback address of its own (127.0.x.y), so
// the per-address throttles of registrations and logins see many clients,
// as they would in production, rather than one.
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"inkwell/auth"
)

type config struct {
	database   string
	articles   int
	authors    int
	duration   time.Duration
	readConns  int
	writeConns []int
	binary     string
	keep       bool
	only       *regexp.Regexp
	createRate int
}

func main() {
	var c config
	var writeConns string
	flag.StringVar(&c.database, "database", "", "a PostgreSQL URL to run Inkwell on (a schema of its own is created and dropped); empty: SQLite")
	flag.IntVar(&c.articles, "articles", 1000, "articles in the data set")
	flag.IntVar(&c.authors, "authors", 50, "authors (accounts) in the data set")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "how long each endpoint is driven")
	flag.IntVar(&c.readConns, "read-conns", 16, "concurrent connections of the read endpoints")
	flag.StringVar(&writeConns, "write-conns", "16,64", "comma-separated concurrencies of the create endpoint")
	flag.IntVar(&c.createRate, "create-rate", 200, "requests a second of the create endpoint's fixed-rate run (0: none)")
	flag.StringVar(&c.binary, "inkwell", "", "the inkwell binary to run (default: built from ./cmd/inkwell)")
	flag.BoolVar(&c.keep, "keep", false, "keep the data directory (and the PostgreSQL schema)")
	only := flag.String("only", "", "drive only the endpoints whose names match this regular expression (the ceiling always runs)")
	flag.Parse()
	var err error
	if c.only, err = regexp.Compile(*only); err != nil {
		fmt.Fprintf(os.Stderr, "inkwell-bench: -only: %v\n", err)
		os.Exit(2)
	}
	for _, f := range strings.Split(writeConns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "inkwell-bench: -write-conns %q: %q is not a positive number\n", writeConns, f)
			os.Exit(2)
		}
		c.writeConns = append(c.writeConns, n)
	}
	if c.articles < 1 || c.authors < 1 || c.readConns < 1 || c.duration <= 0 {
		fmt.Fprintln(os.Stderr, "inkwell-bench: -articles, -authors, -read-conns and -duration must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "inkwell-bench:", err)
		os.Exit(1)
	}
}

// row is one line of the table.
type row struct {
	skipped      bool // not selected by -only
	what         string
	conns        int
	n, errors    int
	shed         int // errors that were 503s (a dependency or the hasher busy)
	reqPerSec    float64
	p50, p99     time.Duration
	firstFailure string
}

func run(ctx context.Context, c config) error {
	work, err := os.MkdirTemp("", "inkwell-bench-")
	if err != nil {
		return err
	}
	if c.keep {
		fmt.Println("data directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	if c.binary == "" {
		c.binary = filepath.Join(work, "inkwell")
		build := exec.CommandContext(ctx, "go", "build", "-o", c.binary, "./cmd/inkwell")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build inkwell: %w", err)
		}
	}
	dbURL, dropSchema, err := database(c)
	if err != nil {
		return err
	}
	defer dropSchema()
	dialect := cmp.Or(map[bool]string{true: "PostgreSQL"}[dbURL != ""], "SQLite")

	srv, err := start(ctx, c.binary, work, dbURL)
	if err != nil {
		return err
	}
	defer func() { srv.stop() }()
	fmt.Printf("Inkwell on %s, started and ready in %s (empty)\n", dialect, srv.ready.Round(time.Millisecond))

	seedStart := time.Now()
	data, err := seed(ctx, c, srv)
	if err != nil {
		return fmt.Errorf("build the data set: %w", err)
	}
	fmt.Printf("data set: %d authors, %d articles (%d published), %d categories, %d tags, %d edits, built in %s\n",
		len(data.authors), c.articles, data.published, len(data.categories), len(data.tags), data.edits, time.Since(seedStart).Round(time.Second))

	// A restart with the data: how long until it serves and is ready.
	srv.stop()
	if srv, err = start(ctx, c.binary, work, dbURL); err != nil {
		return err
	}
	fmt.Printf("restarted with the data set: serving (/healthz) in %s, ready (/readyz) in %s\n",
		srv.serving.Round(time.Millisecond), srv.ready.Round(time.Millisecond))
	if err := data.relogin(ctx, srv); err != nil {
		return fmt.Errorf("log the authors in again: %w", err)
	}
	rssStart := srv.memory()

	selected = c.only
	var rows []row
	add := func(r row) {
		if r.skipped {
			return
		}
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "  %-34s %3d conns: %8.0f req/s\n", r.what, r.conns, r.reqPerSec)
	}
	reader := data.authors[0]
	slug := data.slugs[len(data.slugs)/2|1] // an odd index: nine in ten are published, and 0 mod 10 are not
	// The ceiling first, then the reads, each as its own run of duration.
	add(drive(ctx, srv, ceilingName, c.readConns, c.duration, func(w *worker) (int, error) {
		return w.do("GET", "/healthz", "", nil)
	}))
	add(drive(ctx, srv, "list 20 articles", c.readConns, c.duration, func(w *worker) (int, error) {
		return w.do("GET", "/api/articles/", "", nil)
	}))
	mid, err := cursorHalfWay(ctx, srv, c.articles)
	switch {
	case errors.Is(err, errNoCursors):
		// A build from before cursors: half-way by page.
		page := fmt.Sprint(max(1, data.published/40))
		add(drive(ctx, srv, "list 20 articles, half-way (page)", c.readConns, c.duration, func(w *worker) (int, error) {
			return w.do("GET", "/api/articles/?page="+page, "", nil)
		}))
	case err != nil:
		return err
	default:
		add(drive(ctx, srv, "list 20 articles, half-way (cursor)", c.readConns, c.duration, func(w *worker) (int, error) {
			return w.do("GET", "/api/articles/?cursor="+url.QueryEscape(mid), "", nil)
		}))
	}
	add(drive(ctx, srv, "list 20 articles by title", c.readConns, c.duration, func(w *worker) (int, error) {
		return w.do("GET", "/api/articles/?ordering=title", "", nil)
	}))
	add(drive(ctx, srv, "one article by slug", c.readConns, c.duration, func(w *worker) (int, error) {
		return w.do("GET", "/api/articles/"+slug+"/", "", nil)
	}))
	add(drive(ctx, srv, "GET /api/auth/me/ (authenticated)", c.readConns, c.duration, func(w *worker) (int, error) {
		return w.do("GET", "/api/auth/me/", reader.access, nil)
	}))
	add(drive(ctx, srv, "one article, authenticated", c.readConns, c.duration, func(w *worker) (int, error) {
		return w.do("GET", "/api/articles/"+slug+"/", reader.access, nil)
	}))
	for _, conns := range c.writeConns {
		var seq atomic.Int64
		add(drive(ctx, srv, "create article", conns, c.duration, func(w *worker) (int, error) {
			a := data.authors[w.id%len(data.authors)]
			n := seq.Add(1)
			return w.do("POST", "/api/articles/", a.access, map[string]any{
				"title": fmt.Sprintf("Load %d %d %s", conns, n, data.run), "content": "Written under load.", "is_published": true,
			})
		}))
	}
	if c.createRate > 0 {
		var seq atomic.Int64
		add(driveRate(ctx, srv, fmt.Sprintf("create article at %d req/s", c.createRate), c.createRate, c.duration, func(w *worker) (int, error) {
			a := data.authors[w.id%len(data.authors)]
			return w.do("POST", "/api/articles/", a.access, map[string]any{
				"title": fmt.Sprintf("Paced %d %s", seq.Add(1), data.run), "content": "Written at a set rate.", "is_published": true,
			})
		}))
	}
	add(drive(ctx, srv, "update article", c.readConns, c.duration, func(w *worker) (int, error) {
		a := data.authors[w.id%len(data.authors)]
		w.n++
		return w.do("PATCH", "/api/articles/"+a.article+"/", a.access, map[string]any{"content": fmt.Sprintf("Edit %d of worker %d.", w.n, w.id)})
	}))
	rssWrites := srv.memory()
	srv.resetPeak() // the peak of the login burst alone
	login := drive(ctx, srv, "login", c.readConns, c.duration, func(w *worker) (int, error) {
		a := data.authors[w.id%len(data.authors)]
		return w.do("POST", "/api/auth/login/", "", map[string]any{"username": a.username, "password": a.password})
	})
	add(login)
	rssLogin := srv.memory()
	rssAfterLogin := "not measured"
	if !login.skipped {
		time.Sleep(3 * time.Second) // what the process keeps once the burst is over
		rssAfterLogin = srv.memory()
	}

	ceiling := rows[0].reqPerSec
	fmt.Printf("\nInkwell on %s, %d articles; each endpoint driven for %s by closed-loop workers\n\n", dialect, c.articles, c.duration)
	fmt.Println("| endpoint | conns | req/s | p50 ms | p99 ms | errors (503s) | ratio to the ceiling |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		conns := strconv.Itoa(r.conns)
		if r.conns == 0 {
			conns = "open loop"
		}
		fmt.Printf("| %s | %s | %.0f | %.1f | %.1f | %d (%d) | %.2f |\n", r.what, conns, r.reqPerSec,
			float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000, r.errors, r.shed, r.reqPerSec/ceiling)
	}
	if !login.skipped {
		verifies := hashRate(c.duration)
		fmt.Printf("\nargon2id verifies/s of Inkwell's parameters in this process, %d at once: %.0f; logins/s over that: %.2f\n",
			runtimeCPUs(), verifies, login.reqPerSec/verifies)
	}
	fmt.Printf("RSS (peak): after the restart %s; after the writes %s; after the logins %s (peak of the login burst alone); 3 s later %s\n",
		rssStart, rssWrites, rssLogin, rssAfterLogin)
	fmt.Printf("start-up with the data set: serving in %s, ready in %s\n", srv.serving.Round(time.Millisecond), srv.ready.Round(time.Millisecond))
	var failed []string
	broken := false
	for _, r := range rows {
		if r.firstFailure != "" {
			failed = append(failed, fmt.Sprintf("%s: %d errors (%d 503s), the first: %s", r.what, r.errors, r.shed, r.firstFailure))
		}
		broken = broken || r.errors > r.shed || r.n == r.errors
	}
	if len(failed) > 0 {
		fmt.Println("\nerrors:\n  " + strings.Join(failed, "\n  "))
	}
	if broken {
		return errors.New("some requests failed other than with a 503, or an endpoint answered none: the benchmark is broken")
	}
	return nil
}

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
	cmd.Env = append(os.Environ(), "INKWELL_ADDR=127.0.0.1:"+strconv.Itoa(port), "INKWELL_DATA_DIR="+filepath.Join(dir, "data"),
		"INKWELL_LOG_LEVEL=warn", "INKWELL_DATABASE_URL="+dbURL)
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

// memory returns the process's resident set size, now and at its peak.
func (s *server) memory() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return "unknown"
	}
	field := func(name string) string {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, name+":") {
				kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(line, name+":")), " kB"))
				return strconv.Itoa(kb/1024) + " MB"
			}
		}
		return "?"
	}
	return field("VmRSS") + " (" + field("VmHWM") + ")"
}

// resetPeak starts the process's peak resident memory (VmHWM) afresh
// (Linux: 5 written to /proc/<pid>/clear_refs), so that the next reading
// of memory shows the peak of what ran since.
func (s *server) resetPeak() {
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0)
}

// worker is one closed-loop client, connecting from its own address.
type worker struct {
	id     int
	n      int
	base   string
	client *http.Client
}

// clientAddr is the loopback source address of worker i.
func clientAddr(i int) net.IP { return net.IPv4(127, byte(1+i/250), 0, byte(2+i%250)) }

func newWorker(id int, base string) *worker {
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: clientAddr(id)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}
	return &worker{id: id, base: base, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends one request and reads its answer; a status of 400 and up is an
// error.
func (w *worker) do(method, path, token string, body any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return resp.StatusCode, nil
}

// call sends one request and decodes its JSON answer into out.
func (w *worker) call(method, path, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// drive runs conns workers sending requests for d and measures them.
func drive(ctx context.Context, s *server, what string, conns int, d time.Duration, send func(*worker) (int, error)) row {
	if what != ceilingName && !selected.MatchString(what) {
		return row{what: what, conns: conns, skipped: true}
	}
	var mu sync.Mutex
	var lat []time.Duration
	r := row{what: what, conns: conns}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	began := time.Now()
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(i, s.base)
			var mine []time.Duration
			errs, shed, first := 0, 0, ""
			for ctx.Err() == nil {
				t := time.Now()
				status, err := send(w)
				mine = append(mine, time.Since(t))
				if status == http.StatusServiceUnavailable {
					shed++
				}
				if err != nil {
					errs++
					if first == "" {
						first = err.Error()
					}
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			r.errors += errs
			r.shed += shed
			if r.firstFailure == "" {
				r.firstFailure = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	took := time.Since(began)
	slices.Sort(lat)
	r.n = len(lat)
	if r.n > 0 {
		r.p50, r.p99 = lat[r.n/2], lat[min(r.n-1, r.n*99/100)]
	}
	r.reqPerSec = float64(r.n) / took.Seconds()
	if len(r.firstFailure) > 300 {
		r.firstFailure = r.firstFailure[:300]
	}
	return r
}

// ceilingName is the trivial endpoint's row; selected picks the others
// (-only).
const ceilingName = "trivial (/healthz)"

var selected = regexp.MustCompile("")

// errNoCursors says that the server's lists give no cursors.
var errNoCursors = errors.New("the lists give no cursors")

// driveRate sends rate requests a second for d (open loop: each is sent at
// its time whether or not the earlier ones were answered) and measures each
// from the time it was due, so that a stall counts for every request it
// held up.
func driveRate(ctx context.Context, s *server, what string, rate int, d time.Duration, send func(*worker) (int, error)) row {
	r := row{what: what, conns: 0}
	if !selected.MatchString(what) {
		r.skipped = true
		return r
	}
	total := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	lat := make([]time.Duration, total)
	status := make([]int, total)
	errs := make([]error, total)
	// Clients (and their kept-alive connections) are shared by the
	// requests: opening a connection per request would be timed too.
	workers := make([]*worker, 64)
	for i := range workers {
		workers[i] = newWorker(i, s.base)
	}
	var wg sync.WaitGroup
	began := time.Now()
	for i := range total {
		due := began.Add(time.Duration(i) * interval)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
				total = i
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			total = i
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			status[i], errs[i] = send(workers[i%len(workers)])
			lat[i] = time.Since(due)
		}()
	}
	wg.Wait()
	took := time.Since(began)
	lat = lat[:total]
	for i := range total {
		if errs[i] != nil {
			r.errors++
			if status[i] == http.StatusServiceUnavailable {
				r.shed++
			}
			if r.firstFailure == "" {
				r.firstFailure = errs[i].Error()
			}
		}
	}
	slices.Sort(lat)
	r.n = len(lat)
	if r.n > 0 {
		r.p50, r.p99 = lat[r.n/2], lat[min(r.n-1, r.n*99/100)]
	}
	r.reqPerSec = float64(r.n) / took.Seconds()
	return r
}

// cursorHalfWay walks the published list to its middle and returns the
// cursor there.
func cursorHalfWay(ctx context.Context, s *server, articles int) (string, error) {
	w := newWorker(0, s.base)
	cursor := ""
	for range max(1, articles/200) {
		var page map[string]any
		path := "/api/articles/?page_size=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := w.call("GET", path, "", nil, &page); err != nil {
			return "", err
		}
		next, known := page["next"]
		if !known {
			return "", errNoCursors
		}
		if next == nil {
			break
		}
		cursor, _ = next.(string)
	}
	if cursor == "" {
		return "", errors.New("the article list has a single page: use more -articles")
	}
	return cursor, nil
}

func runtimeCPUs() int { return max(1, runtime.NumCPU()) }

// hashRate measures argon2id verifies per second with Inkwell's parameters,
// as many at once as CPUs, for d.
func hashRate(d time.Duration) float64 {
	h := auth.NewHasher(auth.OWASPParams(), runtimeCPUs())
	hash, err := h.Hash(context.Background(), "a password of the benchmark")
	if err != nil {
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	began := time.Now()
	for range runtimeCPUs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if ok, _ := h.Verify(context.Background(), "a password of the benchmark", hash); ok {
					n.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(began).Seconds()
}
