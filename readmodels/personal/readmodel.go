// Package personal is the personal-data read model: each user's sessions
// and the log sequences of the events they caused, for the export of their
// data (see Store.SessionsOf, Store.EventSeqsOf). A deleted or erased
// account's rows go with it.
package personal

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// ReadModel is the personal-data read model, a projections.Projection.
type ReadModel struct {
	readmodels.Described[ReadModel]
}

// Describe implements readmodels.Describer. The read model follows every
// event, for its actor. Version 2 stores user_events WITHOUT ROWID on
// SQLite.
func (ReadModel) Describe() readmodels.Description {
	return readmodels.Description{Name: "personal", Version: 2, Schema: schema,
		Tables: []string{"user_sessions", "user_events"}, AggregateTypes: domain.AggregateTypes()}
}

//go:embed schema.sql
var schema string

// Store answers the queries of the personal-data read model in a database.
type Store struct{ *projections.DB }

// NewStore returns the queries of the personal-data read model in db.
func NewStore(db *projections.DB) *Store { return &Store{DB: db} }

// Eventual implements projections.Eventual: writes do not wait for it (the
// export does).
func (ReadModel) Eventual() bool { return true }

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
func (ReadModel) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	var caused [][]any
	exec := func(q string, args ...any) error {
		_, err := tx.ExecContext(ctx, tx.Rebind(q), args...)
		return err
	}
	// flush writes the events' actors gathered so far.
	flush := func() error {
		cols := []string{"user_id", "seq"}
		err := tx.PutPerEvent(ctx, tx.T("user_events"), cols, cols, caused)
		caused = nil
		return err
	}
	sessions := tx.T("user_sessions")
	endOpen := "UPDATE " + sessions + " SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL AND "
	for _, r := range recs {
		if domain.ValidID(r.ActorID) {
			caused = append(caused, []any{r.ActorID, r.Seq})
		}
		at := readmodels.DBTime(r.OccurredAt)
		var err error
		switch e := r.Event.(type) {
		case *domain.SessionStarted:
			err = exec("INSERT INTO "+sessions+" (id, user_id, client, started_at, last_used_at, end_reason) VALUES (?, ?, ?, ?, ?, '')",
				r.Stream.ID, e.UserID, e.Client, readmodels.DBTime(e.StartedAt), readmodels.DBTime(e.StartedAt))
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

// SessionsOf returns a page of a user's sessions, oldest first (the id
// breaking ties): up to limit of those after the session after (nil: from
// the first). Each page starts with a range in the index on (user_id,
// started_at), so that paging through any number of sessions reads each
// once, in bounded memory.
func (db *Store) SessionsOf(ctx context.Context, userID string, after *Session, limit int) ([]Session, error) {
	q, args := sessionsPage(userID, after, limit)
	out := []Session{}
	if err := db.SelectContext(ctx, &out, db.Rebind(q), args...); err != nil {
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

// sessionsPage is the statement of a page of SessionsOf. The range on
// started_at alone is what the planners take into the index; the rest
// only settles ties, which the index keeps together.
func sessionsPage(userID string, after *Session, limit int) (string, []any) {
	q := "SELECT id, user_id, client, started_at, last_used_at, ended_at, end_reason FROM user_sessions WHERE user_id = ?"
	args := []any{userID}
	if after != nil {
		at := readmodels.DBTime(after.StartedAt)
		q += " AND started_at >= ? AND (started_at > ? OR id > ?)"
		args = append(args, at, at, after.ID)
	}
	return q + " ORDER BY started_at, id LIMIT ?", append(args, limit)
}

// EventSeqsOf returns a page of the log sequences of the events a user
// caused, in order: up to limit of those after the sequence after (0: from
// the first), read in the order of the table's primary key.
func (db *Store) EventSeqsOf(ctx context.Context, userID string, after uint64, limit int) ([]uint64, error) {
	q, args := eventSeqsPage(userID, after, limit)
	var out []uint64
	if err := db.SelectContext(ctx, &out, db.Rebind(q), args...); err != nil {
		return nil, fmt.Errorf("events of a user: %w", err)
	}
	return out, nil
}

func eventSeqsPage(userID string, after uint64, limit int) (string, []any) {
	return "SELECT seq FROM user_events WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT ?", []any{userID, int64(after), limit}
}

// ExportQueries returns the statements (SQL and arguments) that the pages of
// one user's export run of this read model (SessionsOf, EventSeqsOf), each
// as a first page and as a page after a row (the arguments' row; any row of
// the user's does): what the planner tests give to EXPLAIN.
func ExportQueries(db *Store, userID string, session Session, seq uint64) ([]string, [][]any) {
	var qs []string
	var args [][]any
	add := func(q string, a []any) { qs, args = append(qs, db.Rebind(q)), append(args, a) }
	for _, after := range []*Session{nil, &session} {
		add(sessionsPage(userID, after, 500))
	}
	for _, after := range []uint64{0, seq} {
		add(eventSeqsPage(userID, after, 500))
	}
	return qs, args
}
