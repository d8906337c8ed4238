package api

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"inkwell/domain"
)

// Idempotent requests (the IETF httpapi draft "The Idempotency-Key HTTP
// Header Field"). A client that sends a POST or PATCH with an
// Idempotency-Key and gets no answer (a timeout, a crash, a 503) sends it
// again with the same key. The first request's record, kept where every
// instance sees it for 24 hours, decides what the retry gets:
//
//   - the first request finished: its answer (status, headers and body),
//     with Idempotency-Replayed: true, and nothing is done again;
//   - the first request is still running (its instance renews a short
//     lease while it runs): 409;
//   - the first request's instance died, or its dependencies failed (a
//     5xx), so that it may or may not have recorded something: the retry
//     runs again as another attempt of the same request (domain.Attempt),
//     drawing the same ids, so that it finds what the first recorded instead
//     of recording it twice;
//   - the key was used with another request (another method, path or
//     body): 422.
//
// Keys are scoped by caller (the user of the bearer token, or anonymous
// callers together, whose requests carry their credentials in the body),
// and stored hashed. Answers are stored encrypted with a key derived from
// the client's Idempotency-Key, which the store never holds: a copy of the
// store does not reveal the tokens and personal data in the answers.

// IdempotencyKeyHeader is the request header naming an idempotent request.
const IdempotencyKeyHeader = "Idempotency-Key"

// IdempotentReplayedHeader is set on an answer replayed from an earlier
// request with the same key.
const IdempotentReplayedHeader = "Idempotency-Replayed"

// IdempotencyStore keeps the records of idempotent requests, shared by every
// instance; each expires by itself (after 24 hours). Errors other than the
// outcomes below mean the store could not serve.
type IdempotencyStore interface {
	// Create stores value under key unless key exists (created false).
	Create(ctx context.Context, key string, value []byte) (rev uint64, created bool, err error)
	// Get returns the value under key and its revision (found false if none).
	Get(ctx context.Context, key string) (value []byte, rev uint64, found bool, err error)
	// Update replaces the value if it is still at revision rev (ok false
	// if another write came first).
	Update(ctx context.Context, key string, value []byte, rev uint64) (newRev uint64, ok bool, err error)
}

// IdempotencyObserver records the outcome of each idempotent request
// (metrics): new, replayed, retried, in_flight or mismatch.
type IdempotencyObserver interface {
	IdempotentRequest(outcome string)
}

// idempotencyLease is how long a running request's record keeps retries
// away (409) without being renewed; its instance renews it every third of
// that. A retry after an instance died waits at most this long.
const idempotencyLease = 6 * time.Second

// maxIdempotencyKey bounds the length of a key.
const maxIdempotencyKey = 255

// idemRecord is what the store holds for one key.
type idemRecord struct {
	// Done is set once the request answered; Answer is then its sealed
	// answer (see seal).
	Done   bool   `json:"done"`
	Answer []byte `json:"answer,omitempty"`
	// Fingerprint identifies the request: method, path and body.
	Fingerprint string `json:"fingerprint"`
	// Seed and Started make every attempt of the request draw the same ids.
	Seed    []byte    `json:"seed"`
	Started time.Time `json:"started"`
	// LeaseUntil is when a running attempt stops keeping retries away.
	LeaseUntil time.Time `json:"lease_until"`
}

// storedAnswer is an answer as it is replayed.
type storedAnswer struct {
	Status int               `json:"status"`
	Header map[string]string `json:"header"`
	Body   []byte            `json:"body"`
}

// replayedHeaders are the response headers an answer keeps.
var replayedHeaders = []string{"Content-Type", "Location", "ETag", "Retry-After"}

var (
	errIdempotencyInFlight = domain.Errorf(domain.ECONFLICT,
		"A request with this Idempotency-Key is still being processed; retry shortly.")
	errIdempotencyMismatch = &domain.Error{Code: domain.EINVALID,
		Message: "This Idempotency-Key was already used with another request (method, path or body).",
		Fields:  map[string]string{IdempotencyKeyHeader: "was used with another request"}}
)

