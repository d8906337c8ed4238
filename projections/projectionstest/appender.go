// Appender: a workload's records appended to an event log as the commands append them.

package projectionstest

import (
	"context"
	"sync"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/projections"
)

// Appender appends a workload's records with store.Append, one event at a
// time as the commands do, and remembers the last sequence per aggregate type.
type Appender struct {
	store *eventstore.Store
	mu    sync.Mutex // guards what follows: a test reads it while a writer appends
	pos   map[domain.StreamID]domain.Position
	last  map[string]uint64
	count int
}

func NewAppender(store *eventstore.Store) *Appender {
	return &Appender{store: store, pos: map[domain.StreamID]domain.Position{}, last: map[string]uint64{}}
}

func (a *Appender) Append(ctx context.Context, recs []domain.Record) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range recs {
		out, err := a.store.Append(ctx, r.Stream, a.pos[r.Stream], domain.Meta{OccurredAt: r.OccurredAt, ActorID: r.ActorID}, r.Event)
		if err != nil {
			return err
		}
		a.pos[r.Stream] = domain.Position{Seq: out[0].Seq, Version: out[0].Version}
		if _, ok := r.Event.(*domain.UserErased); ok {
			// What the erasure command does after its event.
			if err := a.store.DataKeys().(interface {
				Destroy(context.Context, string) error
			}).Destroy(ctx, r.Stream.ID); err != nil {
				return err
			}
		}
		a.last[r.Stream.Type] = out[0].Seq
		a.count++
	}
	return nil
}

// LastFor returns the last sequence appended of p's aggregate types.
func (a *Appender) LastFor(p projections.Projection) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var seq uint64
	for _, t := range p.AggregateTypes() {
		seq = max(seq, a.last[t])
	}
	return seq
}

// Appended returns how many events have been appended.
func (a *Appender) Appended() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.count
}
