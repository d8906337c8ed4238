package eventstore

import (
	"container/list"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"inkwell/domain"
)

// Snapshots of aggregates (domain.Snapshotter), so that loading one costs
// the same at any age. LoadInto folds an aggregate from its latest snapshot
// and the events after it: a snapshot in memory (kept at the position of
// each load, at most SnapshotCacheBytes of them), else one from the bucket
// <StreamName>_SNAPSHOTS, written every SnapshotEvery events of a stream
// (one key a stream, the latest only). The log stays the truth:
//
//   - a snapshot serves only its own kind (domain.Snapshotter.SnapshotKind:
//     the code that folds, the state's shape, the event catalogue);
//   - one read from the bucket serves only if the log still holds, at its
//     sequence, its stream's event of its version and id (a restored or
//     rewritten log does not), and if the events after it continue its
//     version;
//   - one that holds personal data (its subject's) is sealed with the
//     subject's data key, as the log's personal fields are: once the key is
//     destroyed (an erasure) it opens no more, and the snapshots in memory
//     are dropped;
//   - a load for an attempt of an idempotent request (which sees the stream
//     as it stood before its own event) folds every event.
//
// Whatever fails (a lost, corrupt or mismatched snapshot, a bucket that does
// not answer) costs a full load, never a wrong state.

// DefaultSnapshotEvery is how many events of a stream pass, by default,
// between two snapshots written to the bucket.
const DefaultSnapshotEvery = 32

// DefaultSnapshotCacheBytes is how many bytes of snapshots are kept in
// memory by default.
const DefaultSnapshotCacheBytes = 16 << 20

// snapshotFetchBytes bounds the bytes of one batched read of a stream's
// events.
const snapshotFetchBytes = 1 << 20

// snapshotFetchBatch bounds the messages of one batched read.
const snapshotFetchBatch = 256

// OpenSnapshots creates (or opens) the bucket of the aggregates' snapshots,
// with as many replicas as the log. Without it, snapshots are kept in memory
// only.
func (s *Store) OpenSnapshots(ctx context.Context) error {
	b, err := s.openBucket(ctx, "SNAPSHOTS", "snapshot", "snapshots of aggregates, each sealed with its subject's data key (the log is the truth)", 0)
	if err != nil {
		return err
	}
	s.snapKV.Store(b)
	return nil
}

// LoadInto folds the events of stream id into a (a zero aggregate) and
// returns where the stream stands: from a snapshot and the events after it
// where a is a domain.Snapshotter, else from every event (as Load).
func (s *Store) LoadInto(ctx context.Context, id domain.StreamID, a domain.Aggregate) (domain.Position, error) {
	sa, ok := a.(domain.Snapshotter)
	if !ok || domain.AttemptFrom(ctx) != nil {
		recs, pos, err := s.Load(ctx, id)
		if err != nil {
			return pos, err
		}
		for _, r := range recs {
			a.Apply(r)
		}
		return pos, nil
	}
	subj, err := s.Subject(id)
	if err != nil {
		return domain.Position{}, err
	}
	stored := s.readSnapshotEarly(ctx, id, subj, sa.SnapshotKind())
	held, _, ok := s.snaps.get(subj, sa.SnapshotKind())
	octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	var heldSeq uint64
	if ok {
		heldSeq = held.Position.Seq
	}
	last, current, err := s.lastOf(octx, subj, heldSeq)
	if current {
		if pos, served := s.serveHeld(sa, held); served {
			return pos, nil
		}
		last, _, err = s.lastOf(octx, subj, 0)
	}
	if err != nil {
		return domain.Position{}, unavailable(fmt.Errorf("load %s: %w", id, err))
	}
	if last == nil {
		return domain.Position{}, nil
	}
	return s.foldTo(ctx, id, subj, last, sa, stored)
}

// serveHeld sets a to the snapshot in memory held, which the log said is
// where its stream ends, and returns its position; false if its state does
// not unmarshal (the caller then folds from the log).
func (s *Store) serveHeld(a domain.Snapshotter, held domain.Snapshot) (domain.Position, bool) {
	if a.UnmarshalSnapshot(held.State) != nil {
		return domain.Position{}, false
	}
	s.snapshotsServed.Add(1)
	return held.Position, true
}

