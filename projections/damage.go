package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"inkwell/eventstore"
)

// LogDamageError is returned by a rebuild that the log's damage stops: a
// rebuild from a log that lost events would build read models without them,
// in silence, so it waits for an operator's decision (a restore, or the
// acceptance of the loss).
type LogDamageError struct {
	Check *eventstore.LogCheck
}

func (e *LogDamageError) Error() string {
	return strings.Join(e.Check.Problems(), "; ") + ". What to do: " + e.Check.Advice()
}

// checkLog refuses to rebuild ps from a log whose state shows a loss not
// accepted, or that ends before a checkpoint of theirs (unless the loss of
// what it lacks was accepted: the rebuild is then the way out). What the
// state does not show, the rebuild's read of the log finds (a
// *eventstore.GapError).
func checkLog(ctx context.Context, db *DB, store *eventstore.Store, ps []Projection) error {
	// The checkpoints first: a read model never applies an event the log
	// does not hold yet, so one read after them is never behind them
	// unless it lost events.
	cps := map[string]uint64{}
	for _, p := range ps {
		st, err := db.State(ctx, p.Name())
		if err != nil && !isNoRows(err) {
			return fmt.Errorf("rebuild: %w", err)
		}
		cps[p.Name()] = st.Checkpoint
	}
	check, err := store.CheckState(ctx)
	if err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	for _, p := range ps {
		check.AddCheckpoint(p.Name(), cps[p.Name()])
	}
	damaged := len(check.Unaccepted()) > 0
	for _, b := range check.Behind {
		damaged = damaged || b.Accepted == nil
	}
	if damaged {
		// Only what stops the rebuild: a read model past the log whose
		// loss was accepted is what the rebuild repairs.
		only := *check
		only.Behind = nil
		for _, b := range check.Behind {
			if b.Accepted == nil {
				only.Behind = append(only.Behind, b)
			}
		}
		only.Undecodable, only.VersionGaps, only.StateProblem = nil, nil, ""
		return fmt.Errorf("rebuild: %w", &LogDamageError{Check: &only})
	}
	return nil
}

// SQLiteFile returns the path of the SQLite file a database URL names (as
// Open reads it), and false for a PostgreSQL URL.
func SQLiteFile(dbURL string) (string, bool) {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		return "", false
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dbURL, "sqlite:"), "file:")
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	return path, path != ""
}

// DatabaseDamaged reports whether err says the read-model database's files
// are damaged (SQLite: "database disk image is malformed", "file is not a
// database"; PostgreSQL: data or index corrupted), as opposed to a database
// that is down, busy or full. A read model is derived data: a damaged one
// is rebuilt from the log.
func DatabaseDamaged(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return true
		}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "XX001" || pe.Code == "XX002" // data_corrupted, index_corrupted
	}
	return false
}
