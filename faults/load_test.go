//go:build heavy

package faults_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"
)

// load is a write load on one Inkwell server: workers, each its own user,
// writing one after the other. Half of a worker's writes create an article;
// the others comment on an article of the load, favorite one or take the
// favorite back, or follow another worker or stop (see social_test.go). A
// write is one logical write sent with an Idempotency-Key, retried with
// that key until it is acknowledged (a 2xx): through connection errors,
// 503s and 409s (the same key in flight), as a client following the API
// document would.
//
// The last worker (of two or more) sends no Idempotency-Key, as many
// clients do not: it retries a write only after an answer that says it was
// not made (a 503 that does not say it "may have been recorded"), and
// gives a write up after one that may have been made (no answer, or such a
// 503). A write made twice by it means a 503 said a recorded write failed.
type load struct {
	t       *testing.T
	name    string
	urls    []string // the instances: each retry of a write goes to the next, as a load balancer would
	workers []*loadWorker
	stop    chan struct{}
	wg      sync.WaitGroup

	mu        sync.Mutex
	attempted int // writes of every kind
	// ackedWrites counts the writes of every kind acknowledged so far.
	ackedWrites int
	acked       map[string]string // title → article id
	// pool is the acknowledged articles, which the social writes pick from.
	pool       []string
	social     social
	status500  int
	status503  int
	noAnswer   int
	unexpected []string
	stall      time.Duration // the longest time from a write's first send to its acknowledgement
	giveUps    int
	reads      int
	// unknown counts the keyless worker's writes whose answer left their
	// outcome unknown (given up, neither acknowledged nor retried).
	unknown int
	// accepted are the ids of the writes answered 202 (recorded, not yet
	// readable), the latest last.
	accepted []string
}

// acceptedUnread returns the latest writes answered 202 (at most 50): each
// was not readable when answered, and must be once the instance that
// answered says it is ready.
func (l *load) acceptedUnread() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.accepted[max(0, len(l.accepted)-50):])
}

type loadWorker struct {
	user, token string
	id          string // the user's id
}

// loadClient gives up on one request after 20s (more than the server's own
// request deadline): no answer then counts as no answer.
var loadClient = &http.Client{Timeout: 20 * time.Second}

// newLoad registers workers users on the server at url.
func newLoad(t *testing.T, name, url string, workers int, more ...string) *load {
	t.Helper()
	l := &load{t: t, name: name, urls: append([]string{url}, more...), acked: map[string]string{}, social: newSocial()}
	for i := 0; i < workers; i++ {
		user := fmt.Sprintf("w%d%s", i, randomHex(4))
		body := fmt.Sprintf(`{"username": %q, "email": "%s@example.com", "password": "password-%s"}`, user, user, user)
		// Sent again (with its key) while the log cannot answer, as a
		// client following the API document would: a step may begin while
		// the cluster still settles from the one before.
		key := randomHex(16)
		var status int
		var resp []byte
		retried(func(int) bool {
			status, resp = l.send("POST", "/api/auth/register/", "", key, body)
			return status != 503 && status != 0 && status != refused && status != 409
		})
		if status != 201 {
			t.Fatalf("register %s: %d %s", user, status, resp)
		}
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(resp, &tok); err != nil {
			t.Fatal(err)
		}
		l.workers = append(l.workers, &loadWorker{user: user, token: tok.AccessToken, id: l.profileID(user)})
	}
	return l
}

// profileID waits until the profile of user is readable (others follow
// them by it) and returns the user's id.
func (l *load) profileID(user string) string {
	var status int
	var resp []byte
	retried(func(int) bool {
		status, resp = l.send("GET", "/api/profiles/"+user+"/", "", "", "")
		return status == 200
	})
	var p struct{ ID string }
	if err := json.Unmarshal(resp, &p); err != nil || p.ID == "" {
		l.t.Fatalf("the profile of %s: %d %s", user, status, resp)
	}
	return p.ID
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// send sends one request to the first instance; status 0 means no answer.
func (l *load) send(method, path, token, key, body string) (int, []byte) {
	return l.sendTo(0, method, path, token, key, body)
}

// sendTo sends one request to instance i (modulo their number).
func (l *load) sendTo(i int, method, path, token, key, body string) (int, []byte) {
	return l.sendAs(i, method, path, token, key, "", body)
}

// sendAs sends one request to instance i with the request id requestID
// (none: the server makes one), which the events it records carry as
// their correlation id.
func (l *load) sendAs(i int, method, path, token, key, requestID, body string) (int, []byte) {
	req, err := http.NewRequest(method, l.urls[i%len(l.urls)]+path, bytes.NewReader([]byte(body)))
	if err != nil {
		l.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if requestID != "" {
		req.Header.Set("X-Request-Id", requestID)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := loadClient.Do(req)
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return refused, nil // never sent: no server took it
	}
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil
	}
	return resp.StatusCode, b
}

// refused is sendTo's status of a request no server took (the connection
// was refused: the server is down), which a client may send again whatever
// it asks for.
const refused = -1

// run starts the workers and a reader; finish stops them.
func (l *load) run() {
	l.stop = make(chan struct{})
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.read()
	}()
	for i, w := range l.workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 1; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if unknown := l.next(i, w, n); unknown {
					// A client that cannot tell whether its write was made
					// looks into it before it writes again.
					time.Sleep(time.Second)
				}
			}
		}()
	}
}

