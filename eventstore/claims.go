package eventstore

import "inkwell/domain"

// Stream metadata naming how the log names its claims, and which personal
// data it has held sealed from its first event.
const (
	MetadataClaims = "inkwell_claims"
	ClaimsKeyed    = "hmac-sha256"
	MetadataSealed = "inkwell_sealed"
	// SealedNow is what a log written by this build seals: the users'
	// personal data and the articles' text. A log without it holds some of
	// that in clear text (written before Inkwell sealed articles' text)
	// until inkwell events encrypt rewrites it.
	SealedNow = "users,articles"
)

// UsePersonalData makes the store seal the personal fields of the events it
// appends, and open them in the events it reads, with keys, and name claims
// keyed by claimKey (see ClaimStream). It is called once, before the store
// is used.
func (s *Store) UsePersonalData(keys DataKeys, claimKey []byte) {
	s.keys, s.claimKey = keys, claimKey
	if k, ok := keys.(*Keyring); ok {
		// The aggregates and snapshots in memory hold personal fields in
		// clear text: once a key is destroyed, they are read again from
		// the log.
		clear := func() { s.cache.clear(); s.snaps.clear() }
		k.onDestroyed.Store(&clear)
	}
}

// DataKeys returns the data keys the store seals and opens personal data
// with (nil before UsePersonalData).
func (s *Store) DataKeys() DataKeys { return s.keys }

// ClaimStream names the stream of the claim on a unique value: keyed by the
// claim key (domain.KeyedClaimStream), or, in a log written before claims
// were keyed, as that log names them (domain.ClaimStream). A keyed log on a
// store given no claim key names no stream (its appends fail).
func (s *Store) ClaimStream(kind, value string) domain.StreamID {
	switch {
	case !s.keyedClaims:
		return domain.ClaimStream(kind, value)
	case s.claimKey == nil:
		return domain.StreamID{Type: domain.AggregateClaim}
	}
	return domain.KeyedClaimStream(s.claimKey, kind, value)
}

// KeyedClaims reports whether the log names its claims by a keyed hash; a
// log written before Inkwell did is rewritten by inkwell events encrypt.
func (s *Store) KeyedClaims() bool { return s.keyedClaims }

// SealedThroughout reports whether the log has held every personal datum
// this build seals sealed from its first event (SealedNow); a log written
// before (its articles' text in clear text, say) is rewritten by inkwell
// events encrypt.
func (s *Store) SealedThroughout() bool { return s.keyedClaims && s.sealedNow }
