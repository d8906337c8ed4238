package api

import (
	"context"
	"encoding/json"
	"errors"
	"inkwell/domain"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ThrottleConfig configures brute-force protection.
type ThrottleConfig struct {
	// LoginFailuresBeforeThrottle free failed logins per account and client
	// address; each further failure blocks that pair for twice as long as
	// the one before (1s, 2s, 4s, ...), up to LoginMaxBlock.
	LoginFailuresBeforeThrottle int
	// AddressFailuresBeforeThrottle does the same per client address, over
	// every account it tries.
	AddressFailuresBeforeThrottle int
	LoginMaxBlock                 time.Duration
	// RegistrationsPerHour per client address (bursts up to that many).
	RegistrationsPerHour int
}

// DefaultThrottleConfig returns Inkwell's defaults: an attacker gets about
// 18 guesses an hour at one account from one address.
func DefaultThrottleConfig() ThrottleConfig {
	return ThrottleConfig{
		LoginFailuresBeforeThrottle:   5,
		AddressFailuresBeforeThrottle: 20,
		LoginMaxBlock:                 15 * time.Minute,
		RegistrationsPerHour:          20,
	}
}

// ThrottleForget is how long a throttle's counter is kept after its last
// change: failures are forgotten, and a client's registrations refilled, an
// hour later.
const ThrottleForget = time.Hour

// ThrottleStore keeps the counters of the throttles, by key, with a
// revision for compare-and-set: one JetStream key-value bucket that every
// instance shares (eventstore.Bucket), so that the limits hold however
// the requests are spread, or a map in memory (one instance, tests). A
// store that cannot answer gives an error that fails the request (503): a
// throttle that cannot count would let guesses through.
type ThrottleStore interface {
	IdempotencyStore // Create, Get and Update, the same compare-and-set store
	Delete(ctx context.Context, key string) error
}

// errContended is returned by changeCounter when a counter kept changing
// under it: many requests of one key at once, which is what a throttle is
// for (a registration is refused with 429; a failure that cannot be
// counted fails its request with 503).
var errContended = &domain.UnavailableError{Dependency: domain.DependencyEventLog,
	Err: errors.New("a throttle counter changed under every attempt to count")}

// changeCounter applies fn to the counter of key until the store takes the
// result (a concurrent change of another request or instance makes it read
// again, after a short random pause so that racing requests spread out).
// fn returns the new counter, or nil to leave the store as it is.
func changeCounter[S any](ctx context.Context, store ThrottleStore, key string, fn func(s *S) *S) error {
	// Each round one of the racing requests wins: enough rounds for a
	// burst of a few hundred requests of one key, a pause of at most 5ms.
	for attempt := 0; attempt < 200; attempt++ {
		if attempt > 0 {
			pause := time.Duration(rand.Int64N(int64(min(attempt, 5)) * int64(time.Millisecond)))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
		}
		b, rev, found, err := store.Get(ctx, key)
		if err != nil {
			return err
		}
		var s *S
		if found {
			s = new(S)
			if err := json.Unmarshal(b, s); err != nil {
				s = nil // an unreadable counter starts again
			}
		}
		next := fn(s)
		if next == nil {
			return nil
		}
		nb, err := json.Marshal(next)
		if err != nil {
			return err
		}
		ok := false
		if found {
			_, ok, err = store.Update(ctx, key, nb, rev)
		} else {
			_, ok, err = store.Create(ctx, key, nb)
		}
		if err != nil || ok {
			return err
		}
	}
	return errContended
}

// failureThrottle counts failures per key and blocks a key for an
// exponentially growing time once it has failed more than a free number of
// times. Failures are forgotten ThrottleForget after the last one.
type failureThrottle struct {
	store    ThrottleStore
	keyed    keyedHash // names the counters (see keyedHash.throttleKey)
	kind     string    // the keys' prefix in the store
	free     int
	maxBlock time.Duration
	now      func() time.Time
}

type failureState struct {
	Count        int       `json:"c"`
	Last         time.Time `json:"l"`
	BlockedUntil time.Time `json:"b"`
}

// blocked returns how long key is blocked for (0 if it is not), and
// whether the store holds failures of key at all.
func (t *failureThrottle) blocked(ctx context.Context, key string) (time.Duration, bool, error) {
	b, _, found, err := t.store.Get(ctx, t.keyed.throttleKey(t.kind, key))
	if err != nil || !found {
		return 0, false, err
	}
	var s failureState
	if json.Unmarshal(b, &s) != nil {
		return 0, true, nil
	}
	now := t.now()
	if now.Sub(s.Last) > ThrottleForget {
		return 0, true, nil
	}
	return max(s.BlockedUntil.Sub(now), 0), true, nil
}

// fail records a failure of key.
func (t *failureThrottle) fail(ctx context.Context, key string) error {
	return changeCounter(ctx, t.store, t.keyed.throttleKey(t.kind, key), func(s *failureState) *failureState {
		now := t.now()
		if s == nil || now.Sub(s.Last) > ThrottleForget {
			s = &failureState{}
		}
		s.Count++
		s.Last = now
		if over := s.Count - t.free; over > 0 {
			block := time.Duration(math.Pow(2, float64(min(over-1, 30)))) * time.Second
			s.BlockedUntil = now.Add(min(block, t.maxBlock))
		}
		return s
	})
}

// reset forgets key's failures.
func (t *failureThrottle) reset(ctx context.Context, key string) error {
	return t.store.Delete(ctx, t.keyed.throttleKey(t.kind, key))
}

// guess is a password guess as the throttles count it: each entry is a
// throttle and the key it counts the guess under; a right guess resets the
// entries marked so (not the address's: one account of one's own must not
// wipe the failures an address made on others).
type guess []guessKey

type guessKey struct {
	t       *failureThrottle
	key     string
	isReset bool
	counted bool // blocked found failures of key: a right guess has something to forget
}

// passwordGuess is a guess of username's password from the request's
// client address: counted per account and address and per address, and
// under each of the extra keys of the login throttle (a session's, for a
// password change, so that a stolen token gets no more guesses from many
// addresses than from one).
func (s *Server) passwordGuess(r *http.Request, username string, extra ...string) guess {
	addr := clientAddr(r, s.trusted)
	g := guess{
		{t: s.loginThrottle, key: strings.ToLower(username) + "\x00" + addr, isReset: true},
		{t: s.addressThrottle, key: addr},
	}
	for _, k := range extra {
		g = append(g, guessKey{t: s.loginThrottle, key: k, isReset: true})
	}
	return g
}

// blocked returns how long the guess must wait: the longest block of its
// keys. It notes which keys have failures, for succeeded.
func (g guess) blocked(ctx context.Context) (time.Duration, error) {
	var wait time.Duration
	for i, e := range g {
		d, counted, err := e.t.blocked(ctx, e.key)
		if err != nil {
			return 0, err
		}
		g[i].counted = counted
		wait = max(wait, d)
	}
	return wait, nil
}

// failed counts a wrong guess under each of its keys.
func (g guess) failed(ctx context.Context) error {
	for _, e := range g {
		if err := e.t.fail(ctx, e.key); err != nil {
			return err
		}
	}
	return nil
}

// succeeded forgets the failures of the keys a right guess resets; a key
// blocked found no failures of costs no write (a login without earlier
// failures changes nothing in the store).
func (g guess) succeeded(ctx context.Context) error {
	for _, e := range g {
		if e.isReset && e.counted {
			if err := e.t.reset(ctx, e.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// rateLimiter allows perHour events an hour per key, bursting up to
// perHour (a token bucket).
type rateLimiter struct {
	store   ThrottleStore
	keyed   keyedHash
	kind    string
	perHour int
	now     func() time.Time
}

type bucketState struct {
	Tokens float64   `json:"t"`
	At     time.Time `json:"a"`
}

// allow reports whether key may act now, or how long it must wait.
func (l *rateLimiter) allow(ctx context.Context, key string) (bool, time.Duration, error) {
	if l.perHour <= 0 {
		return true, 0, nil
	}
	perToken := time.Hour / time.Duration(l.perHour)
	var wait time.Duration
	err := changeCounter(ctx, l.store, l.keyed.throttleKey(l.kind, key), func(s *bucketState) *bucketState {
		now := l.now()
		if s == nil {
			s = &bucketState{Tokens: float64(l.perHour), At: now}
		}
		tokens := min(float64(l.perHour), s.Tokens+float64(now.Sub(s.At))/float64(perToken))
		if tokens < 1 {
			wait = time.Duration((1 - tokens) * float64(perToken))
			return nil
		}
		wait = 0
		return &bucketState{Tokens: tokens - 1, At: now}
	})
	if errors.Is(err, errContended) {
		return false, time.Second, nil // a burst from one key: that is what the limit is for
	}
	return wait == 0 && err == nil, wait, err
}

// memoryThrottles is a ThrottleStore in memory, for one instance. It keeps
// at most maxKeys counters, dropping those unchanged for ThrottleForget
// (and then the oldest) when full.
type memoryThrottles struct {
	mu      sync.Mutex
	maxKeys int
	now     func() time.Time
	rev     uint64
	keys    map[string]memoryCounter
}

type memoryCounter struct {
	value []byte
	rev   uint64
	at    time.Time
}

func newMemoryThrottles(now func() time.Time) *memoryThrottles {
	return &memoryThrottles{maxKeys: 100000, now: now, keys: map[string]memoryCounter{}}
}

func (m *memoryThrottles) Get(_ context.Context, key string) ([]byte, uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.live(key)
	return c.value, c.rev, ok, nil
}

func (m *memoryThrottles) Create(_ context.Context, key string, value []byte) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.live(key); ok {
		return 0, false, nil
	}
	if len(m.keys) >= m.maxKeys {
		m.prune(m.now())
	}
	return m.put(key, value), true, nil
}

func (m *memoryThrottles) Update(_ context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.live(key); !ok || c.rev != rev {
		return 0, false, nil
	}
	return m.put(key, value), true, nil
}

// live returns the counter under key unless it has expired.
func (m *memoryThrottles) live(key string) (memoryCounter, bool) {
	c, ok := m.keys[key]
	if !ok || m.now().Sub(c.at) > ThrottleForget {
		return memoryCounter{}, false
	}
	return c, true
}

func (m *memoryThrottles) put(key string, value []byte) uint64 {
	m.rev++
	m.keys[key] = memoryCounter{value: value, rev: m.rev, at: m.now()}
	return m.rev
}

func (m *memoryThrottles) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.keys, key)
	m.mu.Unlock()
	return nil
}

// prune drops the counters unchanged for ThrottleForget, and if that is not
// enough, half of the rest, oldest first.
func (m *memoryThrottles) prune(now time.Time) {
	var oldest time.Time
	for k, c := range m.keys {
		if now.Sub(c.at) > ThrottleForget {
			delete(m.keys, k)
		} else if oldest.IsZero() || c.at.Before(oldest) {
			oldest = c.at
		}
	}
	if len(m.keys) < m.maxKeys {
		return
	}
	cut := oldest.Add(now.Sub(oldest) / 2)
	for k, c := range m.keys {
		if c.at.Before(cut) {
			delete(m.keys, k)
		}
	}
}

// writeThrottled answers 429 with Retry-After.
func (s *Server) writeThrottled(w http.ResponseWriter, r *http.Request, wait time.Duration, what string) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	s.log.WarnContext(r.Context(), "throttled", "what", what, "remote", clientAddr(r, s.trusted), "retry_after", secs)
	s.writeError(w, r, &httpError{status: http.StatusTooManyRequests,
		detail: "Too many attempts; retry in " + strconv.Itoa(max(secs, 1)) + " seconds."})
}
