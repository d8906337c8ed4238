package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"inkwell/domain"
)

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// maxParams bounds the bind parameters of one statement (SQLite allows
// 32,766 and PostgreSQL 65,535).
const maxParams = 30000

// Upsert writes rows (each a slice of values in cols order) into table with
// multi-row INSERT ... ON CONFLICT (key) DO UPDATE statements. Every key must
// appear at most once in rows.
func (tx *Tx) Upsert(ctx context.Context, table string, cols []string, key []string, rows [][]any) error {
	return writeRows(ctx, tx, table, cols, key, rows, false)
}

// Put is Upsert for rows that belong to an aggregate (stream says which):
// the rows of aggregates this generation has no rows of yet (see
// Tx.MayHave) cannot conflict, and go in with plain INSERTs (or, in a
// rebuild on PostgreSQL, COPY), which cost the database less than upserts.
func (tx *Tx) Put(ctx context.Context, table string, cols []string, key []string, rows [][]any, stream func(row []any) domain.StreamID) error {
	var fresh, others [][]any
	for _, r := range rows {
		if tx.MayHave(stream(r)) {
			others = append(others, r)
		} else {
			fresh = append(fresh, r)
		}
	}
	if err := writeRows(ctx, tx, table, cols, key, others, false); err != nil {
		return err
	}
	return writeRows(ctx, tx, table, cols, key, fresh, true)
}

// PutPerEvent is Upsert for rows that one event writes once, keyed by its
// log sequence (such as a row per event): a rebuild's new generation
// applies each event of the log once, so there they cannot conflict, and go
// in as Put's rows of a new aggregate do (plain INSERTs, or COPY on
// PostgreSQL); elsewhere, where an event may come again, they are upserted.
func (tx *Tx) PutPerEvent(ctx context.Context, table string, cols []string, key []string, rows [][]any) error {
	return writeRows(ctx, tx, table, cols, key, rows, tx.applied != nil)
}

// writeRows writes rows with multi-row INSERTs, upserting on key unless plain.
func writeRows(ctx context.Context, tx *Tx, table string, cols []string, key []string, rows [][]any, plain bool) error {
	if len(rows) == 0 {
		return nil
	}
	if plain && tx.copyRows != nil {
		return tx.copyRows(ctx, table, cols, rows)
	}
	isKey := map[string]bool{}
	for _, k := range key {
		isKey[k] = true
	}
	var set []string
	for _, c := range cols {
		if !isKey[c] {
			set = append(set, c+" = excluded."+c)
		}
	}
	conflict := " ON CONFLICT (" + strings.Join(key, ", ") + ") DO NOTHING"
	if plain {
		conflict = ""
	} else if len(set) > 0 {
		conflict = " ON CONFLICT (" + strings.Join(key, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
	}
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	per := maxParams / len(cols)
	for start := 0; start < len(rows); start += per {
		end := min(start+per, len(rows))
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, (end-start)*len(cols))
		for i, r := range rows[start:end] {
			if len(r) != len(cols) {
				return fmt.Errorf("upsert %s: row has %d values for %d columns", table, len(r), len(cols))
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(tuple)
			args = append(args, r...)
		}
		b.WriteString(conflict)
		if _, err := tx.ExecContext(ctx, tx.Rebind(b.String()), args...); err != nil {
			return fmt.Errorf("upsert %s: %w", table, err)
		}
	}
	return nil
}

// AddCounts adds delta (count by scope) to a counts table, starting from 0
// for scopes it has no row of yet, and deletes the rows it brings to 0 (a
// scope with nothing in it has no row, however the log was batched).
func (tx *Tx) AddCounts(ctx context.Context, table string, delta map[string]int64) error {
	var changed []string
	for s, n := range delta {
		if n != 0 {
			changed = append(changed, s)
		}
	}
	slices.Sort(changed) // rows locked in one order by every writer
	per := maxParams / 2
	for start := 0; start < len(changed); start += per {
		end := min(start+per, len(changed))
		var b strings.Builder
		b.WriteString("INSERT INTO " + table + " (scope, n) VALUES ")
		args := make([]any, 0, 2*(end-start))
		for i, s := range changed[start:end] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?, ?)")
			args = append(args, s, delta[s])
		}
		b.WriteString(" ON CONFLICT (scope) DO UPDATE SET n = " + table + ".n + excluded.n")
		if _, err := tx.ExecContext(ctx, tx.Rebind(b.String()), args...); err != nil {
			return fmt.Errorf("add to %s: %w", table, err)
		}
	}
	return deleteZeroCounts(ctx, tx, table, changed)
}

// deleteZeroCounts deletes the rows of those scopes whose count is 0.
func deleteZeroCounts(ctx context.Context, tx *Tx, table string, scopes []string) error {
	if err := ExecWhereIn(ctx, tx, "DELETE FROM "+table+" WHERE n = 0 AND scope IN (?)", scopes); err != nil {
		return fmt.Errorf("delete from %s: %w", table, err)
	}
	return nil
}

// DeleteWhereIn deletes the rows of table whose col is one of keys.
func (tx *Tx) DeleteWhereIn(ctx context.Context, table, col string, keys []string) error {
	if err := ExecWhereIn(ctx, tx, "DELETE FROM "+table+" WHERE "+col+" IN (?)", keys); err != nil {
		return fmt.Errorf("delete from %s: %w", table, err)
	}
	return nil
}

// ExecWhereIn runs statement (which holds one "IN (?)") for keys, in
// chunks.
func ExecWhereIn(ctx context.Context, tx *Tx, statement string, keys []string) error {
	for start := 0; start < len(keys); start += maxParams {
		end := min(start+maxParams, len(keys))
		q, args, err := sqlx.In(statement, keys[start:end])
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, tx.Rebind(q), args...); err != nil {
			return err
		}
	}
	return nil
}

// SelectWhereIn runs query (which must end in "IN (?)") for keys, in chunks,
// appending the scanned rows to dest.
func SelectWhereIn[T any](ctx context.Context, tx *Tx, dest *[]T, query string, keys []string) error {
	for start := 0; start < len(keys); start += maxParams {
		end := min(start+maxParams, len(keys))
		q, args, err := sqlx.In(query, keys[start:end])
		if err != nil {
			return err
		}
		var chunk []T
		if err := tx.SelectContext(ctx, &chunk, tx.Rebind(q), args...); err != nil {
			return err
		}
		*dest = append(*dest, chunk...)
	}
	return nil
}

// InQuery expands the "IN (?)" of query for keys.
func InQuery(query string, keys []string) (string, []any, error) {
	return sqlx.In(query, keys)
}
