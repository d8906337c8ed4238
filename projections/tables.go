// The tables of one generation: their DDL, creating and dropping them, the views.

package projections

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"inkwell/migrations"
)

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
