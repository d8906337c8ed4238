package projections

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"inkwell/domain"
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
	// generation before (and maybe a few others): a rebuild's new
	// generation has rows of no other.
	applied *seenFilter
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

// Counter is a projection that keeps counts of its rows (or other rows that
// follow from its rows, such as the feeds of the follows): a rebuild calls
// CountAll once the bulk of the rows are in (and counts were left alone,
// see Tx.CountsLater), before their secondary indexes, to derive them from
// the rows in a few statements.
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
	return t.applied == nil || t.applied.mayHave(s)
}

func physicalTable(logical string, generation int) string {
	return fmt.Sprintf("%s_g%d", logical, generation)
}
