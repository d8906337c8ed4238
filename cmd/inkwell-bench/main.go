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
		if c.binary, err = build(ctx, work); err != nil {
			return err
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
	data, err := seedAndRestart(ctx, c, &srv, work, dbURL)
	if err != nil {
		return err
	}
	res, err := measure(ctx, c, srv, data)
	if err != nil {
		return err
	}
	res.report(c, dialect, srv)
	return res.verdict()
}

// build builds Inkwell into dir and returns the binary's path.
func build(ctx context.Context, dir string) (string, error) {
	binary := filepath.Join(dir, "inkwell")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/inkwell")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build inkwell: %w", err)
	}
	return binary, nil
}

// seedAndRestart builds the data set through the API, then restarts the
// server (*srv) to time a start-up with the data, and logs the authors in
// again.
func seedAndRestart(ctx context.Context, c config, srv **server, work, dbURL string) (*dataSet, error) {
	seedStart := time.Now()
	data, err := seed(ctx, c, *srv)
	if err != nil {
		return nil, fmt.Errorf("build the data set: %w", err)
	}
	fmt.Printf("data set: %d authors, %d articles (%d published), %d categories, %d tags, %d edits, built in %s\n",
		len(data.authors), c.articles, data.published, len(data.categories), len(data.tags), data.edits, time.Since(seedStart).Round(time.Second))
	(*srv).stop()
	if *srv, err = start(ctx, c.binary, work, dbURL); err != nil {
		return nil, err
	}
	fmt.Printf("restarted with the data set: serving (/healthz) in %s, ready (/readyz) in %s\n",
		(*srv).serving.Round(time.Millisecond), (*srv).ready.Round(time.Millisecond))
	if err := data.relogin(ctx, *srv); err != nil {
		return nil, fmt.Errorf("log the authors in again: %w", err)
	}
	return data, nil
}

// results are a run's rows and the server's memory along the way.
type results struct {
	rows                                         []row
	login                                        row
	rssStart, rssWrites, rssLogin, rssAfterLogin string
}

func (res *results) add(r row) {
	if r.skipped {
		return
	}
	res.rows = append(res.rows, r)
	fmt.Fprintf(os.Stderr, "  %-34s %3d conns: %8.0f req/s\n", r.what, r.conns, r.reqPerSec)
}

// measure drives each endpoint in turn: the ceiling first, then the reads,
// the writes and the logins, each as its own run of c.duration.
func measure(ctx context.Context, c config, srv *server, data *dataSet) (*results, error) {
	res := &results{rssStart: srv.memory()}
	selected = c.only
	if err := measureReads(ctx, c, srv, data, res); err != nil {
		return nil, err
	}
	measureWrites(ctx, c, srv, data, res)
	res.rssWrites = srv.memory()
	srv.resetPeak() // the peak of the login burst alone
	res.login = drive(ctx, srv, "login", c.readConns, c.duration, func(w *worker) (int, error) {
		a := data.authors[w.id%len(data.authors)]
		return w.do("POST", "/api/auth/login/", "", map[string]any{"username": a.username, "password": a.password})
	})
	res.add(res.login)
	res.rssLogin, res.rssAfterLogin = srv.memory(), "not measured"
	if !res.login.skipped {
		time.Sleep(3 * time.Second) // what the process keeps once the burst is over
		res.rssAfterLogin = srv.memory()
	}
	return res, nil
}

