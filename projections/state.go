// A projection's stored state (projection_state): reading it, creating it, and the version check.

package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
)

// projectionState is a row of projection_state or projection_rebuilds.
type projectionState struct {
	Name       string    `db:"name"`
	Version    int       `db:"version"`
	Generation int       `db:"generation"`
	Checkpoint uint64    `db:"checkpoint"`
	UpdatedAt  time.Time `db:"updated_at"`
}

// stateQueryer reads a row: a transaction or the database.
type stateQueryer interface {
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	Rebind(query string) string
}

// readState reads the projection_state row of projection name; lock is
// appended to the SELECT (DB.forUpdate's " FOR UPDATE" in a write
// transaction on PostgreSQL, or "").
func readState(ctx context.Context, q stateQueryer, name, lock string) (projectionState, error) {
	var st projectionState
	err := q.GetContext(ctx, &st, q.Rebind("SELECT name, version, generation, checkpoint, updated_at FROM projection_state WHERE name = ?"+lock), name)
	return st, err
}

// ErrNeedsRebuild is returned by Ensure when the projection's tables were
// built by another version of its code.
type ErrNeedsRebuild struct {
	Name             string
	Stored, Expected int
}

func (e *ErrNeedsRebuild) Error() string {
	return fmt.Sprintf("projection %s: tables are version %d, code is version %d: rebuild needed", e.Name, e.Stored, e.Expected)
}

// Ensure makes sure p has a current generation of tables. A projection seen
// for the first time gets generation 1, empty, at checkpoint 0. It returns
// *ErrNeedsRebuild when the stored version differs from p.Version().
func (db *DB) Ensure(ctx context.Context, p Projection, now time.Time) (projectionState, error) {
	tx, err := db.beginLocked(ctx)
	if err != nil {
		return projectionState{}, err
	}
	defer tx.Rollback()
	st, err := readState(ctx, tx, p.Name(), "")
	switch {
	case err == nil:
		if st.Version != p.Version() {
			return st, &ErrNeedsRebuild{Name: p.Name(), Stored: st.Version, Expected: p.Version()}
		}
		return st, nil
	case !isNoRows(err):
		return st, fmt.Errorf("ensure %s: %w", p.Name(), err)
	}
	if st, err = createLive(ctx, tx, db.Dialect, p, now); err != nil {
		return st, err
	}
	return st, tx.Commit()
}

// createLive gives a projection seen for the first time an empty generation
// 1 at checkpoint 0, with its views and its projection_state row.
func createLive(ctx context.Context, tx *sqlx.Tx, d Dialect, p Projection, now time.Time) (projectionState, error) {
	st := projectionState{Name: p.Name(), Version: p.Version(), Generation: 1, UpdatedAt: now.UTC()}
	if err := dropGeneration(ctx, tx, p, 1); err != nil {
		return st, err
	}
	if err := createGeneration(ctx, tx, d, p, 1); err != nil {
		return st, err
	}
	if err := pointViews(ctx, tx, p, 1); err != nil {
		return st, err
	}
	if _, err := tx.ExecContext(ctx, tx.Rebind("INSERT INTO projection_state (name, version, generation, checkpoint, updated_at) VALUES (?, ?, ?, 0, ?)"),
		st.Name, st.Version, st.Generation, st.UpdatedAt); err != nil {
		return st, fmt.Errorf("create %s: %w", p.Name(), err)
	}
	return st, nil
}

// State returns the stored state of a projection.
func (db *DB) State(ctx context.Context, name string) (projectionState, error) {
	st, err := readState(ctx, db, name, "")
	if err != nil {
		return st, fmt.Errorf("state of %s: %w", name, err)
	}
	return st, nil
}
