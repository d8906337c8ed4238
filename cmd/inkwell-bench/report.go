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
	if !res.login.skipped || !res.freshLogin.skipped {
		verifies := hashRate(c.duration)
		p := auth.OWASPParams()
		fmt.Printf("\nargon2id verifies/s of Inkwell's default parameters (m=%d KiB, t=%d) in this process, %d at once: %.0f; logins/s over that: %s before the writes, %s right after them\n",
			p.Memory, p.Iterations, runtimeCPUs(), verifies, ratio(res.freshLogin, verifies), ratio(res.login, verifies))
		if !res.login.skipped && !res.freshLogin.skipped {
			fmt.Printf("logins right after the writes over logins before them: %s (p50 %.1f ms over %.1f ms; the server's CPU time a login: %s after, %s before)\n",
				ratio(res.login, res.freshLogin.reqPerSec), float64(res.login.p50.Microseconds())/1000, float64(res.freshLogin.p50.Microseconds())/1000,
				srv.cpuPer("logins right after the writes", res.login.n), srv.cpuPer("logins before the writes", res.freshLogin.n))
		}
	}
	srv.reportMemory(c.rssBudget)
	fmt.Printf("start-up with the data set: serving in %s, ready in %s\n", srv.serving.Round(time.Millisecond), srv.ready.Round(time.Millisecond))
}

// ratio is r's requests a second over d ("not measured" when r did not run).
func ratio(r row, d float64) string {
	if r.skipped || d <= 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.2f", r.reqPerSec/d)
}

// cpuPer is the server's CPU time over the phase named over n requests.
func (s *server) cpuPer(name string, n int) string {
	for _, p := range s.phases {
		if p.name == name && p.cpu >= 0 && n > 0 {
			return fmt.Sprintf("%.1f ms", float64(p.cpu.Microseconds())/1000/float64(n))
		}
	}
	return "unknown"
}

// reportMemory prints the server's resident memory over each phase of the
// workload and its peak over the whole of it, against budget (MB; 0: none).
func (s *server) reportMemory(budget int) {
	mb := func(kb int) string {
		if kb < 0 {
			return "unknown"
		}
		return strconv.Itoa(kb/1024) + " MB"
	}
	since := "over the phase"
	if s.cumulative {
		since = "since its process started (the peak could not be reset)"
	}
	fmt.Printf("\n| phase | peak RSS %s | RSS at its end | the server's CPU time |\n|---|---:|---:|---:|\n", since)
	peak, worst := -1, ""
	for _, p := range s.phases {
		cpu := "unknown"
		if p.cpu >= 0 {
			cpu = p.cpu.Round(10 * time.Millisecond).String()
		}
		fmt.Printf("| %s | %s | %s | %s |\n", p.name, mb(p.peak), mb(p.end), cpu)
		if p.peak > peak {
			peak, worst = p.peak, p.name
		}
	}
	verdict := ""
	switch {
	case budget <= 0 || peak < 0:
	case peak <= budget*1024:
		verdict = fmt.Sprintf(", within the budget of %d MB", budget)
	default:
		verdict = fmt.Sprintf(", OVER the budget of %d MB", budget)
	}
	fmt.Printf("peak RSS over the whole workload: %s (%s)%s\n", mb(peak), worst, verdict)
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
