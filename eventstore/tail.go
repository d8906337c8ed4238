// The process's shared tail of the log: one cursor on every subject, fanned out to its followers.

package eventstore

import (
	"context"
	"errors"
	"sync"

	"inkwell/domain"
)

// A follower of several aggregate types reads every message of the log and
// selects on the subject in the client (see follow). With a cursor of its
// own each, every read model of a process would have the server deliver,
// and the client take in and decode, every event once more. The followers
// of a process share one cursor on the whole log instead, the tail: it
// decodes each event once and hands it to each follower whose subjects it
// matches, through a buffer of the follower's own.
//
// The tail never waits for a follower. One that falls tailBuffer events
// behind (a slow batch, a database that does not answer) is let go: it goes
// on alone, on a cursor of its own from where it stood, and joins the tail
// again once that cursor has caught up with the log. A follower joins the
// tail at its own position: ahead of the tail, it is handed nothing until
// the tail passes that position; a little behind it, the tail's latest
// events (tailRing) fill the difference if they hold the very next event;
// further behind, or across a loss of the log, it starts alone; far ahead
// of it (the tail catching up for a follower far behind), it goes alone
// until the tail is near: it would otherwise wait for the tail to go
// through the log it has already applied. A tail that has no follower
// left ends.
const (
	tailBuffer = 4096
	tailRing   = 512
	tailAhead  = tailBuffer
)

// Follower follows the log for one reader of the process, on the process's
// shared tail where it can (see Store.Tail). Next, TryNext and Check are
// called from one goroutine; Pending and Close from any.
type Follower struct {
	s     *Store
	match []string // the subjects it selects on the tail (nil: all)
	solo  bool     // its cursor is filtered by the server: it never joins the tail
	pos   uint64   // the last sequence handed out, or gone through alone, or the one before the first

	mu     sync.Mutex
	t      *tail    // the tail it is on
	sub    *tailSub // its place there
	own    *Cursor  // its own cursor, while it is not on the tail
	closed bool
	done   chan struct{}
}

// Tail returns a follower of every event from sequence from (1 for the
// whole log) whose subject matches one of subjects (all when none are
// given; see SubjectsOf), like Follow, that shares the process's tail of
// the log with the other followers from Tail when it selects several
// subjects or all. A follower of one subject has a cursor of its own, which
// the server filters.
//
// What it hands out is what a cursor from Follow would: the same events in
// the same order, and a *GapError before an event after a loss of the log
// (unless the loss was accepted). The events' decoded values are shared
// with the other followers: they are read, never changed.
func (s *Store) Tail(ctx context.Context, from uint64, subjects ...string) (*Follower, error) {
	from = max(from, 1)
	f := &Follower{s: s, pos: from - 1, done: make(chan struct{})}
	switch {
	case len(subjects) == 1 && subjects[0] != s.cfg.SubjectPrefix+".>":
		cur, err := s.Follow(ctx, from, subjects...)
		if err != nil {
			return nil, err
		}
		f.own, f.solo = cur, true
		return f, nil
	case len(subjects) > 1:
		f.match = subjects
	}
	joined, err := f.join(ctx)
	if err != nil {
		return nil, err
	}
	if !joined {
		if f.own, err = s.Follow(ctx, from, subjects...); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// Next returns the next event, waiting for one to be appended if needed.
func (f *Follower) Next(ctx context.Context) (domain.Record, error) {
	for {
		own, sub, err := f.source()
		if err != nil {
			return domain.Record{}, err
		}
		if own != nil {
			if !f.solo && f.rejoin(ctx, own) {
				continue
			}
			return f.handed(own.Next(ctx))
		}
		select {
		case it, ok := <-sub.ch:
			if ok {
				return f.handed(it.rec, it.err)
			}
			if err := f.alone(ctx); err != nil {
				return domain.Record{}, err
			}
		case <-f.done:
			return domain.Record{}, ErrCursorClosed
		case <-ctx.Done():
			return domain.Record{}, ctx.Err()
		}
	}
}

// TryNext returns the next event if one has already arrived.
func (f *Follower) TryNext() (domain.Record, bool, error) {
	for {
		own, sub, err := f.source()
		if err != nil {
			return domain.Record{}, false, err
		}
		if own != nil {
			rec, ok, err := own.TryNext()
			if ok {
				rec, err = f.handed(rec, err)
			}
			return rec, ok, err
		}
		select {
		case it, ok := <-sub.ch:
			if ok {
				rec, err := f.handed(it.rec, it.err)
				return rec, true, err
			}
			if err := f.alone(context.Background()); err != nil {
				return domain.Record{}, false, err
			}
		default:
			return domain.Record{}, false, nil
		}
	}
}

// Pending returns how many messages of the log past the last event handed
// out the follower has yet to go through (see Cursor.Pending): on the
// tail, those the tail has yet to go through and those waiting for the
// follower, an upper bound. 0 means caught up.
func (f *Follower) Pending() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.own != nil:
		return f.own.Pending()
	case f.sub != nil:
		return f.t.cur.Pending() + uint64(len(f.sub.ch))
	}
	return 0
}

