package articles

import (
	"context"
	"strconv"
	"sync"
	"time"
)

// A write that names a category or a tag by its number (as the tutorial's
// clients do) asks the read model which id the number stands for: a round
// trip to the database before every such create or update, for an answer
// that does not change. The read model gives numbers in the order of the
// log, never twice; only a rebuild over a different log (one whose loss an
// operator accepted, or with an event set aside) can give a number to
// another category. So a Store remembers the ids it found for numberTTL:
// after such a rebuild, a number names its old category for at most that
// long, as a write that read the number just before the swap would. A
// number the read model does not know (yet) is not remembered, and the
// command still checks, against the log, that the category or tag lives.
const (
	numberTTL = time.Second
	// numberCacheSize bounds what a Store remembers: past it, it starts
	// over.
	numberCacheSize = 4096
)

// numberKey names a row of table by its number.
type numberKey struct {
	table  string
	number int64
}

// numberEntry is the id a number stood for, and when it was read.
type numberEntry struct {
	id   string
	read time.Time
}

// numberCache is what a Store remembers of numbers and ids.
type numberCache struct {
	now func() time.Time
	mu  sync.Mutex
	ids map[numberKey]numberEntry
}

func newNumberCache(now func() time.Time) *numberCache {
	return &numberCache{now: now, ids: map[numberKey]numberEntry{}}
}

// get returns the id k stood for when it was read less than numberTTL ago.
func (c *numberCache) get(k numberKey) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.ids[k]
	if !ok || c.now().Sub(e.read) >= numberTTL {
		return "", false
	}
	return e.id, true
}

// put remembers that k stands for id, as read at read.
func (c *numberCache) put(k numberKey, id string, read time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) >= numberCacheSize {
		clear(c.ids)
	}
	c.ids[k] = numberEntry{id: id, read: read}
}

// numberID returns the id of the row of table (categories or tags) whose
// number is n, or notFound.
func (db *Store) numberID(ctx context.Context, table string, n int64, notFound error) (string, error) {
	ref := strconv.FormatInt(n, 10)
	if db.numbers == nil {
		return db.resolve(ctx, table, ref, notFound)
	}
	k := numberKey{table: table, number: n}
	if id, ok := db.numbers.get(k); ok {
		return id, nil
	}
	// The time before the query: an entry never outlives what was read.
	read := db.numbers.now()
	id, err := db.resolve(ctx, table, ref, notFound)
	if err == nil {
		db.numbers.put(k, id, read)
	}
	return id, err
}
