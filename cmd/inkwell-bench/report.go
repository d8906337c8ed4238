package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"inkwell/auth"
)

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