// LoadEachInto is LoadInto of several streams, asking the log where they
// stand in one round trip where the server can (see LoadEach).
func (s *Store) LoadEachInto(ctx context.Context, ids []domain.StreamID, aggs []domain.Aggregate) ([]domain.Position, error) {
	if len(ids) != len(aggs) {
		return nil, fmt.Errorf("load %d streams into %d aggregates", len(ids), len(aggs))
	}
	poss := make([]domain.Position, len(ids))
	subjects := make([]string, len(ids))
	for i, id := range ids {
		subj, err := s.Subject(id)
		if err != nil {
			return nil, err
		}
		subjects[i] = subj
	}
	octx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	var lasts map[string]*jetstream.RawStreamMsg
	var current []bool
	var err error
	stored := make([]func() (domain.Snapshot, bool), len(ids))
	// What the process holds of each stream: a snapshot in memory, or the
	// stream's events in the cache.
	heldSnaps := make([]domain.Snapshot, len(ids))
	heldRecs := make([][]domain.Record, len(ids))
	held := make([]uint64, len(ids))
	if domain.AttemptFrom(ctx) == nil {
		for i, id := range ids {
			if sa, ok := aggs[i].(domain.Snapshotter); ok {
				stored[i] = s.readSnapshotEarly(ctx, id, subjects[i], sa.SnapshotKind())
				if snap, _, ok := s.snaps.get(subjects[i], sa.SnapshotKind()); ok {
					heldSnaps[i], held[i] = snap, snap.Position.Seq
				}
				continue
			}
			heldRecs[i], poss[i] = s.cache.get(subjects[i])
			held[i] = poss[i].Seq
		}
		lasts, current, err = s.lasts.lastSince(octx, subjects, held)
	}
	if lasts == nil && (err == nil || errors.Is(err, errNoMultiGet)) {
		for i, id := range ids {
			if poss[i], err = s.LoadInto(ctx, id, aggs[i]); err != nil {
				return nil, err
			}
		}
		return poss, nil
	} else if err != nil {
		return nil, unavailable(fmt.Errorf("load %v: %w", ids, err))
	}
	for i, id := range ids {
		last := lasts[subjects[i]]
		if sa, ok := aggs[i].(domain.Snapshotter); ok {
			if current[i] {
				var served bool
				if poss[i], served = s.serveHeld(sa, heldSnaps[i]); served {
					continue
				}
				if last, _, err = s.lastOf(octx, subjects[i], 0); err != nil {
					return nil, unavailable(fmt.Errorf("load %s: %w", id, err))
				}
			}
			if last == nil {
				continue
			}
			if poss[i], err = s.foldTo(ctx, id, subjects[i], last, sa, stored[i]); err != nil {
				return nil, err
			}
			continue
		}
		recs, pos := heldRecs[i], poss[i]
		if !current[i] {
			if recs, pos, err = s.upTo(ctx, id, subjects[i], last); err != nil {
				return nil, err
			}
		}
		for _, r := range recs {
			aggs[i].Apply(r)
		}
		poss[i] = pos
	}
	return poss, nil
}

// readSnapshotEarly starts reading the bucket's snapshot of stream id where
// none is in memory, while the caller asks the log where the stream stands
// (one round trip rather than two after a restart), and returns what waits
// for it; nil when there is nothing to read.
func (s *Store) readSnapshotEarly(ctx context.Context, id domain.StreamID, subj, kind string) func() (domain.Snapshot, bool) {
	if s.snapKV.Load() == nil || s.snaps.has(subj, kind) {
		return nil
	}
	type result struct {
		snap domain.Snapshot
		ok   bool
	}
	ch := make(chan result, 1)
	go func() {
		snap, ok := s.readSnapshot(ctx, id, subj, kind)
		ch <- result{snap, ok}
	}()
	return func() (domain.Snapshot, bool) {
		r := <-ch
		return r.snap, r.ok
	}
}

