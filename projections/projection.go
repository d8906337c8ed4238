package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"inkwell/domain"
	"inkwell/migrations"
)

// Projection builds one read model from the log.
type Projection interface {
	// Name is stable: it keys the checkpoint.
	Name() string
	// Version changes whenever the schema or the meaning of Apply changes;
	// a new version is rebuilt from the log into a new generation of tables.
	Version() int
	// Schema is the template of the DDL of the projection's tables (see
	// migrations.RenderSchema), kept beside the projection.
	Schema() string
	// Tables lists the logical names of the projection's tables, in the
	// order they are created.
	Tables() []string
	// AggregateTypes lists the aggregates whose events the projection reads.
	AggregateTypes() []string
	// Apply applies a batch of events, in log order, inside tx. It must
	// give the same rows whether the events come one at a time or in one
	// batch, and it must write only through tx.T's tables.
	Apply(ctx context.Context, tx *Tx, recs []domain.Record) error
}

// Tx is a write transaction on one generation of a projection's tables.
type Tx struct {
	*sqlx.Tx
	Dialect    Dialect
	generation int
	// applied, when set, holds every aggregate with events applied to this
	// generation before: a rebuild's new generation has rows of no other.
	applied map[domain.StreamID]struct{}
	// copyRows, when set, loads rows that cannot conflict faster than a
	// multi-row INSERT (a rebuild's COPY on PostgreSQL).
	copyRows func(ctx context.Context, table string, cols []string, rows [][]any) error
	// countsLater is set while a rebuild fills a new generation before its
	// indexes: Apply may leave the counts it keeps alone, and CountAll
	// (see Counter) counts them once from the rows.
	countsLater bool
	// scrub is set by ScrubAfterCommit.
	scrub bool
}

// ScrubAfterCommit asks that once this transaction commits, the rows it
// deleted be made unrecoverable from the database's files (DB.Scrub): for
// the deletion of an erased person's data. A rebuild's transaction ignores
// it (its tables replace the old ones, dropped securely).
func (t *Tx) ScrubAfterCommit() { t.scrub = true }

// CountsLater reports whether Apply may leave its kept counts alone: a
// rebuild counts them from the rows once they are all in (Counter).
func (t *Tx) CountsLater() bool { return t.countsLater }

// Counter is a projection that keeps counts of its rows: a rebuild calls
// CountAll once the bulk of the rows are in (and counts were left alone,
// see Tx.CountsLater), to count them from the rows.
type Counter interface {
	CountAll(ctx context.Context, tx *Tx) error
}

// T returns the physical name of a logical table in this generation.
func (t *Tx) T(logical string) string { return physicalTable(logical, t.generation) }

// MayHave reports whether this generation may hold rows written for events
// of aggregate s (in this transaction's earlier statements or before). It is
// always true, except in a rebuild's new generation for an aggregate it has
// applied no event of yet: Apply may then skip looking for rows that cannot
// be there. It saves work; it must never change what Apply writes.
func (t *Tx) MayHave(s domain.StreamID) bool {
	if t.applied == nil {
		return true
	}
	_, ok := t.applied[s]
	return ok
}

func physicalTable(logical string, generation int) string {
	return fmt.Sprintf("%s_g%d", logical, generation)
}

// projectionState is a row of projection_state or projection_rebuilds.
type projectionState struct {
	Name       string    `db:"name"`
	Version    int       `db:"version"`
	Generation int       `db:"generation"`
	Checkpoint uint64    `db:"checkpoint"`
	UpdatedAt  time.Time `db:"updated_at"`
}

// The first keys of the two-key PostgreSQL advisory locks the engine takes
// ("inkw" and the next two numbers), the second key naming the schema (and
// the projection): changes to projection_state, a rebuild of a projection,
// and a projection's lease (the one applier) are apart from each other.
const (
	stateLockKey   = 1768844151
	rebuildLockKey = 1768844152
	leaseKey       = 1768844153
)

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

// createGeneration creates the tables of one generation of p, with their
// indexes.
func createGeneration(ctx context.Context, tx *sqlx.Tx, d Dialect, p Projection, gen int) error {
	tables, indexes, err := generationDDL(d, p, gen)
	if err != nil {
		return err
	}
	return execDDL(ctx, tx, p, gen, append(tables, indexes...))
}