// Check asks the server about the cursor the follower reads (see
// Cursor.Check). A tail whose cursor fails it ends: its followers go on
// alone, and the next to join makes a new one.
func (f *Follower) Check(ctx context.Context) error {
	f.mu.Lock()
	own, t := f.own, f.t
	f.mu.Unlock()
	switch {
	case own != nil:
		return own.Check(ctx)
	case t != nil && !t.isEnded():
		if err := t.cur.Check(ctx); err != nil {
			t.end()
			return err
		}
	}
	return nil
}

// Close stops the follower; Next returns ErrCursorClosed.
func (f *Follower) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	close(f.done)
	own, t, sub := f.own, f.t, f.sub
	f.mu.Unlock()
	if own != nil {
		own.Close()
	}
	if t != nil {
		t.leave(sub)
	}
}

// source returns what the follower reads now: its own cursor, or its place
// on the tail.
func (f *Follower) source() (*Cursor, *tailSub, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, nil, ErrCursorClosed
	}
	return f.own, f.sub, nil
}

// handed records that rec was handed out.
func (f *Follower) handed(rec domain.Record, err error) (domain.Record, error) {
	if err == nil {
		f.pos = max(f.pos, rec.Seq)
	}
	return rec, err
}

// join puts the follower on the process's tail, making one if there is
// none, and reports whether it could (see tail.join).
func (f *Follower) join(ctx context.Context) (bool, error) {
	t, sub, err := f.s.joinTail(ctx, f.pos, f.match)
	if err != nil || t == nil {
		return false, err
	}
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		t.leave(sub)
		return false, ErrCursorClosed
	}
	f.t, f.sub = t, sub
	f.mu.Unlock()
	return true, nil
}

// rejoin puts a follower alone on own back on the tail if own has caught
// up with the log, and reports whether it did. Its cursor is closed: the
// tail hands it everything past its position.
func (f *Follower) rejoin(ctx context.Context, own *Cursor) bool {
	// What own went through before it had nothing pending was handed
	// out or skipped (read in that order: the pump marks a message gone
	// through once it is in the buffer that Pending counts).
	through := own.through.Load()
	if own.Pending() != 0 {
		return false
	}
	f.pos = max(f.pos, through)
	if joined, _ := f.join(ctx); !joined {
		return false
	}
	f.mu.Lock()
	f.own = nil
	f.mu.Unlock()
	own.Close()
	return true
}

// alone makes the follower, let go by the tail (or the tail ended), go on
// on a cursor of its own from the event after the last it handed out.
func (f *Follower) alone(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.s.cfg.OpTimeout)
	defer cancel()
	cur, err := f.s.Follow(ctx, f.pos+1, f.match...)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		cur.Close()
		return ErrCursorClosed
	}
	f.own, f.t, f.sub = cur, nil, nil
	return nil
}

// tail is the cursor on the whole log that the process's followers share.
type tail struct {
	s   *Store
	cur *Cursor

	mu    sync.Mutex
	pos   uint64 // the sequence of the last event handed out
	ring  []item // its latest events, with their subjects
	next  int    // where the next event goes in ring once it is full
	subs  map[*tailSub]bool
	ended bool
}

// tailSub is a follower's place on the tail: the events for it, past start,
// wait in ch, which the tail closes when it lets the follower go or ends.
type tailSub struct {
	ch    chan item
	match []string
	start uint64
}

// joinTail gives a follower whose last event is at pos, of subjects match
// (nil: all), a place on the process's tail, making a tail from pos if
// there is none (or it has ended): a nil tail if the tail there is refuses
// it (see tail.join).
func (s *Store) joinTail(ctx context.Context, pos uint64, match []string) (*tail, *tailSub, error) {
	s.tailMu.Lock()
	defer s.tailMu.Unlock()
	if t := s.tail; t != nil {
		sub, ok, ended := t.join(pos, match)
		switch {
		case ok:
			return t, sub, nil
		case !ended:
			return nil, nil, nil
		}
	}
	cur, err := s.Follow(ctx, pos+1)
	if err != nil {
		return nil, nil, err
	}
	t := &tail{s: s, cur: cur, pos: pos, ring: make([]item, 0, tailRing), subs: map[*tailSub]bool{}}
	// On it before its first event, or it would end for want of followers.
	sub, _, _ := t.join(pos, match)
	s.tail = t
	go t.run()
	return t, sub, nil
}