// foldTo folds stream id (on subject subj, whose last message is last) into
// a, from a snapshot where one serves, and keeps a snapshot of the result;
// stored, if not nil, gives the bucket's snapshot (readSnapshotEarly).
// Each request to the server is bounded by OpTimeout, not the whole load:
// the first load of a long stream without a snapshot reads it in many.
func (s *Store) foldTo(ctx context.Context, id domain.StreamID, subj string, last *jetstream.RawStreamMsg, a domain.Snapshotter, stored func() (domain.Snapshot, bool)) (domain.Position, error) {
	lastVersion, err := strconv.ParseUint(last.Header.Get(HeaderAggregateVersion), 10, 64)
	if err != nil || lastVersion < 1 {
		return domain.Position{}, fmt.Errorf("load %s: message %d: aggregate version %q is not a number from 1", id, last.Sequence, last.Header.Get(HeaderAggregateVersion))
	}
	pos := domain.Position{Seq: last.Sequence, Version: lastVersion}
	kind := a.SnapshotKind()
	gen := s.snaps.generation()
	snap, persisted, ok := s.snaps.get(subj, kind)
	trusted := ok // a snapshot in memory was taken from this log
	if !ok && lastVersion >= uint64(s.cfg.SnapshotEvery) {
		if stored != nil {
			snap, ok = stored()
		} else {
			snap, ok = s.readSnapshot(ctx, id, subj, kind)
		}
		persisted = snap.Position.Version
	}
	var recs []domain.Record
	if ok {
		recs, ok, err = s.after(ctx, id, subj, last, lastVersion, snap, trusted)
		if err != nil {
			return domain.Position{}, err
		}
	}
	if ok && a.UnmarshalSnapshot(snap.State) != nil {
		ok = false
	}
	if ok {
		s.snapshotsServed.Add(1)
	}
	if !ok {
		s.snaps.drop(subj)
		persisted = 0
		if lastVersion == 1 {
			// One event: the last one, at hand.
			rec, err := RawEvent{Subject: subj, Seq: last.Sequence, Header: last.Header, Data: last.Data, Keys: s.keys}.Decode()
			if err != nil {
				return domain.Position{}, fmt.Errorf("load %s: %w", id, err)
			}
			recs = []domain.Record{rec}
		} else if recs, err = s.fetch(ctx, id, subj, 1, last.Sequence); err != nil {
			return domain.Position{}, err
		}
	}
	for _, r := range recs {
		a.Apply(r)
	}
	switch {
	case len(recs) > 0:
		s.keepSnapshot(ctx, gen, id, subj, a, pos, recs[len(recs)-1].ID, persisted)
	case !trusted:
		// The bucket's snapshot, checked against the log, is the stream.
		s.snaps.putAt(gen, subj, snap, persisted)
	}
	return pos, nil
}

// after returns the events of subj after snapshot snap, up to last (of
// version lastVersion), and whether snap serves: it must stand before last,
// and, unless trusted, the log must hold its event at its sequence.
func (s *Store) after(ctx context.Context, id domain.StreamID, subj string, last *jetstream.RawStreamMsg, lastVersion uint64, snap domain.Snapshot, trusted bool) ([]domain.Record, bool, error) {
	sp := snap.Position
	switch {
	case sp.Seq > last.Sequence || sp.Version > lastVersion || sp.Version == 0:
		return nil, false, nil
	case sp.Seq == last.Sequence:
		return nil, (trusted || isEvent(last, snap)) && sp.Version == lastVersion, nil
	case trusted && lastVersion == sp.Version+1:
		// The next event is the last one: no read but its decoding.
		rec, err := RawEvent{Subject: subj, Seq: last.Sequence, Header: last.Header, Data: last.Data, Keys: s.keys}.Decode()
		if err != nil {
			return nil, false, fmt.Errorf("load %s: %w", id, err)
		}
		return []domain.Record{rec}, true, nil
	}
	from := sp.Seq + 1
	if !trusted {
		from = sp.Seq // read the snapshot's own event, to check it
	}
	msgs, err := s.fetchRaw(ctx, id, subj, from, last.Sequence)
	if err != nil {
		return nil, false, err
	}
	if !trusted {
		if len(msgs) == 0 || msgs[0].Sequence != sp.Seq || !isEvent(msgs[0], snap) {
			return nil, false, nil
		}
		msgs = msgs[1:]
	}
	recs, err := s.decodeAll(id, subj, msgs)
	if err != nil {
		return nil, false, err
	}
	// The events after the snapshot continue its version to the last one.
	if len(recs) == 0 || recs[0].Version != sp.Version+1 || recs[len(recs)-1].Version != lastVersion {
		return nil, false, nil
	}
	return recs, true, nil
}

// isEvent reports whether m is the event a snapshot was taken at.
func isEvent(m *jetstream.RawStreamMsg, snap domain.Snapshot) bool {
	return m.Header.Get(jetstream.MsgIDHeader) == snap.EventID &&
		m.Header.Get(HeaderAggregateVersion) == strconv.FormatUint(snap.Position.Version, 10)
}

// fetch returns the events of subj with sequences from from to to.
func (s *Store) fetch(ctx context.Context, id domain.StreamID, subj string, from, to uint64) ([]domain.Record, error) {
	msgs, err := s.fetchRaw(ctx, id, subj, from, to)
	if err != nil {
		return nil, err
	}
	return s.decodeAll(id, subj, msgs)
}

