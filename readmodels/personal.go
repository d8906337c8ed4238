package readmodels

import (
	"context"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/projections"
)

// Personal is the personal-data read model: each user's sessions and the
// log sequences of the events they caused, for the export of their data
// (see Store.SessionsOf, Store.EventSeqsOf). A deleted or erased account's
// rows go with it.
type Personal struct{}

// Name implements Projection.
func (Personal) Name() string { return "personal" }

// Version implements Projection.
func (Personal) Version() int { return 1 }

// Tables implements Projection.
func (Personal) Tables() []string { return []string{"user_sessions", "user_events"} }

// Eventual implements projections.Eventual: writes do not wait for it (the
// export does).
func (Personal) Eventual() bool { return true }

// AggregateTypes implements Projection: every event, for its actor.
func (Personal) AggregateTypes() []string { return domain.AggregateTypes() }

// Session is a row of user_sessions.
type Session struct {
	ID         string     `db:"id" json:"id"`
	UserID     string     `db:"user_id" json:"-"`
	Client     string     `db:"client" json:"client"`
	StartedAt  time.Time  `db:"started_at" json:"started_at"`
	LastUsedAt time.Time  `db:"last_used_at" json:"last_used_at"`
	EndedAt    *time.Time `db:"ended_at" json:"ended_at"`
	EndReason  string     `db:"end_reason" json:"end_reason"`
}

// Apply implements Projection. Session events are rare beside the others:
// each is one statement; the events' actors go in with one insert per
// batch.
func (Personal) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	var caused [][]any
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
		return err
	}
	// flush writes the events' actors gathered so far.
	flush := func() error {
		cols := []string{"user_id", "seq"}
		err := tx.Upsert(ctx, tx.T("user_events"), cols, cols, caused)
		caused = nil
		return err
	}
	sessions := tx.T("user_sessions")
	endOpen := "UPDATE " + sessions + " SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL AND "
	for _, r := range recs {
		if domain.ValidID(r.ActorID) {
			caused = append(caused, []any{r.ActorID, r.Seq})
		}
		at := dbTime(r.OccurredAt)
		var err error
		switch e := r.Event.(type) {
		case *domain.SessionStarted:
			err = exec("INSERT INTO "+sessions+" (id, user_id, client, started_at, last_used_at, end_reason) VALUES (?, ?, ?, ?, ?, '')",
				r.Stream.ID, e.UserID, e.Client, dbTime(e.StartedAt), dbTime(e.StartedAt))
		case *domain.SessionRefreshed:
			err = exec("UPDATE "+sessions+" SET last_used_at = ? WHERE id = ?", at, r.Stream.ID)
		case *domain.SessionEnded:
			err = exec(endOpen+"id = ?", at, e.Reason, r.Stream.ID)
		case *domain.SessionRevoked:
			err = exec(endOpen+"id = ?", at, e.Reason, r.Stream.ID)
		case *domain.UserSessionsRevoked:
			err = exec(endOpen+"user_id = ?", at, e.Reason, r.Stream.ID)
		case *domain.UserPasswordChanged:
			err = exec(endOpen+"user_id = ? AND id <> ?", at, "password_changed", r.Stream.ID, e.KeepSession)
		case *domain.UserDisabled:
			err = exec(endOpen+"user_id = ?", at, "account_disabled", r.Stream.ID)
		case *domain.UserDeleted, *domain.UserErased:
			// What the batch has of the user goes first, then the rows.
			if err = flush(); err == nil {
				if err = exec("DELETE FROM "+sessions+" WHERE user_id = ?", r.Stream.ID); err == nil {
					err = exec("DELETE FROM "+tx.T("user_events")+" WHERE user_id = ?", r.Stream.ID)
				}
			}
			if _, erased := r.Event.(*domain.UserErased); erased {
				tx.ScrubAfterCommit()
			}
		}
		if err != nil {
			return fmt.Errorf("personal data at %d: %w", r.Seq, err)
		}
	}
	return flush()
}

// SessionsOf returns the sessions of a user, oldest first.
func (db *Store) SessionsOf(ctx context.Context, userID string) ([]Session, error) {
	out := []Session{}
	if err := db.SelectContext(ctx, &out, db.Rebind("SELECT id, user_id, client, started_at, last_used_at, ended_at, end_reason FROM user_sessions WHERE user_id = ? ORDER BY started_at, id"), userID); err != nil {
		return nil, fmt.Errorf("sessions of a user: %w", err)
	}
	for i := range out {
		out[i].StartedAt, out[i].LastUsedAt = out[i].StartedAt.UTC(), out[i].LastUsedAt.UTC()
		if out[i].EndedAt != nil {
			t := out[i].EndedAt.UTC()
			out[i].EndedAt = &t
		}
	}
	return out, nil
}

// EventSeqsOf returns the log sequences of the events a user caused, in
// order.
func (db *Store) EventSeqsOf(ctx context.Context, userID string) ([]uint64, error) {
	var out []uint64
	if err := db.SelectContext(ctx, &out, db.Rebind("SELECT seq FROM user_events WHERE user_id = ? ORDER BY seq"), userID); err != nil {
		return nil, fmt.Errorf("events of a user: %w", err)
	}
	return out, nil
}
