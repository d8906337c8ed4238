package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

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

// request is one request of a worker: its Authorization header (auth) is
// given whole, so that an API of another scheme ("Token <jwt>") is a
// request like any other.
type request struct {
	method, path string
	auth         string // the Authorization header ("": none)
	body         any    // sent as JSON (nil: no body)
}

// bearer is the Authorization header of Inkwell's own API for token (""
// for none).
func bearer(token string) string {
	if token == "" {
		return ""
	}
	return "Bearer " + token
}

// do sends one request of Inkwell's own API and reads its answer; a status
// of 400 and up is an error.
func (w *worker) do(method, path, token string, body any) (int, error) {
	return w.send(request{method: method, path: path, auth: bearer(token), body: body})
}

// send sends r and reads its answer; a status of 400 and up is an error.
func (w *worker) send(r request) (int, error) {
	var rd io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(r.method, w.base+r.path, rd)
	if err != nil {
		return 0, err
	}
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", r.method, r.path, resp.StatusCode, strings.TrimSpace(string(b)))
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