func (s *Store) decodeAll(id domain.StreamID, subj string, msgs []*jetstream.RawStreamMsg) ([]domain.Record, error) {
	recs := make([]domain.Record, 0, len(msgs))
	for _, m := range msgs {
		rec, err := RawEvent{Subject: subj, Seq: m.Sequence, Header: m.Header, Data: m.Data, Keys: s.keys}.Decode()
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", id, err)
		}
		recs = append(recs, rec)
	}
	return recs, nil
}

// fetchRaw returns the messages of subj with sequences from from to to: in
// batches where the server can (JetStream's batched direct get), else one
// get-next-by-subject each; each request bounded by OpTimeout.
func (s *Store) fetchRaw(ctx context.Context, id domain.StreamID, subj string, from, to uint64) ([]*jetstream.RawStreamMsg, error) {
	var out []*jetstream.RawStreamMsg
	for from <= to {
		batch, err := s.fetchSome(ctx, subj, from, to)
		if err != nil {
			return nil, unavailable(fmt.Errorf("load %s from %d: %w", id, from, err))
		}
		if len(batch) == 0 {
			return out, nil
		}
		for _, m := range batch {
			if m.Sequence > to {
				return out, nil
			}
			out = append(out, m)
		}
		from = batch[len(batch)-1].Sequence + 1
	}
	return out, nil
}

// fetchSome returns the next messages of subj from the sequence from on
// (none past the stream's end), in one request.
func (s *Store) fetchSome(ctx context.Context, subj string, from, to uint64) ([]*jetstream.RawStreamMsg, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.OpTimeout)
	defer cancel()
	batch, err := s.lasts.after(ctx, subj, from, to)
	if !errors.Is(err, errNoMultiGet) {
		return batch, err
	}
	m, err := s.stream.GetMsg(ctx, from, jetstream.WithGetMsgSubject(subj))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return []*jetstream.RawStreamMsg{m}, nil
}

// keepSnapshot keeps the state of a, at pos (the event eventID), in memory
// (unless the memory was cleared since generation gen), and in the bucket
// when SnapshotEvery events have passed since the one there (at version
// persisted). A snapshot that cannot be kept is no error: the log has it all.
func (s *Store) keepSnapshot(ctx context.Context, gen uint64, id domain.StreamID, subj string, a domain.Snapshotter, pos domain.Position, eventID string, persisted uint64) {
	state, err := a.MarshalSnapshot()
	if err != nil {
		s.log.Warn("snapshot not kept", "subject", subj, "err", err)
		return
	}
	snap := domain.Snapshot{Kind: a.SnapshotKind(), Subject: a.SnapshotSubject(), State: state, Position: pos, EventID: eventID}
	b := s.snapKV.Load()
	if b != nil && pos.Version >= persisted+uint64(s.cfg.SnapshotEvery) {
		if err := s.writeSnapshot(ctx, b, id, snap); err != nil {
			s.log.Debug("snapshot not written", "subject", subj, "err", err)
		} else {
			persisted = pos.Version
		}
	}
	s.snaps.putAt(gen, subj, snap, persisted)
}

// sealedSnapshot is a snapshot as the bucket holds it. State is sealed
// (nonce, then ciphertext) with the data key of Subject, if any, bound by
// its associated data to the stream, the kind and the position.
type sealedSnapshot struct {
	Kind    string `json:"kind"`
	Subject string `json:"subject,omitempty"`
	Seq     uint64 `json:"seq"`
	Version uint64 `json:"version"`
	EventID string `json:"event_id"`
	State   []byte `json:"state"`
}

// snapshotKey is the bucket's key of the snapshot of stream id.
func snapshotKey(id domain.StreamID) string { return id.Type + "." + id.ID }

func (e sealedSnapshot) associatedData(key string) []byte {
	return fmt.Appendf(nil, "inkwell snapshot\x00%s\x00%s\x00%s\x00%d\x00%d\x00%s", key, e.Kind, e.Subject, e.Seq, e.Version, e.EventID)
}

// writeSnapshot seals snap and puts it in bucket b. A snapshot with a
// subject is written only where the store has data keys to seal it with.
func (s *Store) writeSnapshot(ctx context.Context, b *Bucket, id domain.StreamID, snap domain.Snapshot) error {
	key := snapshotKey(id)
	e := sealedSnapshot{Kind: snap.Kind, Subject: snap.Subject, Seq: snap.Position.Seq, Version: snap.Position.Version, EventID: snap.EventID, State: snap.State}
	if snap.Subject != "" {
		if s.keys == nil {
			return ErrNoDataKeys
		}
		aead, err := s.keys.Sealer(ctx, snap.Subject)
		if err != nil {
			return err
		}
		nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(snap.State)+aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return err
		}
		e.State = aead.Seal(nonce, nonce, snap.State, e.associatedData(key))
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	_, err = b.kv.Put(ctx, key, body)
	return err
}

