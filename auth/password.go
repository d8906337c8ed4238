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

// MinHashMemory is the least memory a password hash may take: OWASP's
// argon2id configuration of least memory (7 MiB with 5 passes).
const MinHashMemory = 7 << 20

// DefaultHashMemory is the memory a password hash takes unless configured
// otherwise.
const DefaultHashMemory = MinHashMemory

// owaspWork is the memory times passes (in KiB) of OWASP's argon2id
// configuration of least work (7 MiB, t=5): its configurations (46 MiB and
// t=1, 19 MiB and 2, 12 MiB and 3, 9 MiB and 4, 7 MiB and 5) are the
// smallest numbers of passes that reach it for their memory.
const owaspWork = 7 * 1024 * 5

// HashParams returns argon2id's parameters for hashes of memory bytes (at
// least MinHashMemory, in whole KiB): the passes are as many as OWASP
// recommends for that memory (its configurations trade memory for passes
// at an equal level of defense; between two of them, the passes of the
// smaller memory), one lane, a 16-byte salt and a 32-byte key.
func HashParams(memory int) argon2id.Params {
	kib := uint32(max(memory, MinHashMemory) / 1024)
	return argon2id.Params{Memory: kib, Iterations: (owaspWork + kib - 1) / kib, Parallelism: 1, SaltLength: 16, KeyLength: 32}
}

// OWASPParams returns argon2id's parameters of the default memory
// (HashParams(DefaultHashMemory): m=7 MiB, t=5, p=1): a value each caller
// gets afresh, which no package can change for the others.
func OWASPParams() argon2id.Params { return HashParams(DefaultHashMemory) }

// Hasher hashes and checks passwords with argon2id. At most a fixed number
// of hashes run at once; callers beyond that queue, for at most MaxWait,
// and at most MaxQueue of them: the rest are turned away at once with
// EUNAVAILABLE (503).
//
// Each hash allocates its blocks afresh (argon2 takes no buffer): the
// smaller they are, the less garbage a burst of logins leaves, and the less
// often the runtime collects and holds up each hash while it does (the
// default memory is OWASP's smallest for that reason; see HashParams). The
// Go runtime hands freed memory back to the system only slowly, so when no
// hash has run for a second, the hasher has the runtime collect and return
// what it freed (debug.FreeOSMemory: one collection per burst, not per
// hash).
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
// holds more memory, params.Memory KiB each, and makes each slower;
// inkwell-bench measured the same logins a second with half the peak
// memory of twice the CPUs).
func NewHasher(params argon2id.Params, concurrency int) *Hasher {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	h := &Hasher{params: params, sem: make(chan struct{}, concurrency),
		MaxWait: 10 * time.Second, MaxQueue: int64(32 * concurrency), returnMemory: debug.FreeOSMemory}
	dummy, err := argon2id.CreateHash("inkwell dummy password for unknown users", &params)
	if err != nil {
		panic("auth: " + err.Error())
	}
	h.dummy = dummy
	h.idle = time.AfterFunc(time.Hour, h.whenIdle)
	h.idle.Stop()
	return h
}

// Params returns the parameters of the hashes h makes.
func (h *Hasher) Params() argon2id.Params { return h.params }

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

// Current reports whether hash is an argon2id hash of the parameters h
// hashes with (a login replaces any other: commands' rehash).
func (h *Hasher) Current(hash string) bool {
	p, _, _, err := argon2id.DecodeHash(hash)
	return err == nil && *p == h.params
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

// compareArgon2id checks password against a PHC-format argon2id hash (a
// variable for the test that counts the work each kind of hash costs).
var compareArgon2id = argon2id.ComparePasswordAndHash
