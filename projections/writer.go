// SQLite's one writer, queued for in this process rather than on SQLite's busy timeout.

package projections

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"

	"modernc.org/sqlite"
)

// SQLite lets one transaction write at a time. Another that wants to
// (BEGIN IMMEDIATE) waits on busy_timeout, which polls: it sleeps 1, 2, 5,
// 10, 15, 20, 25 ms and so on between tries, whenever the lock was freed in
// between. Several runners apply their batches at once (and writes wait for
// them), so under load most of a batch's time was that sleep, with the CPU
// idle. The connections of a DB therefore take writerLock, a queue of this
// process, before they begin a write transaction, and free it when it ends:
// the next writer starts as soon as the last commits. Another process
// writing the same file (an inkwell replay beside a server) still meets
// SQLite's own lock and busy_timeout.

// writerLock is the process's turn at writing one SQLite database.
type writerLock struct {
	turn chan struct{}
	// wait bounds the wait for the turn; past it, the transaction begins
	// without it, and SQLite's busy_timeout decides, as without this lock.
	wait time.Duration
	// written is signalled (without waiting) whenever a turn ends: the
	// checkpointer copies what the writers committed (see checkpoint.go).
	written chan struct{}
}

func newWriterLock(wait time.Duration) *writerLock {
	return &writerLock{turn: make(chan struct{}, 1), wait: wait, written: make(chan struct{}, 1)}
}

// take waits for the turn. It returns a function that gives the turn back
// (a no-op if it was not taken: the wait passed), or ctx's error.
func (l *writerLock) take(ctx context.Context) (func(), error) {
	select {
	case l.turn <- struct{}{}:
		return l.giveBack(), nil
	default:
	}
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.turn <- struct{}{}:
		return l.giveBack(), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		return func() {}, nil
	}
}

func (l *writerLock) giveBack() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			<-l.turn
			select {
			case l.written <- struct{}{}:
			default:
			}
		})
	}
}

// writerConnector opens SQLite connections that take lock around their
// write transactions.
type writerConnector struct {
	driver.Connector
	lock *writerLock
}

// newWriterConnector returns the connector of dsn whose connections share
// one writerLock; a lock's wait is busy (SQLite's busy_timeout).
func newWriterConnector(dsn string, busy time.Duration) (writerConnector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return writerConnector{}, err
	}
	return writerConnector{Connector: c, lock: newWriterLock(busy)}, nil
}

func (c writerConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := dc.(sqliteConn)
	if !ok {
		dc.Close()
		return nil, fmt.Errorf("open sqlite: a connection of type %T lacks an interface of the driver's", dc)
	}
	return &writerConn{conn: sc, lock: c.lock}, nil
}

// sqliteConn is what every connection of the sqlite driver implements (see
// sqlite.NewConnector), and a wrapper must pass on.
type sqliteConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// writerConn is a SQLite connection whose write transactions take the
// process's writer lock first.
type writerConn struct {
	conn sqliteConn
	lock *writerLock
}

// Unwrap returns the driver's connection (sqlite.Limit and others see
// through the wrapper so).
func (c *writerConn) Unwrap() driver.Conn { return c.conn }

func (c *writerConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }
func (c *writerConn) Close() error                              { return c.conn.Close() }
func (c *writerConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *writerConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if opts.ReadOnly {
		return c.conn.BeginTx(ctx, opts) // a deferred BEGIN: it takes no write lock
	}
	release, err := c.lock.take(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.conn.BeginTx(ctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	return writerTx{Tx: tx, release: release}, nil
}

func (c *writerConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.conn.PrepareContext(ctx, query)
}

func (c *writerConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.conn.ExecContext(ctx, query, args)
}

func (c *writerConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.conn.QueryContext(ctx, query, args)
}

func (c *writerConn) Ping(ctx context.Context) error         { return c.conn.Ping(ctx) }
func (c *writerConn) ResetSession(ctx context.Context) error { return c.conn.ResetSession(ctx) }
func (c *writerConn) IsValid() bool                          { return c.conn.IsValid() }

// writerTx gives the writer lock back when it ends.
type writerTx struct {
	driver.Tx
	release func()
}

func (t writerTx) Commit() error {
	defer t.release()
	return t.Tx.Commit()
}

func (t writerTx) Rollback() error {
	defer t.release()
	return t.Tx.Rollback()
}
