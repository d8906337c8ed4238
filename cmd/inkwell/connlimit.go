package main

import (
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// defaultMaxConnections is INKWELL_MAX_CONNECTIONS's default. An idle
// keep-alive connection holds about 17 KB of the server's memory for up to
// its idle timeout (two minutes), and a file descriptor that the embedded
// event log and SQLite share: without a bound, a client that opens
// connections faster than they time out takes memory and descriptors from
// everything else in the process.
const defaultMaxConnections = 1024

// connLimiter bounds the connections an http.Server holds. A connection
// accepted at the bound closes the one quiet the longest (a keep-alive
// connection between requests, which a client reopens as it would after the
// idle timeout, or one that has sent nothing yet), or, when every one has a
// request under way, waits until one closes: the new connection waits
// accepted but unserved (later ones in the listen queue), and those being
// served go on.
type connLimiter struct {
	net.Listener
	max int

	mu      sync.Mutex
	changed *sync.Cond
	open    int
	quiet   map[net.Conn]time.Time // with no request under way, since
	closing map[net.Conn]bool      // closed for a new one, not yet counted closed
	waiting bool                   // Accept waits for a connection to close
	stopped bool                   // the listener is closed
}

func newConnLimiter(l net.Listener, max int) *connLimiter {
	c := &connLimiter{Listener: l, max: max, quiet: map[net.Conn]time.Time{}, closing: map[net.Conn]bool{}}
	c.changed = sync.NewCond(&c.mu)
	return c
}

// Accept accepts the next connection once the bound leaves room for it.
func (l *connLimiter) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.open >= l.max {
		if l.stopped {
			conn.Close()
			return nil, net.ErrClosed
		}
		// One closing at a time: until the one closed for this connection
		// is counted closed, another wake-up must not close a second.
		if l.open-len(l.closing) >= l.max {
			if oldest := l.oldestQuiet(); oldest != nil {
				delete(l.quiet, oldest)
				l.closing[oldest] = true
				go oldest.Close() // its server goroutine sees it closed
			}
		}
		l.waiting = true
		l.changed.Broadcast()
		l.changed.Wait()
	}
	l.waiting = false
	l.open++
	return &limitedConn{Conn: conn, l: l}, nil
}

// Close closes the listener, and ends an Accept waiting at the bound.
func (l *connLimiter) Close() error {
	l.mu.Lock()
	l.stopped = true
	l.changed.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}

func (l *connLimiter) oldestQuiet() net.Conn {
	var oldest net.Conn
	var since time.Time
	for c, t := range l.quiet {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	return oldest
}

// connState is the http.Server's ConnState hook: it keeps which connections
// have no request under way (new, or idle between requests), and since when.
func (l *connLimiter) connState(c net.Conn, state http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch state {
	case http.StateNew, http.StateIdle:
		l.quiet[c] = time.Now() // an Accept at the bound may close it
	default:
		delete(l.quiet, c)
	}
	l.changed.Broadcast()
}

// closed counts a connection closed, once.
func (l *connLimiter) closed(c net.Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.quiet, c)
	delete(l.closing, c)
	l.open--
	l.changed.Broadcast()
}

// limitedConn is a connection counted by its limiter until it closes.
type limitedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.closed(c) })
	return err
}

// CloseWrite half-closes a TCP connection, as net/http does after a refusal
// (a 431) so that the client reads it before the connection ends: without
// it the client's unread request makes the close a reset.
func (c *limitedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom lets net/http send a file with the connection's own ReadFrom
// (sendfile), as it would without the limiter.
func (c *limitedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(c.Conn, r)
}
