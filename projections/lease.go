package projections

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A projection is applied by one process at a time. On PostgreSQL, where
// several Inkwell instances share the read model, the one holding a session
// advisory lock for the projection applies it; the lock goes with its
// connection, so when that process dies another takes over within
// leaseRetry. SQLite belongs to one machine, and every process applies.
//
// A holder that stops without its connection closing (paused, partitioned,
// frozen) must not keep the lease for as long as it is stopped: the lease's
// session is ended by PostgreSQL itself once it has been idle for
// leaseDeadline (idle_session_timeout; the holder pings it every
// leaseRetry, so a live holder never is), and an apply transaction left
// open by a stopped holder is ended likewise (idle_in_transaction_session_
// timeout, see applyBatch), releasing the rows it locked. Another process
// then takes over within leaseDeadline + leaseRetry. When the stopped
// holder comes back, its lease is gone (its pings fail) and so is its
// transaction. Fencing needs nothing more: every batch reads the checkpoint
// under a row lock in the transaction that writes its rows and the new
// checkpoint, so two processes that both believe they lead still apply
// each event once, in order.

// leaseRetry is how often a process that does not apply a projection tries
// to take over, and how often the one that does checks it still holds it.
const leaseRetry = time.Second

// leasePingTimeout bounds the ping of the lease's connection: a broken
// connection fails at once, a database that stops answering within this
// long (or a machine too busy to see the answer) loses the lease.
const leasePingTimeout = 5 * time.Second

// leaseDeadline is how long PostgreSQL waits for a word from a holder of a
// lease (or from an apply transaction) before it ends its session,
// releasing the lease (or the transaction's locks) to another process.
const leaseDeadline = 5 * time.Second

// lease is held while this process applies a projection.
type lease struct {
	conn *sql.Conn
	lost chan struct{}
	stop chan struct{}
	done chan struct{}
}

// acquireLease waits until this process may apply the projection named name
// (or ctx is done); waiting, if set, is called when a first try finds
// another process holding it. The lease's lost channel closes if it is lost
// (the connection holding the lock broke); release gives it up.
func (db *DB) acquireLease(ctx context.Context, name string, waiting func(), log *slog.Logger) (*lease, error) {
	l := &lease{lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	if db.Dialect != Postgres {
		close(l.done)
		return l, nil
	}
	for {
		conn, err := db.Conn(ctx)
		if err == nil {
			err = db.boundIdleSession(ctx, conn, log)
		}
		if err == nil {
			var ok bool
			err = conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1, hashtext(current_schema() || '/' || $2))", leaseKey, name).Scan(&ok)
			if err == nil && ok {
				l.conn = conn
				go l.watch()
				return l, nil
			}
			conn.Close()
		}
		if waiting != nil {
			waiting()
			waiting = nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(leaseRetry):
		}
	}
}

// watch pings the lock's connection; a broken connection means the lock is
// gone (PostgreSQL released it), so the lease is lost.
func (l *lease) watch() {
	defer close(l.done)
	t := time.NewTicker(leaseRetry)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), leasePingTimeout)
			err := l.conn.PingContext(ctx)
			cancel()
			if err != nil {
				close(l.lost)
				return
			}
		}
	}
}

// release gives the lease up.
func (l *lease) release() {
	if l.conn == nil {
		return
	}
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, "SELECT pg_advisory_unlock_all()") // the connection holds only this lock
	_ = l.conn.Close()
}

// boundIdleSession makes PostgreSQL end the session of conn once it has
// been idle for leaseDeadline. PostgreSQL before 14 has no such setting:
// there a stopped holder keeps its lease until its connection breaks (TCP
// keepalives), which is said once.
func (db *DB) boundIdleSession(ctx context.Context, conn *sql.Conn, log *slog.Logger) error {
	_, err := conn.ExecContext(ctx, fmt.Sprintf("SET idle_session_timeout = %d", leaseDeadline.Milliseconds()))
	if isUnknownSetting(err) {
		db.unboundedLeases.Do(func() {
			log.Warn("PostgreSQL before 14 cannot end an idle session: a paused or partitioned instance keeps the leases of its projections until its connection breaks",
				"err", err)
		})
		return nil
	}
	return err
}

// isUnknownSetting reports whether err is PostgreSQL's "unrecognized
// configuration parameter".
func isUnknownSetting(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42704"
}