// read reads what the writers write (the list of articles, anonymously; the
// account and the feed of one of them), until
// the load stops, counting 500s and 503s like the writes'.
func (l *load) read() {
	w := l.workers[0]
	for i := 0; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		path, token := "/api/articles/?page_size=20", ""
		switch i % 3 {
		case 1:
			path, token = "/api/auth/me/", w.token
		case 2:
			path, token = "/api/articles/feed/?page_size=20", w.token
		}
		status, resp := l.sendTo(i/2, "GET", path, token, "", "")
		l.mu.Lock()
		l.reads++
		switch {
		case status == 503:
			l.status503++
		case status >= 500, status >= 400 && status != 429:
			if status >= 500 {
				l.status500++
			}
			l.unexpected = append(l.unexpected, fmt.Sprintf("GET %s: %d: %s", path, status, resp))
		}
		l.mu.Unlock()
		// Paced: a reader is one client, not a flood.
		time.Sleep(10 * time.Millisecond)
	}
}

// giveUpAfter bounds one logical write: past it, the load gives up on it
// (and the suite fails: every write must be acknowledged once the fault is
// over).
const giveUpAfter = 3 * time.Minute

// next makes worker i's nth write: half of them create an article, a
// quarter comment on one, an eighth favorite one or take the favorite back,
// an eighth follow another worker or stop (an article when there is no
// article or other worker yet). It reports whether it gave the write up
// with its outcome unknown (the keyless worker).
func (l *load) next(i int, w *loadWorker, n int) (unknown bool) {
	title := fmt.Sprintf("%s w%d #%d", l.name, i, n)
	done := false
	switch {
	case n%4 == 0:
		done, unknown = l.comment(i, w, title)
	case n%8 == 2:
		done, unknown = l.favorite(i, w)
	case n%8 == 6:
		done, unknown = l.follow(i, w)
	}
	if done {
		return unknown
	}
	return l.write(i, w, title)
}

// write creates one article, retrying until it is acknowledged. It
// reports whether it gave the write up with its outcome unknown (the
// keyless worker).
func (l *load) write(worker int, w *loadWorker, title string) (unknown bool) {
	return l.attempt(worker, w, loadWrite{
		method: "POST", path: "/api/articles/",
		body: fmt.Sprintf(`{"title": %q, "content": "Written under faults.", "is_published": true}`, title),
		acked: func(status int, resp []byte) {
			id := l.ackedID(status, resp)
			l.acked[title] = id
			l.pool = append(l.pool, id)
			if status == 202 {
				l.accepted = append(l.accepted, id)
			}
		},
	})
}

// loadWrite is one logical write of the load.
type loadWrite struct {
	method, path, body string
	requestID          string // the X-Request-Id of every send ("": none)
	// acked records the write's acknowledgement (a 2xx), l.mu held.
	acked func(status int, resp []byte)
	// unknown records that the keyless worker gave the write up, its
	// outcome unknown, l.mu held (nil: nothing to record).
	unknown func()
	// gone, when set, takes a 404 as the answer (what the write is on is
	// no longer in the log: a damaged log lost it), l.mu held.
	gone func()
}

// ackedID returns the id of an acknowledged write's answer, noting an
// answer without one. l.mu is held.
func (l *load) ackedID(status int, resp []byte) string {
	var a struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(resp, &a); err != nil || a.ID == "" {
		l.unexpected = append(l.unexpected, fmt.Sprintf("%d without an id: %s", status, resp))
	}
	return a.ID
}

// attempt sends the write wr of worker w, retrying until it is
// acknowledged. It reports whether it gave the write up with its outcome
// unknown (the keyless worker).
func (l *load) attempt(worker int, w *loadWorker, wr loadWrite) (unknown bool) {
	l.mu.Lock()
	l.attempted++
	l.mu.Unlock()
	key := randomHex(16)
	keyless := len(l.workers) > 1 && worker == len(l.workers)-1
	if keyless {
		key = ""
	}
	first := time.Now()
	answered := retried(func(attempt int) bool {
		status, resp := l.sendAs(worker+attempt, wr.method, wr.path, w.token, key, wr.requestID, wr.body)
		l.mu.Lock()
		defer l.mu.Unlock()
		if keyless && (status == 0 || status == 503 && bytes.Contains(resp, []byte("may have been recorded"))) {
			if status == 0 {
				l.noAnswer++
			} else {
				l.status503++
			}
			l.unknown++
			unknown = true
			if wr.unknown != nil {
				wr.unknown()
			}
			return true // made or not, a client without a key cannot tell: it does not repeat it
		}
		switch {
		case status >= 200 && status < 300:
			wr.acked(status, resp)
			l.ackedWrites++
			l.stall = max(l.stall, time.Since(first))
			return true
		case status == 404 && wr.gone != nil:
			wr.gone()
			return true
		case status == 0 || status == refused:
			l.noAnswer++
		case status == 503:
			l.status503++
		case status == 409: // the same key still in flight (its instance died): retry
		case status >= 500:
			l.status500++
			l.unexpected = append(l.unexpected, fmt.Sprintf("%s %s: %d: %s", wr.method, wr.path, status, resp))
		default:
			l.unexpected = append(l.unexpected, fmt.Sprintf("%s %s: %d: %s", wr.method, wr.path, status, resp))
			return true
		}
		return false
	})
	if !answered {
		l.mu.Lock()
		l.giveUps++
		l.mu.Unlock()
	}
	return unknown
}

// retried calls try (attempt 0, 1, ...) until it reports it is done or
// giveUpAfter has passed since the first, pausing between tries as a client
// following the API document does after a 503 or no answer: 50ms, doubling
// up to a second. It reports whether try was done.
func retried(try func(attempt int) bool) bool {
	first, wait := time.Now(), 50*time.Millisecond
	for attempt := 0; time.Since(first) < giveUpAfter; attempt++ {
		if try(attempt) {
			return true
		}
		time.Sleep(wait)
		wait = min(wait*2, time.Second)
	}
	return false
}

// finish stops the workers once each has its current write acknowledged.
func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}
