package eventstore

import (
	"context"
	"time"

	"inkwell/domain"
)

// WithoutBatchedGet makes s load several streams one at a time, as it does
// on a server without JetStream's batched direct get (NATS before 2.11).
func WithoutBatchedGet(s *Store) { s.lasts.unsupported.Store(true) }

// UsesBatchedGet reports whether s still loads several streams in one
// round trip.
func UsesBatchedGet(s *Store) bool { return !s.lasts.unsupported.Load() }

// SealEvent returns the JSON of rec's event with its personal fields sealed.
var SealEvent = sealEvent

// OpenBody decodes the JSON of rec's event and opens its personal fields,
// as a read of the log does.
func OpenBody(ctx context.Context, keys DataKeys, rec domain.Record, data []byte) (domain.Event, bool, error) {
	var err error
	if rec.Event, err = domain.DecodeEvent(rec.Type, rec.SchemaVersion, data); err != nil {
		return nil, false, err
	}
	err = openEvent(ctx, keys, &rec)
	return rec.Event, rec.Erased, err
}

// ClusterBusy reports whether err is an answer to ask again for, while a
// cluster elects a leader or forms.
var ClusterBusy = clusterBusy

// SnapshotsServed counts the loads of s that a snapshot served.
func SnapshotsServed(s *Store) uint64 { return s.snapshotsServed.Load() }

// PutSnapshot writes snap into the snapshot bucket of s as the snapshot of
// stream id.
func PutSnapshot(ctx context.Context, s *Store, id domain.StreamID, snap domain.Snapshot) error {
	return s.writeSnapshot(ctx, s.snapKV.Load(), id, snap)
}

// SnapshotBytes returns what the snapshot bucket of s holds for stream id.
func SnapshotBytes(ctx context.Context, s *Store, id domain.StreamID) []byte {
	b, _, _, _ := s.snapKV.Load().Get(ctx, snapshotKey(id))
	return b
}

// LastMessagesSent counts the last messages the server sent s in answer to
// its batched gets (a stream s holds whole is not sent again).
func LastMessagesSent(s *Store) uint64 { return s.lasts.sent.Load() }

// LastSince asks the log of s for the last message of each subject, leaving
// out those whose stream ends where held says the process holds it (see
// lastSince); it returns the sequences sent (0: none) and which subjects
// were left out as current.
func LastSince(ctx context.Context, s *Store, subjects []string, held []uint64) ([]uint64, []bool, error) {
	msgs, current, err := s.lasts.lastSince(ctx, subjects, held)
	seqs := make([]uint64, len(subjects))
	for i, subj := range subjects {
		if m := msgs[subj]; m != nil {
			seqs[i] = m.Sequence
		}
	}
	return seqs, current, err
}

// OnTail reports whether f reads the process's shared tail now, rather
// than a cursor of its own.
func OnTail(f *Follower) bool {
	f.mu.Lock()
	t, sub, own := f.t, f.sub, f.own
	f.mu.Unlock()
	if sub == nil || own != nil {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.subs[sub]
}

// TailBuffer is how many events a follower of the tail may have yet to
// take before the tail lets it go.
const TailBuffer = tailBuffer

// TailRing is how many of its latest events the tail keeps for followers
// joining from a little behind it.
const TailRing = tailRing

// SetRefusalHold sets how long RecheckRefusal keeps a refusal of s at
// least.
func SetRefusalHold(s *Store, d time.Duration) {
	s.mu.Lock()
	s.refusalHold = d
	s.mu.Unlock()
}
