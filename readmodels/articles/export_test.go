package articles

import (
	"time"

	"inkwell/projections"
)

// NewStoreWithClock is NewStore with the clock its memory of numbers reads.
func NewStoreWithClock(db *projections.DB, now func() time.Time) *Store {
	return &Store{DB: db, numbers: newNumberCache(now)}
}

// NumberTTL is how long a Store remembers the id of a number.
const NumberTTL = numberTTL

// FavoriteDerivations are the statements that derive the favorites after
// a rebuild's fill, on the tables favs and arts.
func FavoriteDerivations(favs, arts string) []string { return favoriteDerivations(favs, arts) }
