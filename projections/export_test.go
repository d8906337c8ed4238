package projections

import (
	"context"
	"log/slog"
	"time"
)

// StartAbandonedRebuild starts a rebuild of p and leaves it as a process
// killed mid-way would: its generation created and recorded in
// projection_rebuilds. It returns the generation.
func StartAbandonedRebuild(ctx context.Context, db *DB, p Projection) (int, error) {
	rb, err := startRebuild(ctx, db, p, time.Now().UTC().Truncate(time.Microsecond), slog.New(slog.DiscardHandler))
	if err != nil {
		return 0, err
	}
	return rb.gen, nil
}

// PhysicalTable returns the name of a logical table in a generation.
var PhysicalTable = physicalTable

// ListArticleQueries returns the statements (SQL and arguments) that
// ListArticles runs for f's page, one per branch.
func ListArticleQueries(db *DB, f ArticleFilter) ([]string, [][]any, error) {
	l, err := db.planArticleList(f)
	if err != nil {
		return nil, nil, err
	}
	var qs []string
	var args [][]any
	for _, st := range l.stmts {
		qs, args = append(qs, st.sql), append(args, st.args)
	}
	return qs, args, nil
}

// ListUserQueries returns the statement (SQL and arguments) that ListUsers
// runs for f's page.
func ListUserQueries(db *DB, f UserFilter) (string, []any, error) {
	l, err := db.planUserList(f)
	if err != nil {
		return "", nil, err
	}
	return l.stmts[0].sql, l.stmts[0].args, nil
}
