package reactors

import (
	"context"

	"inkwell/commands"
	"inkwell/domain"
)

// DataKeyShredder destroys the data key of every erased user. The erasure
// command destroys it itself; this reactor makes sure of it when that
// failed (NATS went away between the event and the key), retrying until it
// is done. Destroying a destroyed key changes nothing.
type DataKeyShredder struct {
	Keys commands.DataKeys
}

// Name implements Reactor.
func (*DataKeyShredder) Name() string { return "data-key-shredder" }

// AggregateTypes implements Reactor.
func (*DataKeyShredder) AggregateTypes() []string { return []string{domain.AggregateUser} }

// Handle implements Reactor.
func (d *DataKeyShredder) Handle(ctx context.Context, rec domain.Record) error {
	if _, ok := rec.Event.(*domain.UserErased); !ok {
		return nil
	}
	return d.Keys.Destroy(ctx, rec.Stream.ID)
}