// idempotent wraps a POST or PATCH handler (see the comment above); it goes
// inside the authentication of the handler's caller.
func (s *Server) idempotent(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		values, sent := r.Header[http.CanonicalHeaderKey(IdempotencyKeyHeader)]
		if !sent {
			h(w, r)
			return
		}
		key, err := parseIdempotencyKey(values)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if s.Idempotency == nil {
			s.writeError(w, r, domain.Errorf(domain.EUNAVAILABLE, "Idempotency-Key is not available on this server."))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			s.writeError(w, r, newHTTPError(http.StatusBadRequest, "The request body could not be read."))
			return
		}
		if len(body) > MaxBodyBytes {
			s.writeError(w, r, jsonError(&http.MaxBytesError{Limit: MaxBodyBytes}))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		scope := idempotencyScope(r)
		// Every name and fingerprint is keyed (see keyedHash), and bound
		// to the client's key, which the store never holds: neither a copy
		// of the store nor the server's key alone finds the body of a
		// request (a password) by hashing guesses. The answer is sealed
		// under both too.
		var seal [32]byte
		copy(seal[:], s.keyed.sum("inkwell idempotency answer", scope, key))
		s.serveIdempotent(w, r, h, idempotencyCall{
			storeKey:    s.keyed.hex("inkwell idempotency key", scope, key),
			sealKey:     seal,
			fingerprint: s.keyed.hex("inkwell idempotent request", scope, key, r.Method, canonicalPath(r.URL.Path), canonicalBody(body)),
			// What a server before canonicalBody recorded: a retry that
			// spans the upgrade is still the same request.
			earlier: s.keyed.hex("inkwell idempotent request", scope, key, r.Method, canonicalPath(r.URL.Path), string(body)),
		})
	}
}

// canonicalBody returns what of a request's body a retry must repeat: a
// JSON body as its value (the members of each object ordered by name, no
// white space between tokens, each string and number as encoding/json
// writes it), so that the same JSON serialised again, with other spacing
// or another order of its members, is the same request; anything else,
// byte for byte.
func canonicalBody(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "raw:" + string(body)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "raw:" + string(body) // more than one JSON value
	}
	canonical, err := json.Marshal(v)
	if err != nil {
		return "raw:" + string(body)
	}
	return "json:" + string(canonical)
}

// idempotencyCall identifies one idempotent request.
type idempotencyCall struct {
	storeKey    string   // where its record is kept
	sealKey     [32]byte // what its answer is sealed with
	fingerprint string
	earlier     string // the fingerprint of the body byte for byte
}

func (s *Server) serveIdempotent(w http.ResponseWriter, r *http.Request, h http.HandlerFunc, c idempotencyCall) {
	ctx := r.Context()
	now := s.Now()
	seed := make([]byte, 32)
	if _, err := rand.Read(seed); err != nil {
		s.writeError(w, r, fmt.Errorf("idempotency seed: %w", err))
		return
	}
	rec := idemRecord{Fingerprint: c.fingerprint, Seed: seed, Started: now.UTC(), LeaseUntil: now.Add(idempotencyLease).UTC()}
	rev, created, err := s.Idempotency.Create(ctx, c.storeKey, mustJSON(rec))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	outcome := "new"
	if !created {
		var value []byte
		var found bool
		value, rev, found, err = s.Idempotency.Get(ctx, c.storeKey)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if !found { // expired between the two calls: a retry starts it again
			s.writeInFlight(w, r)
			return
		}
		if err := json.Unmarshal(value, &rec); err != nil {
			s.writeError(w, r, fmt.Errorf("idempotency record: %w", err))
			return
		}
		switch {
		case rec.Fingerprint != c.fingerprint && rec.Fingerprint != c.earlier:
			s.observeIdempotency("mismatch")
			s.writeError(w, r, errIdempotencyMismatch)
			return
		case rec.Done:
			s.observeIdempotency("replayed")
			s.replay(w, r, rec, c)
			return
		case now.Before(rec.LeaseUntil):
			s.writeInFlight(w, r)
			return
		}
		// The earlier attempt is over without an answer: run it again.
		rec.LeaseUntil = now.Add(idempotencyLease).UTC()
		var ok bool
		if rev, ok, err = s.Idempotency.Update(ctx, c.storeKey, mustJSON(rec), rev); err != nil {
			s.writeError(w, r, err)
			return
		} else if !ok {
			s.writeInFlight(w, r)
			return
		}
		outcome = "retried"
	}
	s.observeIdempotency(outcome)

	lease := &idempotencyLeaseKeeper{s: s, key: c.storeKey, rec: rec, rev: rev}
	stop := lease.keep(ctx)
	buf := newBufferedResponse()
	h(buf, r.WithContext(domain.WithAttempt(ctx, domain.NewAttempt(rec.Seed, rec.Started))))
	rev = stop()

	if keep(buf.status) {
		ans := storedAnswer{Status: buf.status, Header: map[string]string{}, Body: buf.body.Bytes()}
		for _, name := range replayedHeaders {
			if v := buf.Header().Get(name); v != "" {
				ans.Header[name] = v
			}
		}
		sealed, err := seal(c.sealKey, c.storeKey, mustJSON(ans))
		if err == nil {
			rec.Done, rec.Answer = true, sealed
		}
	} else {
		// Not an answer to keep (a 5xx, a throttle, a bad token): a retry
		// runs the request again, as the same attempt, from now on.
		rec.LeaseUntil = time.Time{}
	}
	if _, _, err := s.Idempotency.Update(context.WithoutCancel(ctx), c.storeKey, mustJSON(rec), rev); err != nil {
		// The record stays as it was; a retry after its lease runs the
		// request again as the same attempt and gets the same outcome.
		s.log.WarnContext(ctx, "keep the answer of an idempotent request", "err", err)
	}
	buf.copyTo(w)
}