// readSnapshot returns the snapshot of stream id of the given kind from the
// bucket, opened, if there is one that opens.
func (s *Store) readSnapshot(ctx context.Context, id domain.StreamID, subj, kind string) (domain.Snapshot, bool) {
	b := s.snapKV.Load()
	if b == nil {
		return domain.Snapshot{}, false
	}
	key := snapshotKey(id)
	body, _, found, err := b.Get(ctx, key)
	if err != nil || !found {
		if err != nil {
			s.log.Debug("snapshot not read", "subject", subj, "err", err)
		}
		return domain.Snapshot{}, false
	}
	var e sealedSnapshot
	if err := json.Unmarshal(body, &e); err != nil || e.Kind != kind {
		return domain.Snapshot{}, false
	}
	state := e.State
	if e.Subject != "" {
		if s.keys == nil {
			return domain.Snapshot{}, false
		}
		aead, err := s.keys.Opener(ctx, e.Subject)
		if err != nil || len(e.State) < aead.NonceSize() {
			return domain.Snapshot{}, false // an erased subject's among others
		}
		n := aead.NonceSize()
		if state, err = aead.Open(nil, e.State[:n], e.State[n:], e.associatedData(key)); err != nil {
			return domain.Snapshot{}, false
		}
	}
	return domain.Snapshot{Kind: e.Kind, Subject: e.Subject, State: state,
		Position: domain.Position{Seq: e.Seq, Version: e.Version}, EventID: e.EventID}, true
}

// snapshotCache keeps the latest snapshot of recently loaded streams, at most
// max bytes of them, least recently used first out.
type snapshotCache struct {
	mu    sync.Mutex
	gen   uint64 // counts the clears
	max   int64
	size  int64
	ll    *list.List
	items map[string]*list.Element
}

type snapshotEntry struct {
	subject   string
	snap      domain.Snapshot
	persisted uint64 // version of the snapshot in the bucket
}

func (e *snapshotEntry) size() int64 {
	return int64(len(e.snap.State)+len(e.snap.Kind)+len(e.snap.Subject)+len(e.snap.EventID)+2*len(e.subject)) + 160
}

func newSnapshotCache(max int64) *snapshotCache {
	return &snapshotCache{max: max, ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the snapshot of subject of the given kind, and the version of
// the one in the bucket.
func (c *snapshotCache) get(subject, kind string) (domain.Snapshot, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[subject]
	if !ok {
		return domain.Snapshot{}, 0, false
	}
	e := el.Value.(*snapshotEntry)
	if e.snap.Kind != kind {
		return domain.Snapshot{}, 0, false
	}
	c.ll.MoveToFront(el)
	return e.snap, e.persisted, true
}

// putAt keeps snap unless the cache was cleared since generation gen (what
// it was made of may be older than the clear) or it holds a later one.
func (c *snapshotCache) putAt(gen uint64, subject string, snap domain.Snapshot, persisted uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	e := &snapshotEntry{subject: subject, snap: snap, persisted: persisted}
	if e.size() > c.max {
		return
	}
	if el, ok := c.items[subject]; ok {
		old := el.Value.(*snapshotEntry)
		if old.snap.Position.Seq > snap.Position.Seq && old.snap.Kind == snap.Kind {
			return
		}
		c.size -= old.size()
		c.ll.Remove(el)
	}
	c.items[subject] = c.ll.PushFront(e)
	c.size += e.size()
	for c.size > c.max {
		back := c.ll.Back()
		old := back.Value.(*snapshotEntry)
		c.ll.Remove(back)
		delete(c.items, old.subject)
		c.size -= old.size()
	}
}

// has reports whether the cache holds a snapshot of subject of the kind.
func (c *snapshotCache) has(subject, kind string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[subject]
	return ok && el.Value.(*snapshotEntry).snap.Kind == kind
}

func (c *snapshotCache) drop(subject string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[subject]; ok {
		c.size -= el.Value.(*snapshotEntry).size()
		c.ll.Remove(el)
		delete(c.items, subject)
	}
}

func (c *snapshotCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// clear forgets every snapshot.
func (c *snapshotCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.size = 0
	c.ll.Init()
	clear(c.items)
}
