// The aggregates a rebuild has applied events of, in memory of a fixed size.

package projections

import (
	"hash/maphash"

	"inkwell/domain"
)

// seenBits is the size of a rebuild's seenFilter: 2^25 bits, 4 MiB,
// whatever the size of the log. With seenHashes probes, an aggregate never
// applied is taken for one applied (and its rows looked for in vain) about
// once in 3 million times at 200,000 aggregates, once in 6,000 at a
// million, and once in 4 at ten million.
const (
	seenBits   = 1 << 25
	seenHashes = 4
)

// seenFilter remembers the aggregates a rebuild applied events of, as a
// Bloom filter: it may answer that an aggregate was seen when it was not
// (Apply then looks for rows that are not there: slower, never wrong), but
// never the other way round. It holds nothing of the events themselves (a
// map of every aggregate kept the header block of one event of each alive
// for the whole pass: memory that grew with the log).
type seenFilter struct {
	seed maphash.Seed
	bits []uint64
}

func newSeenFilter() *seenFilter {
	return &seenFilter{seed: maphash.MakeSeed(), bits: make([]uint64, seenBits/64)}
}

// hashes returns the two halves of s's hash, from which each probe is made
// (Kirsch and Mitzenmacher: h1 + i*h2).
func (f *seenFilter) hashes(s domain.StreamID) (uint32, uint32) {
	var h maphash.Hash
	h.SetSeed(f.seed)
	h.WriteString(s.Type)
	h.WriteByte('.')
	h.WriteString(s.ID)
	v := h.Sum64()
	return uint32(v), uint32(v>>32) | 1
}

// add remembers s.
func (f *seenFilter) add(s domain.StreamID) {
	h1, h2 := f.hashes(s)
	for i := range uint32(seenHashes) {
		b := (h1 + i*h2) % seenBits
		f.bits[b/64] |= 1 << (b % 64)
	}
}

// mayHave reports whether s may have been added: false only if it was not.
func (f *seenFilter) mayHave(s domain.StreamID) bool {
	h1, h2 := f.hashes(s)
	for i := range uint32(seenHashes) {
		b := (h1 + i*h2) % seenBits
		if f.bits[b/64]&(1<<(b%64)) == 0 {
			return false
		}
	}
	return true
}