// writeInFlight answers a retry of a request that is still running.
func (s *Server) writeInFlight(w http.ResponseWriter, r *http.Request) {
	s.observeIdempotency("in_flight")
	w.Header().Set("Retry-After", "1")
	s.writeError(w, r, errIdempotencyInFlight)
}

// keep reports whether an answer is kept for retries: every answer but
// those a retry may well change (a server error or an unavailable
// dependency, a throttle, a bad token, a malformed request).
func keep(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge,
		http.StatusUnsupportedMediaType, http.StatusTooManyRequests:
		return false
	}
	return status < 500
}

// replay answers with the answer kept in rec.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, rec idemRecord, c idempotencyCall) {
	plain, err := open(c.sealKey, c.storeKey, rec.Answer)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("open a kept answer: %w", err))
		return
	}
	var ans storedAnswer
	if err := json.Unmarshal(plain, &ans); err != nil {
		s.writeError(w, r, fmt.Errorf("decode a kept answer: %w", err))
		return
	}
	for k, v := range ans.Header {
		w.Header().Set(k, v)
	}
	w.Header().Set(IdempotentReplayedHeader, "true")
	w.WriteHeader(ans.Status)
	_, _ = w.Write(ans.Body)
}

func (s *Server) observeIdempotency(outcome string) {
	if s.IdempotencyObserver != nil {
		s.IdempotencyObserver.IdempotentRequest(outcome)
	}
}

// idempotencyScope returns whose keys a request's key is among: the
// authenticated caller's, or every anonymous caller's (whose requests
// carry their credentials in the body, so the body tells them apart).
func idempotencyScope(r *http.Request) string {
	if p := principalOf(r.Context()); p != nil {
		return "user " + p.User.ID()
	}
	return "anonymous"
}

// parseIdempotencyKey reads the header: one value, a Structured Field
// string ("...") as the draft writes it or the bare key as most clients
// send it, of 1 to 255 printable ASCII characters.
func parseIdempotencyKey(values []string) (string, error) {
	bad := func(problem string) error {
		return &httpError{status: http.StatusBadRequest, detail: "Invalid " + IdempotencyKeyHeader + " header: " + problem,
			fields: map[string]string{IdempotencyKeyHeader: problem}}
	}
	if len(values) != 1 {
		return "", bad("send it once")
	}
	key := strings.TrimSpace(values[0])
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		key = key[1 : len(key)-1]
	}
	if key == "" || len(key) > maxIdempotencyKey {
		return "", bad(fmt.Sprintf("must be 1 to %d characters", maxIdempotencyKey))
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return "", bad("must be printable ASCII without spaces, quotes or backslashes")
		}
	}
	return key, nil
}

// canonicalPath makes the paths of one resource alike: with a trailing
// slash, and the tutorial's /api/article/ as /api/articles/.
func canonicalPath(p string) string {
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	if rest, ok := strings.CutPrefix(p, "/api/article/"); ok {
		p = "/api/articles/" + rest
	}
	return p
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("api: " + err.Error())
	}
	return b
}

func newGCM(key [32]byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// seal encrypts plain with AES-256-GCM under key, bound to ad.
func seal(key [32]byte, ad string, plain []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, []byte(ad)), nil
}

// open decrypts what seal made.
func open(key [32]byte, ad string, sealed []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed answer too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], []byte(ad))
}

// idempotencyLeaseKeeper renews a running request's lease.
type idempotencyLeaseKeeper struct {
	s   *Server
	key string
	rec idemRecord
	rev uint64
}

// keep renews the lease until the returned function is called; that
// function returns the record's revision as of the last renewal.
func (l *idempotencyLeaseKeeper) keep(ctx context.Context) func() uint64 {
	done := make(chan struct{})
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(idempotencyLease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			mu.Lock()
			rec := l.rec
			rec.LeaseUntil = l.s.Now().Add(idempotencyLease).UTC()
			rev, ok, err := l.s.Idempotency.Update(context.WithoutCancel(ctx), l.key, mustJSON(rec), l.rev)
			if err == nil && ok {
				l.rev = rev
			}
			mu.Unlock()
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return l.rev
	}
}

// bufferedResponse holds a handler's answer until it is kept.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse { return &bufferedResponse{header: http.Header{}} }

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
