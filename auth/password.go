package auth

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/alexedwards/argon2id"

	"inkwell/domain"
)

// OWASPParams returns argon2id's parameters as OWASP recommends them
// (m=19 MiB, t=2, p=1), with a 16-byte salt and a 32-byte key: a value
// each caller gets afresh, which no package can change for the others.
func OWASPParams() argon2id.Params {
	return argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// Hasher hashes and checks passwords with argon2id. At most a fixed number
// of hashes run at once (each takes 19 MiB, so memory stays bounded);
// callers beyond that queue, for at most MaxWait, and at most MaxQueue of
// them: the rest are turned away at once with EUNAVAILABLE (503).
//
// Each hash allocates its 19 MiB afresh (argon2 takes no buffer), and the
// Go runtime hands freed memory back to the system only slowly: after a
// burst of logins the process would keep its peak for minutes. So when no
// hash has run for a second, the hasher has the runtime collect and return
// what it freed (debug.FreeOSMemory: one collection per burst, not per hash).
type Hasher struct {
	params   argon2id.Params
	sem      chan struct{}
	dummy    string
	waiting  atomic.Int64
	MaxWait  time.Duration
	MaxQueue int64
	// LegacyIterations, when set, is the PBKDF2 iteration count of the
	// password hashes imported from Django (inkwell import django reports
	// it): every check then spends one pbkdf2_sha256 derivation of that
	// many iterations, real or dummy, beside its argon2id check, so that a
	// failed login takes as long for an account holding an imported hash
	// as for any other.
	LegacyIterations int

	idle     *time.Timer
	lastDone atomic.Int64 // UnixNano of the end of the last hash
	// returnMemory returns freed memory to the system (debug.FreeOSMemory).
	returnMemory func()
}

// idleAfter is how long no hash runs before the hasher returns memory.
const idleAfter = time.Second

// NewHasher returns a hasher running at most concurrency hashes at once
// (0: as many as CPUs: a hash keeps a CPU busy, so more at once only
// holds more memory, 19 MiB each, and makes each slower; inkwell-bench
// measured the same logins a second with half the peak memory of twice
// the CPUs).
func NewHasher(params argon2id.Params, concurrency int) *Hasher {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	dummy, err := argon2id.CreateHash("inkwell dummy password for unknown users", &params)
	if err != nil {
		panic("auth: " + err.Error())
	}
	h := &Hasher{params: params, sem: make(chan struct{}, concurrency), dummy: dummy,
		MaxWait: 10 * time.Second, MaxQueue: int64(32 * concurrency), returnMemory: debug.FreeOSMemory}
	h.idle = time.AfterFunc(time.Hour, h.whenIdle)
	h.idle.Stop()
	return h
}

// whenIdle returns memory if no hash has run (or begun) since the timer was
// set; otherwise it waits for the next quiet second.
func (h *Hasher) whenIdle() {
	if len(h.sem) > 0 || h.waiting.Load() > 0 {
		return // the hash running now sets the timer again when it ends
	}
	if quiet := time.Since(time.Unix(0, h.lastDone.Load())); quiet < idleAfter {
		h.idle.Reset(idleAfter - quiet)
		return
	}
	h.returnMemory()
}

// ErrBusy is returned when too many password checks are waiting.
var ErrBusy = domain.Errorf(domain.EUNAVAILABLE, "The server is busy; retry shortly.")

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.MaxQueue {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	t := time.NewTimer(h.MaxWait)
	defer t.Stop()
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return ErrBusy
	}
}

func (h *Hasher) release() {
	h.lastDone.Store(time.Now().UnixNano())
	<-h.sem
	h.idle.Reset(idleAfter)
}

// Hash returns the PHC-format argon2id hash of password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	hash, err := argon2id.CreateHash(password, &h.params)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return hash, nil
}

// Verify reports whether password matches hash: an argon2id hash, or one
// imported from Django (see verifyAny). An empty hash (an unknown user) or
// an unusable one is checked against a dummy hash with the same
// parameters, so that the answer takes as long as for a real user.
func (h *Hasher) Verify(ctx context.Context, password, hash string) (bool, error) {
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	ok, err := h.verifyAny(password, hash)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	return ok, nil
}

// compareArgon2id checks password against a PHC-format argon2id hash.
var compareArgon2id = argon2id.ComparePasswordAndHash
