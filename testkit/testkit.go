// Package testkit keeps the account of tests that could not run, so that a
// plain `go test ./...` says what it did not test and why.
//
// A test that needs something the machine lacks (PostgreSQL, Chromium, root
// for a tmpfs) calls Skip, which records the reason and skips the test. A
// package's TestMain calls Main, which runs the tests and then writes one
// line naming what did not run, and how to run it. `go test ./...` shows no
// output of a package whose tests pass, so the line goes to the terminal
// (/dev/tty) when there is one, as well as to standard error (seen with
// -v, and in CI's log). Where no one watches a terminal (CI, a pipe), set
// INKWELL_TEST_REQUIRE_ALL=1: then a test that would skip fails instead,
// naming what is missing, so that nothing goes untested unseen (.ci/run
// sets it).
//
// It also holds the small helpers that tests of several packages share:
// waiting for a condition, a clock the test moves, a buffer a server logs
// to, a writer to the test's log.
package testkit

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

var (
	mu       sync.Mutex
	skipped  = map[string][]string{} // what was missing → the tests that needed it
	notBuilt []string
)

// Parallel lets n parallel tests of a package run at once (at least
// GOMAXPROCS, the default) unless -parallel was given: for a package whose
// tests wait on servers, networks and disks more than they compute. A
// TestMain calls it before Main.
func Parallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		_ = flag.Set("test.parallel", strconv.Itoa(max(n, runtime.GOMAXPROCS(0))))
	}
}

// RequireAll is the environment variable that turns every Skip into a
// failure.
const RequireAll = "INKWELL_TEST_REQUIRE_ALL"

// Skip records that tb cannot run without what (such as
// "INKWELL_TEST_DATABASE_URL"), and skips it saying how to provide it. The
// message starts with "SKIP:", which CI looks for. With RequireAll set, it
// fails tb instead.
func Skip(tb testing.TB, what, how string) {
	tb.Helper()
	if os.Getenv(RequireAll) != "" {
		tb.Fatalf("this test needs %s: %s (%s is set: no test may skip)", what, how, RequireAll)
	}
	mu.Lock()
	skipped[what] = append(skipped[what], tb.Name())
	mu.Unlock()
	tb.Skipf("SKIP: this test needs %s: %s", what, how)
}

// NotBuilt records that tests of the package are not in this build (they
// need a build tag): how says the command that runs them.
func NotBuilt(what, how string) {
	mu.Lock()
	notBuilt = append(notBuilt, what+" ("+how+")")
	mu.Unlock()
}

// Main runs the package's tests (m.Run), reports what did not run, and
// returns the exit code for os.Exit. pkg names the package in the report.
func Main(m *testing.M, pkg string) int {
	code := m.Run()
	if line := Report(pkg); line != "" {
		fmt.Fprintln(os.Stderr, line)
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			_, _ = io.WriteString(tty, line+"\n")
			tty.Close()
		}
	}
	return code
}

// Report returns the line naming what did not run in this process, or ""
// when everything ran.
func Report(pkg string) string {
	mu.Lock()
	defer mu.Unlock()
	if len(skipped) == 0 && len(notBuilt) == 0 {
		return ""
	}
	var parts []string
	total := 0
	for what, tests := range skipped {
		total += len(tests)
		parts = append(parts, fmt.Sprintf("%d without %s", len(tests), what))
	}
	sort.Strings(parts)
	line := pkg + ": "
	if total > 0 {
		line += fmt.Sprintf("%d tests did not run (%s)", total, strings.Join(parts, ", "))
	}
	if len(notBuilt) > 0 {
		if total > 0 {
			line += "; "
		}
		line += "not built: " + strings.Join(notBuilt, ", ")
	}
	return line + "; see docs/testing.md"
}
