// Which database errors say the database could not serve (UnavailableError).

package projections

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"inkwell/domain"
)

// dbError marks an error that says the database could not serve as an
// UnavailableError naming the database; others are returned as they are.
func dbError(err error) error {
	if Unavailable(err) {
		var u *domain.UnavailableError
		if errors.As(err, &u) {
			return err
		}
		return &domain.UnavailableError{Dependency: domain.DependencyDatabase, Err: err}
	}
	return err
}

// Unavailable reports whether err says that the database could not serve:
// it is down or unreachable, too slow (a timeout, a cancelled statement),
// out of resources (disk, memory, connections) or locked by another
// writer. Such a failure passes; a statement the database refused (a
// constraint, a syntax error) does not.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var u *domain.UnavailableError
	if errors.As(err, &u) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var netErr net.Error
	var connErr *pgconn.ConnectError
	if errors.As(err, &netErr) || errors.As(err, &connErr) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources: disk full, out of memory, too many connections
			"57", // operator intervention: query cancelled (statement_timeout), shutting down
			"58": // system error: I/O
			return true
		}
		return pgErr.Code == "40001" || pgErr.Code == "40P01" // serialization failure, deadlock
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_IOERR,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_INTERRUPT:
			return true
		}
	}
	return false
}