// NewTail makes the followers that join from now on share a new tail,
// for when the log's server lost its consumers (see projections'
// Set.Reopen): the tail of the moment goes on for its followers until
// they leave it.
func (s *Store) NewTail() {
	s.tailMu.Lock()
	defer s.tailMu.Unlock()
	s.tail = nil
}

// run hands the cursor's events out until it ends.
func (t *tail) run() {
	for {
		it, ok := t.cur.nextItem()
		if !ok {
			t.end()
			return
		}
		var gap *GapError
		left := true
		switch {
		case errors.As(it.err, &gap):
			left = t.lost(it, gap)
		case it.err != nil:
			// Its followers go on alone, and meet the failure there.
			left = false
		default:
			left = t.handOut(it)
		}
		if !left {
			t.end()
			return
		}
	}
}

// handOut hands the event of it to each follower it is for, and reports
// whether the tail has followers left.
func (t *tail) handOut(it item) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec := it.rec
	t.pos = rec.Seq
	if len(t.ring) < cap(t.ring) {
		t.ring = append(t.ring, it)
	} else {
		t.ring[t.next] = it
		t.next = (t.next + 1) % len(t.ring)
	}
	for sub := range t.subs {
		if rec.Seq <= sub.start || (sub.match != nil && !matchesAny(sub.match, it.subject)) {
			continue
		}
		select {
		case sub.ch <- item{rec: rec, raw: 1}:
		default:
			t.letGo(sub)
		}
	}
	return len(t.subs) > 0
}

// lost hands a loss of the log to the followers whose positions are before
// its end, and forgets the latest events: a follower joining from before
// the loss must meet it on a cursor of its own. It reports whether the tail
// has followers left.
func (t *tail) lost(it item, gap *GapError) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ring, t.next = t.ring[:0], 0
	for sub := range t.subs {
		if gap.Last <= sub.start {
			continue
		}
		select {
		case sub.ch <- item{err: it.err}:
		default:
			t.letGo(sub)
		}
	}
	return len(t.subs) > 0
}

// letGo lets a follower go: it finds its channel closed once drained.
// t.mu is held.
func (t *tail) letGo(sub *tailSub) {
	delete(t.subs, sub)
	close(sub.ch)
}

// join gives a follower whose last event is at pos, of subjects match
// (nil: all), a place on the tail: ok is false when the tail has passed pos
// and its latest events do not hold the one after it, or is more than
// tailAhead events behind pos; ended when the tail has ended.
func (t *tail) join(pos uint64, match []string) (sub *tailSub, ok, ended bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return nil, false, true
	}
	if pos > t.pos+tailAhead {
		return nil, false, false
	}
	sub = &tailSub{ch: make(chan item, tailBuffer), match: match, start: pos}
	if pos < t.pos {
		recent := append(t.ring[t.next:len(t.ring):len(t.ring)], t.ring[:t.next]...)
		i := 0
		for i < len(recent) && recent[i].rec.Seq != pos+1 {
			i++
		}
		if i == len(recent) {
			return nil, false, false
		}
		for _, it := range recent[i:] {
			if match == nil || matchesAny(match, it.subject) {
				sub.ch <- item{rec: it.rec, raw: 1}
			}
		}
	}
	t.subs[sub] = true
	return sub, true, false
}

// leave takes a follower's place off the tail; the tail ends with its last
// follower.
func (t *tail) leave(sub *tailSub) {
	t.mu.Lock()
	if t.subs[sub] {
		delete(t.subs, sub)
	}
	empty := len(t.subs) == 0
	t.mu.Unlock()
	if empty {
		t.end()
	}
}

// end stops the tail: its followers go on alone, and the next follower to
// join makes a new one.
func (t *tail) end() {
	t.mu.Lock()
	first := !t.ended
	t.ended = true
	for sub := range t.subs {
		t.letGo(sub)
	}
	t.mu.Unlock()
	if !first {
		return
	}
	t.cur.Close()
	t.s.tailMu.Lock()
	if t.s.tail == t {
		t.s.tail = nil
	}
	t.s.tailMu.Unlock()
}

func (t *tail) isEnded() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ended
}

// nextItem returns the cursor's next item as its pump made it; false once
// the cursor is closed or its pump has ended.
func (c *Cursor) nextItem() (item, bool) {
	select {
	case it, ok := <-c.ch:
		return it, ok
	case <-c.done:
		return item{}, false
	}
}
