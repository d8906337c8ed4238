package api

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
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

// failureThrottle counts failures per key and blocks a key for an
// exponentially growing time once it has failed more than a free number of
// times. Failures are forgotten an hour after the last one. It holds at most
// maxKeys keys.
type failureThrottle struct {
	mu       sync.Mutex
	free     int
	maxBlock time.Duration
	forget   time.Duration
	maxKeys  int
	now      func() time.Time
	keys     map[string]*failureState
}

type failureState struct {
	count        int
	last         time.Time
	blockedUntil time.Time
}

func newFailureThrottle(free int, maxBlock time.Duration, now func() time.Time) *failureThrottle {
	return &failureThrottle{free: free, maxBlock: maxBlock, forget: time.Hour, maxKeys: 100000, now: now, keys: map[string]*failureState{}}
}

// blocked returns how long key is blocked for (0 if it is not).
func (t *failureThrottle) blocked(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.keys[key]
	if s == nil {
		return 0
	}
	now := t.now()
	if now.Sub(s.last) > t.forget {
		delete(t.keys, key)
		return 0
	}
	if d := s.blockedUntil.Sub(now); d > 0 {
		return d
	}
	return 0
}

// fail records a failure of key.
func (t *failureThrottle) fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	s := t.keys[key]
	if s == nil || now.Sub(s.last) > t.forget {
		if len(t.keys) >= t.maxKeys {
			t.prune(now)
		}
		s = &failureState{}
		t.keys[key] = s
	}
	s.count++
	s.last = now
	if over := s.count - t.free; over > 0 {
		block := time.Duration(math.Pow(2, float64(min(over-1, 30)))) * time.Second
		s.blockedUntil = now.Add(min(block, t.maxBlock))
	}
}

// reset forgets key's failures.
func (t *failureThrottle) reset(key string) {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
}

// prune drops forgotten keys, and if that is not enough, the oldest half.
func (t *failureThrottle) prune(now time.Time) {
	for k, s := range t.keys {
		if now.Sub(s.last) > t.forget {
			delete(t.keys, k)
		}
	}
	if len(t.keys) < t.maxKeys {
		return
	}
	n := 0
	for k, s := range t.keys {
		if s.blockedUntil.Before(now) {
			delete(t.keys, k)
			if n++; n > t.maxKeys/2 {
				return
			}
		}
	}
}

// rateLimiter allows n events an hour per key (bursting up to n).
type rateLimiter struct {
	mu      sync.Mutex
	perHour int
	maxKeys int
	now     func() time.Time
	keys    map[string]*rate.Limiter
}

func newRateLimiter(perHour int, now func() time.Time) *rateLimiter {
	return &rateLimiter{perHour: perHour, maxKeys: 100000, now: now, keys: map[string]*rate.Limiter{}}
}

// allow reports whether key may act now, or how long it must wait.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	if l.perHour <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	lim := l.keys[key]
	if lim == nil {
		if len(l.keys) >= l.maxKeys {
			for k, v := range l.keys {
				if v.TokensAt(now) >= float64(l.perHour) {
					delete(l.keys, k)
				}
			}
		}
		lim = rate.NewLimiter(rate.Every(time.Hour/time.Duration(l.perHour)), l.perHour)
		l.keys[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// errThrottled answers 429 with Retry-After.
func (s *Server) writeThrottled(w http.ResponseWriter, r *http.Request, wait time.Duration, what string) {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	s.log.WarnContext(r.Context(), "throttled", "what", what, "remote", clientAddr(r, s.trusted), "retry_after", secs)
	s.writeError(w, r, &httpError{status: http.StatusTooManyRequests,
		detail: "Too many attempts; retry in " + strconv.Itoa(max(secs, 1)) + " seconds."})
}
