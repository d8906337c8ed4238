package projections

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
)

// The ledger of erasures (table erasure_ledger, migration 00004) lists
// every user whose erasure a log this database's read models were built
// from recorded. It lives beside the read models, in the database every
// instance shares, but in none of their generations: a rebuild, a swap or
// a new projection version never drops it, and every rebuild adds the
// erasures of the log it reads. So it outlives the log it came from: a
// restore of a backup taken before an erasure finds the erasure here and
// makes it again (see cmd/inkwell).

// Erasure is an entry of the ledger of erasures.
type Erasure struct {
	UserID string `db:"user_id"`
	// LogSeq is the sequence of the user.erased event in the log that
	// first recorded it here (a log restored from a backup taken before
	// may have it at another sequence, or not at all).
	LogSeq     uint64    `db:"log_seq"`
	ErasedAt   time.Time `db:"erased_at"`
	RecordedAt time.Time `db:"recorded_at"`
}

// RecordErasures adds erasures to the ledger of erasures, in the
// projection's transaction; an erasure the ledger holds already stays as
// it was. It is the one write of Apply outside the generation's tables:
// the ledger outlives every generation.
func (t *Tx) RecordErasures(ctx context.Context, es []Erasure, now time.Time) error {
	return recordErasures(ctx, t.Tx, es, now)
}

// RecordErasures adds erasures to the ledger, as Tx.RecordErasures does,
// outside a projection's transaction.
func (db *DB) RecordErasures(ctx context.Context, es []Erasure, now time.Time) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("ledger of erasures: %w", dbError(err))
	}
	defer tx.Rollback()
	if err := recordErasures(ctx, tx, es, now); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger of erasures: %w", dbError(err))
	}
	return nil
}

func recordErasures(ctx context.Context, tx *sqlx.Tx, es []Erasure, now time.Time) error {
	if len(es) == 0 {
		return nil
	}
	// In the order of their ids: two transactions adding the same users
	// (a rebuild's and the live runner's) wait for each other in one
	// order, never each for the other.
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b Erasure) int { return cmp.Compare(a.UserID, b.UserID) })
	es = slices.CompactFunc(es, func(a, b Erasure) bool { return a.UserID == b.UserID })
	const chunk = 200 // 4 values a row, well below either dialect's limit of parameters
	for len(es) > 0 {
		n := min(len(es), chunk)
		var q strings.Builder
		q.WriteString("INSERT INTO erasure_ledger (user_id, log_seq, erased_at, recorded_at) VALUES ")
		args := make([]any, 0, 4*n)
		for i, e := range es[:n] {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?)")
			args = append(args, e.UserID, e.LogSeq, e.ErasedAt.UTC().Truncate(time.Microsecond), now.UTC().Truncate(time.Microsecond))
		}
		q.WriteString(" ON CONFLICT (user_id) DO NOTHING")
		if _, err := tx.ExecContext(ctx, tx.Rebind(q.String()), args...); err != nil {
			return fmt.Errorf("ledger of erasures: %w", dbError(err))
		}
		es = es[n:]
	}
	return nil
}

// Erasures returns every entry of the ledger of erasures, by user id.
func (db *DB) Erasures(ctx context.Context) ([]Erasure, error) {
	var out []Erasure
	if err := db.DB.SelectContext(ctx, &out, "SELECT user_id, log_seq, erased_at, recorded_at FROM erasure_ledger ORDER BY user_id"); err != nil {
		return nil, fmt.Errorf("ledger of erasures: %w", dbError(err))
	}
	return out, nil
}