func measureReads(ctx context.Context, c config, srv *server, data *dataSet, res *results) error {
	get := func(what, path, token string) {
		res.add(drive(ctx, srv, what, c.readConns, c.duration, func(w *worker) (int, error) {
			return w.do("GET", path, token, nil)
		}))
	}
	reader := data.authors[0]
	slug := data.slugs[len(data.slugs)/2|1] // an odd index: nine in ten are published, and 0 mod 10 are not
	get(ceilingName, "/healthz", "")
	get("list 20 articles", "/api/articles/", "")
	mid, err := cursorHalfWay(ctx, srv, c.articles)
	switch {
	case errors.Is(err, errNoCursors):
		// A build from before cursors: half-way by page.
		get("list 20 articles, half-way (page)", "/api/articles/?page="+fmt.Sprint(max(1, data.published/40)), "")
	case err != nil:
		return err
	default:
		get("list 20 articles, half-way (cursor)", "/api/articles/?cursor="+url.QueryEscape(mid), "")
	}
	get("list 20 articles by title", "/api/articles/?ordering=title", "")
	get("one article by slug", "/api/articles/"+slug+"/", "")
	get("GET /api/auth/me/ (authenticated)", "/api/auth/me/", reader.access)
	get("one article, authenticated", "/api/articles/"+slug+"/", reader.access)
	return nil
}

func measureWrites(ctx context.Context, c config, srv *server, data *dataSet, res *results) {
	for _, conns := range c.writeConns {
		var seq atomic.Int64
		res.add(drive(ctx, srv, "create article", conns, c.duration, func(w *worker) (int, error) {
			a := data.authors[w.id%len(data.authors)]
			n := seq.Add(1)
			return w.do("POST", "/api/articles/", a.access, map[string]any{
				"title": fmt.Sprintf("Load %d %d %s", conns, n, data.run), "content": "Written under load.", "is_published": true,
			})
		}))
	}
	if c.createRate > 0 {
		var seq atomic.Int64
		res.add(driveRate(ctx, srv, fmt.Sprintf("create article at %d req/s", c.createRate), c.createRate, c.duration, func(w *worker) (int, error) {
			a := data.authors[w.id%len(data.authors)]
			return w.do("POST", "/api/articles/", a.access, map[string]any{
				"title": fmt.Sprintf("Paced %d %s", seq.Add(1), data.run), "content": "Written at a set rate.", "is_published": true,
			})
		}))
	}
	res.add(drive(ctx, srv, "update article", c.readConns, c.duration, func(w *worker) (int, error) {
		a := data.authors[w.id%len(data.authors)]
		w.n++
		return w.do("PATCH", "/api/articles/"+a.article+"/", a.access, map[string]any{"content": fmt.Sprintf("Edit %d of worker %d.", w.n, w.id)})
	}))
}

// report prints the table, the hashing rate logins are held to, and the
// memory and start-up figures.
func (res *results) report(c config, dialect string, srv *server) {
	ceiling := res.rows[0].reqPerSec
	fmt.Printf("\nInkwell on %s, %d articles; each endpoint driven for %s by closed-loop workers\n\n", dialect, c.articles, c.duration)
	fmt.Println("| endpoint | conns | req/s | p50 ms | p99 ms | errors (503s) | ratio to the ceiling |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range res.rows {
		conns := strconv.Itoa(r.conns)
		if r.conns == 0 {
			conns = "open loop"
		}
		fmt.Printf("| %s | %s | %.0f | %.1f | %.1f | %d (%d) | %.2f |\n", r.what, conns, r.reqPerSec,
			float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000, r.errors, r.shed, r.reqPerSec/ceiling)
	}
	if !res.login.skipped {
		verifies := hashRate(c.duration)
		fmt.Printf("\nargon2id verifies/s of Inkwell's parameters in this process, %d at once: %.0f; logins/s over that: %.2f\n",
			runtimeCPUs(), verifies, res.login.reqPerSec/verifies)
	}
	fmt.Printf("RSS (peak): after the restart %s; after the writes %s; after the logins %s (peak of the login burst alone); 3 s later %s\n",
		res.rssStart, res.rssWrites, res.rssLogin, res.rssAfterLogin)
	fmt.Printf("start-up with the data set: serving in %s, ready in %s\n", srv.serving.Round(time.Millisecond), srv.ready.Round(time.Millisecond))
}

// verdict lists the errors and fails the run if any request failed other
// than with a 503, or an endpoint answered none.
func (res *results) verdict() error {
	var failed []string
	broken := false
	for _, r := range res.rows {
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