// generationDDL returns the statements creating one generation of p: those
// creating its tables (with their primary keys), and those creating its
// secondary indexes, which a rebuild runs once the bulk of the rows is in.
func generationDDL(d Dialect, p Projection, gen int) (tables, indexes []string, err error) {
	ddl, err := migrations.RenderSchema(p.Name(), p.Schema(), migrations.SchemaParams{
		Dialect: string(d),
		Table:   func(logical string) string { return physicalTable(logical, gen) },
	})
	if err != nil {
		return nil, nil, err
	}
	for _, stmt := range splitStatements(ddl) {
		upper := strings.ToUpper(stmt)
		if strings.HasPrefix(upper, "CREATE INDEX") || strings.HasPrefix(upper, "CREATE UNIQUE INDEX") {
			indexes = append(indexes, stmt)
		} else {
			tables = append(tables, stmt)
		}
	}
	return tables, indexes, nil
}

func execDDL(ctx context.Context, tx *sqlx.Tx, p Projection, gen int, stmts []string) error {
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("create %s generation %d: %w", p.Name(), gen, err)
		}
	}
	return nil
}

// dropGeneration drops the tables of one generation of p, if they exist.
func dropGeneration(ctx context.Context, tx *sqlx.Tx, p Projection, gen int) error {
	tables := p.Tables()
	for i := len(tables) - 1; i >= 0; i-- {
		if _, err := tx.ExecContext(ctx, "DROP TABLE IF EXISTS "+physicalTable(tables[i], gen)); err != nil {
			return fmt.Errorf("drop %s generation %d: %w", p.Name(), gen, err)
		}
	}
	return nil
}

// pointViews makes the views readers query select from generation gen.
func pointViews(ctx context.Context, tx *sqlx.Tx, p Projection, gen int) error {
	for _, t := range p.Tables() {
		if _, err := tx.ExecContext(ctx, "DROP VIEW IF EXISTS "+t); err != nil {
			return fmt.Errorf("drop view %s: %w", t, err)
		}
		if _, err := tx.ExecContext(ctx, "CREATE VIEW "+t+" AS SELECT * FROM "+physicalTable(t, gen)); err != nil {
			return fmt.Errorf("create view %s: %w", t, err)
		}
	}
	return nil
}

// splitStatements splits a schema script on the semicolons that end lines,
// dropping comment-only lines. Schema files hold plain DDL only.
func splitStatements(script string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(script, "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// lockProjections serializes schema changes to projection tables across
// processes: on PostgreSQL with a transaction-scoped advisory lock; SQLite
// write transactions already hold the database's write lock.
//
// Advisory locks are database-wide, so every one Inkwell takes is keyed by
// the schema too: deployments (or tests) in other schemas of one database
// do not wait for each other.
func lockProjections(ctx context.Context, tx *sqlx.Tx, d Dialect) error {
	if d != Postgres {
		return nil
	}
	// It may wait for another process's schema change: no statement
	// timeout for the rest of the transaction.
	if err := liftStatementTimeout(ctx, tx, d, "0"); err != nil {
		return err
	}
	// 0x696e6b77 is "inkw".
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))", stateLockKey)
	return err
}

// beginLocked begins a transaction that holds the projections' schema lock
// (lockProjections), with no statement timeout on PostgreSQL: its work may
// wait for another process's schema change and run DDL, which is not a
// query of the API.
//
// Such a transaction (a rebuild's swap, which reads the log's last events
// while it holds the live checkpoint) may wait for the log, but a process
// paused or cut off while it holds one must not stall every instance's
// read models: PostgreSQL ends it once idle for lockedIdleBound.
func (db *DB) beginLocked(ctx context.Context) (*sqlx.Tx, error) {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := boundIdleTransaction(ctx, tx, db.Dialect, lockedIdleBound); err != nil {
		tx.Rollback()
		return nil, err
	}
	if err := lockProjections(ctx, tx, db.Dialect); err != nil {
		tx.Rollback()
		return nil, err
	}
	return tx, nil
}

// lockedIdleBound is how long a transaction holding the projections' lock
// may stay idle before PostgreSQL ends it (see beginLocked): long enough for
// a slow read of the log, short enough that a paused rebuild holds the read
// models up for at most that long.
const lockedIdleBound = 30 * time.Second

// liftStatementTimeout sets PostgreSQL's statement timeout for the rest of
// transaction tx ("0": none), for work that may take longer than a query
// of the API (see postgresURL). SQLite has none.
func liftStatementTimeout(ctx context.Context, tx *sqlx.Tx, d Dialect, timeout string) error {
	if d != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = '"+timeout+"'")
	return err
}

// boundIdleTransaction makes PostgreSQL end tx's session if tx stays idle
// (its process sends nothing while it is open) for longer than d: a paused
// or partitioned process must not keep the rows tx locked. A server that
// does not know the setting leaves it unbounded.
func boundIdleTransaction(ctx context.Context, tx *sqlx.Tx, d Dialect, bound time.Duration) error {
	if d != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL idle_in_transaction_session_timeout = %d", bound.Milliseconds()))
	return err
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
