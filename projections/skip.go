package projections

import (
	"context"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
)

// LoadSkips returns the log sequences of the events p skips at its current
// version, as recorded in the log (see domain.EventSkipped).
func LoadSkips(ctx context.Context, store *eventstore.Store, p Projection) (map[uint64]bool, error) {
	skips, _, err := loadSkips(ctx, store, p.Name())
	if err != nil {
		return nil, err
	}
	return skips.Seqs(p.Version()), nil
}

// Skips returns every skip recorded for the projection named name, oldest
// first, whatever its version.
func Skips(ctx context.Context, store *eventstore.Store, name string) ([]domain.EventSkipped, error) {
	skips, _, err := loadSkips(ctx, store, name)
	if err != nil {
		return nil, err
	}
	return skips.All(), nil
}

func loadSkips(ctx context.Context, store *eventstore.Store, name string) (*domain.ProjectionSkips, domain.Position, error) {
	var skips domain.ProjectionSkips
	recs, pos, err := store.Load(ctx, domain.ProjectionStream(name))
	if err != nil {
		return nil, pos, fmt.Errorf("skips of %s: %w", name, err)
	}
	for _, rec := range recs {
		skips.Apply(rec)
	}
	return &skips, pos, nil
}

// Skip records in the log that projection p, at its current version, skips
// the event at log sequence seq, for reason; applyErr says what applying it
// failed with. Every runner of p and every rebuild of it honour the skip
// from then on. It returns the decision as recorded.
func Skip(ctx context.Context, store *eventstore.Store, p Projection, seq uint64, reason, applyErr string, meta domain.Meta) (domain.EventSkipped, error) {
	rec, err := store.Get(ctx, seq)
	if err != nil {
		return domain.EventSkipped{}, fmt.Errorf("skip event %d: %w", seq, err)
	}
	for attempt := 0; ; attempt++ {
		skips, pos, err := loadSkips(ctx, store, p.Name())
		if err != nil {
			return domain.EventSkipped{}, err
		}
		ev, err := skips.Skip(domain.EventSkipped{
			Projection: p.Name(), Version: p.Version(), Seq: seq, EventID: rec.ID, Type: rec.Type,
			Stream: domain.StreamIDJSON{Type: rec.Stream.Type, ID: rec.Stream.ID},
			Error:  applyErr, Reason: reason, SkippedAt: time.Now(),
		})
		if err != nil {
			return domain.EventSkipped{}, err
		}
		_, err = store.Append(ctx, domain.ProjectionStream(p.Name()), pos, meta, ev)
		if err == nil || attempt >= 10 || !isConflict(err) {
			return *ev.(*domain.EventSkipped), err
		}
	}
}

func isConflict(err error) bool { return domain.ErrorCode(err) == domain.ECONFLICT }

// Status is a projection's row of projection_state, as an operator reads it.
type Status struct {
	Name       string     `db:"name"`
	Version    int        `db:"version"`
	Generation int        `db:"generation"`
	Checkpoint uint64     `db:"checkpoint"`
	Lag        uint64     `db:"lag"`
	LagAt      *time.Time `db:"lag_at"`
	// StuckSeq is the event the projection cannot apply (0: none), with
	// the failure and since when.
	StuckSeq   uint64     `db:"stuck_seq"`
	StuckError string     `db:"stuck_error"`
	StuckAt    *time.Time `db:"stuck_at"`
}

const selectStatus = "SELECT name, version, generation, checkpoint, lag, lag_at, stuck_seq, stuck_error, stuck_at FROM projection_state"

// Statuses returns the status of every projection the database holds, by
// name.
func (db *DB) Statuses(ctx context.Context) ([]Status, error) {
	var out []Status
	if err := db.SelectContext(ctx, &out, selectStatus+" ORDER BY name"); err != nil {
		return nil, fmt.Errorf("projection statuses: %w", err)
	}
	return out, nil
}

// status returns the status of the projection named name.
func (db *DB) status(ctx context.Context, name string) (Status, error) {
	var st Status
	if err := db.GetContext(ctx, &st, db.Rebind(selectStatus+" WHERE name = ?"), name); err != nil {
		return st, fmt.Errorf("status of %s: %w", name, err)
	}
	return st, nil
}

// Stuck returns the event the projection cannot apply, as the process
// applying it stored it, or nil.
func (st Status) Stuck() *StuckEvent {
	if st.StuckSeq <= st.Checkpoint {
		return nil
	}
	e := &StuckEvent{Seq: st.StuckSeq, Err: st.StuckError, desc: st.StuckError}
	if st.StuckAt != nil {
		e.Since = *st.StuckAt
	}
	return e
}
