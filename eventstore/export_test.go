package eventstore

// WithoutBatchedGet makes s load several streams one at a time, as it does
// on a server without JetStream's batched direct get (NATS before 2.11).
func WithoutBatchedGet(s *Store) { s.lasts.unsupported.Store(true) }

// UsesBatchedGet reports whether s still loads several streams in one
// round trip.
func UsesBatchedGet(s *Store) bool { return !s.lasts.unsupported.Load() }

// SealBody and OpenBody seal and open the personal fields of an event's body.
var (
	SealBody = sealBody
	OpenBody = openBody
)
