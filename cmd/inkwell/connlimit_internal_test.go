package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// At its bound the server closes the connection quiet the longest (idle
// between requests, or open with nothing sent) for a new one; when every one
// has a request under way, the new one waits, unserved and uncounted, until
// one is done.
func TestConnectionsAreBounded(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limited := newConnLimiter(ln, 2)
	release := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	srv := &http.Server{ConnState: limited.connState, ReadHeaderTimeout: time.Minute,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ch, ok := release[r.URL.Query().Get("wait")]; ok {
				<-ch
			}
		})}
	go srv.Serve(limited)
	t.Cleanup(func() { srv.Close() })

	type client struct {
		net.Conn
		r *bufio.Reader
	}
	dial := func() client {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return client{c, bufio.NewReader(c)}
	}
	send := func(c client, query string) {
		if _, err := io.WriteString(c, "GET /?"+query+" HTTP/1.1\r\nHost: inkwell\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	answered := func(c client, what string) {
		resp, err := http.ReadResponse(c.r, nil)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", what, resp.StatusCode)
		}
	}
	count := func() (open int, waiting bool) {
		limited.mu.Lock()
		defer limited.mu.Unlock()
		return limited.open, limited.waiting
	}
	// until waits for cond, read under the limiter's lock, to hold: the
	// limiter signals every change of its state.
	until := func(cond func() bool) {
		limited.mu.Lock()
		defer limited.mu.Unlock()
		for !cond() {
			limited.changed.Wait()
		}
	}
	quiet := func(n int) func() bool {
		return func() bool { return len(limited.quiet) == n }
	}

	// Two idle keep-alive connections; a third closes the older of them.
	first := dial()
	send(first, "")
	answered(first, "the first request")
	until(quiet(1))
	second := dial()
	send(second, "")
	answered(second, "the second request")
	until(quiet(2))
	third := dial()
	send(third, "")
	answered(third, "a request at the bound")
	until(func() bool { return len(limited.quiet) >= 2 }) // second and third idle
	if open, _ := count(); open != 2 {
		t.Fatalf("%d connections counted at a bound of 2", open)
	}
	send(second, "")
	answered(second, "the other idle connection, kept")
	until(quiet(2)) // second idle again, since after third
	if b, err := first.r.ReadByte(); err == nil {
		t.Fatalf("the connection idle the longest sent %q, where it was to be closed", b)
	}

	// A connection that sends nothing is closed for a new one, as an idle
	// one is.
	silent := dial() // closes third, quiet the longest
	if b, err := third.r.ReadByte(); err == nil {
		t.Fatalf("the connection idle the longest sent %q, where it was to be closed", b)
	}
	until(quiet(2)) // second, idle, and silent, new
	send(second, "")
	answered(second, "a request on the connection kept")
	until(quiet(2)) // second is idle again: silent is now quiet the longest
	third = dial()
	send(third, "")
	answered(third, "a request at the bound, for which the silent connection is closed")
	if b, err := silent.r.ReadByte(); err == nil {
		t.Fatalf("the silent connection got %q, where it was to be closed", b)
	}

	// Both connections busy: a new one waits, not counted, until one is done.
	send(second, "wait=a")
	send(third, "wait=b")
	until(quiet(0))
	fourth := dial()
	send(fourth, "")
	until(func() bool { return limited.waiting })
	if open, _ := count(); open != 2 {
		t.Fatalf("%d connections counted at a bound of 2", open)
	}
	close(release["a"])
	answered(second, "a request that waited on its handler")
	answered(fourth, "the connection that waited for room")
	close(release["b"])
	answered(third, "the other busy connection")
}
