// The read-model queries under the query timeout, and SQLite's prepared statements.

package projections

import (
	"context"
	"sync"

	"github.com/jmoiron/sqlx"
)

// GetContext runs a query expected to return one row (see sqlx), under the
// query timeout; a database that cannot serve gives an UnavailableError.
func (db *DB) GetContext(ctx context.Context, dest any, query string, args ...any) error {
	return db.run(ctx, query, dest, args, (*sqlx.Stmt).GetContext, db.DB.GetContext)
}

// SelectContext runs a query into a slice (see sqlx), under the query
// timeout; a database that cannot serve gives an UnavailableError.
func (db *DB) SelectContext(ctx context.Context, dest any, query string, args ...any) error {
	return db.run(ctx, query, dest, args, (*sqlx.Stmt).SelectContext, db.DB.SelectContext)
}

// run runs query into dest under the query timeout: with onStmt on its
// prepared statement where there is one, else with onDB.
func (db *DB) run(ctx context.Context, query string, dest any, args []any,
	onStmt func(*sqlx.Stmt, context.Context, any, ...any) error, onDB func(context.Context, any, string, ...any) error) error {
	ctx, cancel := context.WithTimeout(ctx, db.queryTimeout())
	defer cancel()
	if st := db.stmts.get(ctx, db.DB, query); st != nil {
		return dbError(onStmt(st, ctx, dest, args...))
	}
	return dbError(onDB(ctx, dest, query, args...))
}

// stmtCache holds prepared statements by their SQL, up to maxStmts (the
// queries are a fixed set, lists included: their SQL varies only with the
// kind of filter and ordering, never with a value).
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sqlx.Stmt
}

const maxStmts = 1024

// get returns the statement of query, prepared on first use; nil (run it
// unprepared) on a nil cache, a full one, or a failure to prepare.
func (c *stmtCache) get(ctx context.Context, db *sqlx.DB, query string) *sqlx.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	st, ok := c.m[query]
	full := len(c.m) >= maxStmts
	c.mu.Unlock()
	if ok || full {
		return st
	}
	st, err := db.PreparexContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*sqlx.Stmt{}
	}
	if prev, ok := c.m[query]; ok {
		st.Close()
		return prev
	}
	c.m[query] = st
	return st
}

// PingContext checks the database answers, under the query timeout.
func (db *DB) PingContext(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, db.queryTimeout())
	defer cancel()
	return dbError(db.DB.PingContext(ctx))
}
