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
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
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
	rssBudget  int
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
	flag.IntVar(&c.rssBudget, "rss-budget", 150, "the server's resident memory (MB) that no phase of the workload should pass: the report says whether the peak did (0: none)")
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
	run := run
	if *replayMode {
		run = runReplay
	}
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "inkwell-bench:", err)
		os.Exit(1)
	}
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
	fmt.Printf("data set: %d authors (each following %d), %d articles (%d published), %d categories, %d tags, %d edits, %d favorites, %d comments, built in %s\n",
		len(data.authors), data.follows, c.articles, len(data.published), len(data.categories), len(data.tags), data.edits,
		data.favorites, data.comments, time.Since(seedStart).Round(time.Second))
	first := *srv
	first.endPhase("building the data set")
	first.stop()
	if *srv, err = start(ctx, c.binary, work, dbURL); err != nil {
		return nil, err
	}
	(*srv).phases, (*srv).cumulative = first.phases, first.cumulative
	fmt.Printf("restarted with the data set: serving (/healthz) in %s, ready (/readyz) in %s\n",
		(*srv).serving.Round(time.Millisecond), (*srv).ready.Round(time.Millisecond))
	if err := data.relogin(ctx, *srv); err != nil {
		return nil, fmt.Errorf("log the authors in again: %w", err)
	}
	return data, nil
}
