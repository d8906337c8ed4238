package domain

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"
)

// An idempotent request (one sent with an Idempotency-Key) may be attempted
// more than once: its first attempt may have recorded events and then lost
// its answer (a crash, a timeout). Each attempt of it therefore draws the same
// sequence of ids from one seed: the ids of the aggregates it creates, of its
// tokens, and of the events it appends to each stream. A later attempt then
// meets what an earlier one recorded and recognizes it as its own: the event
// log shows it the streams as they stood before its own events, it decides
// again as the first attempt did, and its append finds its own event already
// there instead of recording a second one.

// Attempt is one attempt of an idempotent request. It is safe for concurrent
// use.
type Attempt struct {
	seed [sha256.Size]byte
	ms   uint64 // the first attempt's start, in Unix milliseconds

	mu    sync.Mutex
	drawn map[string]uint64
}

// NewAttempt returns an attempt of the request whose ids come from seed;
// started is when its first attempt began (the time part of its UUIDs).
func NewAttempt(seed []byte, started time.Time) *Attempt {
	return &Attempt{seed: sha256.Sum256(seed), ms: uint64(started.UnixMilli()), drawn: map[string]uint64{}}
}

// NewID draws the attempt's next id for purpose (such as "id" for aggregate
// ids or "refresh" for refresh token ids): a UUID v7 whose time is the first
// attempt's start.
func (a *Attempt) NewID(purpose string) string {
	a.mu.Lock()
	n := a.drawn[purpose]
	a.drawn[purpose] = n + 1
	a.mu.Unlock()
	return a.id(purpose, n)
}

// NextEventID returns the id the next event this attempt appends to stream s
// carries, without drawing it: it stays the next one until EventRecorded.
// Outside an attempt (a nil one) it is "": the log draws a new id.
func (a *Attempt) NextEventID(s StreamID) string {
	if a == nil {
		return ""
	}
	key := "event " + s.String()
	a.mu.Lock()
	n := a.drawn[key]
	a.mu.Unlock()
	return a.id(key, n)
}

// Before returns the events of stream s (recs, standing at pos) as they
// stood before the event this attempt recorded on it, if any: a later
// attempt of an idempotent request loads each stream so, decides again as
// the first attempt did, and its append meets that event as its own.
func (a *Attempt) Before(s StreamID, recs []Record, pos Position) ([]Record, Position) {
	next := a.NextEventID(s)
	for i, r := range recs {
		if r.ID == next {
			recs, pos = recs[:i:i], Position{}
			if i > 0 {
				pos = Position{Seq: recs[i-1].Seq, Version: recs[i-1].Version}
			}
			break
		}
	}
	return recs, pos
}

// EventRecorded notes that the event carrying NextEventID(s) is in the log
// (nothing, outside an attempt).
func (a *Attempt) EventRecorded(s StreamID) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.drawn["event "+s.String()]++
	a.mu.Unlock()
}

// id returns the n-th id of purpose: a UUID v7 layout (48 bits of
// milliseconds, version 7, the RFC 9562 variant) around bits of a hash of
// the seed, the purpose and n.
func (a *Attempt) id(purpose string, n uint64) string {
	h := sha256.New()
	h.Write(a.seed[:])
	h.Write([]byte(purpose))
	var nb [8]byte
	binary.BigEndian.PutUint64(nb[:], n)
	h.Write(nb[:])
	sum := h.Sum(nil)
	var u [16]byte
	copy(u[:], sum[:16])
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], a.ms)
	copy(u[:6], ms[2:])
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:], u[10:])
	return string(out[:])
}

type attemptKey struct{}

// WithAttempt returns ctx carrying attempt a: the event log and the command
// handlers draw this request's ids from it.
func WithAttempt(ctx context.Context, a *Attempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, a)
}

// AttemptFrom returns the attempt ctx carries, or nil for a request that is
// not idempotent.
func AttemptFrom(ctx context.Context) *Attempt {
	a, _ := ctx.Value(attemptKey{}).(*Attempt)
	return a
}
