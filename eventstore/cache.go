package eventstore

import (
	"container/list"
	"sync"

	"inkwell/domain"
)

// streamCache keeps recently loaded aggregate streams, least recently used
// first out. Records are shared read-only; callers must not modify them.
type streamCache struct {
	mu    sync.Mutex
	gen   uint64 // counts the clears
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	subject string
	recs    []domain.Record
	pos     domain.Position
}

func newStreamCache(max int) *streamCache {
	return &streamCache{max: max, ll: list.New(), items: make(map[string]*list.Element)}
}

func (c *streamCache) get(subject string) ([]domain.Record, domain.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[subject]
	if !ok {
		return nil, domain.Position{}
	}
	c.ll.MoveToFront(el)
	e := el.Value.(*cacheEntry)
	// Full slice expression: appending to the result never writes into the cache.
	return e.recs[:len(e.recs):len(e.recs)], e.pos
}

func (c *streamCache) put(subject string, recs []domain.Record, pos domain.Position) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[subject]; ok {
		e := el.Value.(*cacheEntry)
		if pos.Seq >= e.pos.Seq {
			e.recs, e.pos = recs[:len(recs):len(recs)], pos
		}
		c.ll.MoveToFront(el)
		return
	}
	c.items[subject] = c.ll.PushFront(&cacheEntry{subject: subject, recs: recs[:len(recs):len(recs)], pos: pos})
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).subject)
	}
}

// extend adds a just-appended record to a cached stream that stood at pos.
func (c *streamCache) extend(subject string, pos domain.Position, rec domain.Record) {
	c.mu.Lock()
	el, ok := c.items[subject]
	if ok {
		e := el.Value.(*cacheEntry)
		if e.pos == pos {
			// In place where the cache's own array has room: what get
			// returned ends before (its capacity too), so no reader sees
			// the write, and a stream appended to N times is copied about
			// log N times rather than N.
			e.recs, e.pos = append(e.recs, rec), domain.Position{Seq: rec.Seq, Version: rec.Version}
		}
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if pos == (domain.Position{}) {
		c.put(subject, []domain.Record{rec}, domain.Position{Seq: rec.Seq, Version: rec.Version})
	}
}

// generation returns the number of clears so far.
func (c *streamCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// putAt puts what was read since generation gen, unless the cache was
// cleared meanwhile (what was read may be older than the clear).
func (c *streamCache) putAt(gen uint64, subject string, recs []domain.Record, pos domain.Position) {
	c.mu.Lock()
	stale := c.gen != gen
	c.mu.Unlock()
	if !stale {
		c.put(subject, recs, pos)
	}
}

// clear forgets every stream.
func (c *streamCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.ll.Init()
	clear(c.items)
}

func (c *streamCache) drop(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[subject]; ok {
		c.ll.Remove(el)
		delete(c.items, subject)
	}
}
