// Package faults injects the faults Inkwell must survive: a TCP proxy that
// cuts or freezes the connections to a dependency (NATS, PostgreSQL), and,
// in its tests, the fault suite that runs Inkwell under a write load while
// processes are killed, servers paused and disks filled.
package faults

import (
	"bytes"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy forwards TCP connections from its own address to a target address,
// and breaks them on demand: Cut closes every connection at once (as a
// crashed peer or a reset would), Freeze stops forwarding in both directions
// without closing anything (as a paused or partitioned peer would: the
// client's writes and reads just hang, and a side that closes its
// connection meanwhile is not heard of by the other), and CutAfter closes the connection
// right after forwarding a chosen request to the target, before its answer
// can come back.
type Proxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	conns    map[*pair]struct{}
	frozen   bool
	thawed   chan struct{} // closed on Thaw
	refuse   bool
	cutAfter []byte // cut a connection once a client sends this
	delay    time.Duration
	cutDone  chan struct{}
	closed   bool
	wg       sync.WaitGroup
}

type pair struct {
	client, server net.Conn
	// cut is set, before a request the proxy cuts after is forwarded, so
	// that nothing the target sends from then on reaches the client.
	cut atomic.Bool
}

func (p *pair) close() {
	p.client.Close()
	p.server.Close()
}

// StartProxy is NewProxy for a test: a proxy in front of target that is
// closed when the test ends.
func StartProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := NewProxy(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// ProxyURL starts a proxy (StartProxy) in front of the host of rawURL, a
// database or NATS URL, and returns it with rawURL pointed at it.
func ProxyURL(tb testing.TB, rawURL string) (*Proxy, string) {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	p := StartProxy(tb, u.Host)
	u.Host = p.Addr()
	return p, u.String()
}

// NewProxy listens on 127.0.0.1 (a free port) and forwards to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[*pair]struct{}{}, thawed: make(chan struct{})}
	close(p.thawed)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr returns the proxy's address (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse || p.closed
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pr := &pair{client: c, server: s}
		p.mu.Lock()
		p.conns[pr] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pr, c, s, true)
		go p.pipe(pr, s, c, false)
	}
}

// pipe copies from src to dst until either side fails, waiting while the
// proxy is frozen and watching the client's bytes for a cut-after pattern.
func (p *Proxy) pipe(pr *pair, src, dst net.Conn, fromClient bool) {
	defer p.wg.Done()
	defer func() {
		pr.close()
		p.mu.Lock()
		delete(p.conns, pr)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	var tail []byte // the end of the previous chunk, for patterns across chunks
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			thawed, delay := p.thawed, p.delay
			p.mu.Unlock()
			<-thawed
			if delay > 0 {
				time.Sleep(delay) // the fault itself: a slow network
			}
			if !fromClient && pr.cut.Load() {
				return // the answer to the request cut after
			}
			cut := fromClient && p.matchCut(&tail, buf[:n])
			if cut {
				pr.cut.Store(true)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if cut {
				p.mu.Lock()
				close(p.cutDone)
				p.mu.Unlock()
				return
			}
		}
		if err != nil {
			// EOF or a closed connection: the pair is closed, once the
			// proxy is not frozen. A partition carries no close either:
			// a peer that closes its side while frozen (a client giving
			// up) is not heard of by the other until the thaw.
			p.mu.Lock()
			thawed := p.thawed
			p.mu.Unlock()
			<-thawed
			return
		}
	}
}

// matchCut reports whether chunk (with the end of the one before) holds the
// cut-after pattern, and if so disarms it (the caller then closes cutDone).
func (p *Proxy) matchCut(tail *[]byte, chunk []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutAfter == nil {
		*tail = nil
		return false
	}
	hay := append(append([]byte{}, *tail...), chunk...)
	if bytes.Contains(hay, p.cutAfter) {
		p.cutAfter = nil
		return true
	}
	if keep := len(p.cutAfter) - 1; len(hay) > keep {
		hay = hay[len(hay)-keep:]
	}
	*tail = hay
	return false
}

// CutAfter arms the proxy: the first connection whose client sends pattern
// is closed right after those bytes reach the target, so that the target
// acts on the request but its answer never reaches the client. The
// returned channel is closed when that happens.
func (p *Proxy) CutAfter(pattern []byte) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cutAfter = append([]byte{}, pattern...)
	p.cutDone = make(chan struct{})
	return p.cutDone
}

// Delay makes the proxy hold every chunk of bytes it forwards, either way,
// for d before forwarding it (0: none): a slow network, or a slow peer.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Cut closes every open connection. New connections are accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pr := range p.conns {
		pr.close()
	}
}

// Refuse makes the proxy close new connections at once (a dependency that
// refuses connections), or accept them again.
func (p *Proxy) Refuse(refuse bool) {
	p.mu.Lock()
	p.refuse = refuse
	p.mu.Unlock()
}

// Freeze stops forwarding bytes in both directions, without closing
// anything, until Thaw.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen = true
		p.thawed = make(chan struct{})
	}
}

// Thaw resumes forwarding after Freeze.
func (p *Proxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.Thaw()
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
