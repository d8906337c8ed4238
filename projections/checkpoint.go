// SQLite's checkpoints, run beside the writers rather than inside a commit.

package projections

import (
	"context"
	"database/sql"
	"log/slog"
	"sync/atomic"
	"time"
)

// In WAL mode a commit appends the pages it changed to the write-ahead log;
// a checkpoint copies them into the database file and syncs both files, and
// once it has copied the whole log, the next writer starts the log over.
// By default SQLite checkpoints in the commit that takes the log past
// wal_autocheckpoint's 1,000 pages, inside that writer's turn. Under a load
// of creates, those syncs were a third of the time the process's one writer
// held the database, and every create waits for the read models' commits.
//
// So a SQLite DB turns the automatic checkpoint off and runs its own on a
// goroutine: after commits (and every checkpointIdle, for writes outside a
// transaction of this process), at most every checkpointEvery, a passive
// checkpoint copies what is committed and syncs, while writers go on
// appending. A passive checkpoint never waits for a writer, so under a
// steady load it never reaches the log's end (new commits came meanwhile),
// and the log would grow for ever: once it holds restartFrames pages, the
// checkpointer takes the writers' turn and copies the little the passive
// one left, so that the next writer starts the log over. journal_size_limit
// then cuts the file back.
const (
	checkpointEvery = 100 * time.Millisecond
	checkpointIdle  = time.Second
)

// checkpointWarnEvery is how often checkpoints that keep failing are
// logged again: the first failure is logged at once, then one line a
// minute while they fail, and one when they succeed again.
const checkpointWarnEvery = time.Minute

// restartFrames is how many pages of the log (32 MiB at 4 KiB a page) make
// the checkpointer take the writers' turn; a variable for the tests.
var restartFrames = 8192

// checkpointer runs the checkpoints of one SQLite database.
type checkpointer struct {
	db        *sql.DB
	lock      *writerLock
	restartAt int
	stop      context.CancelFunc
	done      chan struct{}

	// log is where failed checkpoints are told (nil: nowhere yet; see
	// DB.LogTo); now is the clock of their reports.
	log atomic.Pointer[slog.Logger]
	now func() time.Time
	// failures counts the checkpoints failed in a row; warned is when the
	// last of them was logged (zero: none of them yet).
	failures int
	warned   time.Time
}

// startCheckpointer starts checkpointing db whenever lock's writers have
// committed. stop ends it.
func startCheckpointer(db *sql.DB, lock *writerLock) *checkpointer {
	return newCheckpointer(db, lock).start()
}

// newCheckpointer returns a checkpointer of db that start starts.
func newCheckpointer(db *sql.DB, lock *writerLock) *checkpointer {
	return &checkpointer{db: db, lock: lock, restartAt: restartFrames, done: make(chan struct{}), now: time.Now}
}

func (c *checkpointer) start() *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop = cancel
	go c.run(ctx)
	return c
}

// close stops the checkpointer and waits for it; it may be called again.
func (c *checkpointer) close() {
	c.stop()
	<-c.done
}

func (c *checkpointer) run(ctx context.Context) {
	defer close(c.done)
	pause := time.NewTimer(0)
	defer pause.Stop()
	idle := time.NewTicker(checkpointIdle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.lock.written:
		case <-idle.C:
		}
		frames, err := c.checkpoint(ctx)
		if err == nil && frames >= c.restartAt {
			// In the writers' turn, so that none appends meanwhile.
			if release, lerr := c.lock.take(ctx); lerr == nil {
				_, err = c.checkpoint(ctx)
				release()
			}
		}
		// A failed checkpoint (a full disk, a checkpoint of another
		// process under way) is tried again after the next commits; the
		// last connection to close checkpoints too. Meanwhile the log
		// grows: an operator is told.
		if ctx.Err() == nil {
			c.report(err, frames)
		}
		pause.Reset(checkpointEvery)
		select {
		case <-ctx.Done():
			return
		case <-pause.C:
		}
	}
}

// checkpoint runs a passive checkpoint and returns how many pages the log
// holds.
func (c *checkpointer) checkpoint(ctx context.Context) (frames int, err error) {
	var busy, copied int
	err = c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	return frames, err
}

// report tells the log of a failed checkpoint (the first of a run of
// failures, then once every checkpointWarnEvery while they go on), and of
// the first success after failures.
func (c *checkpointer) report(err error, frames int) {
	log := c.log.Load()
	if err == nil {
		if c.failures > 0 && log != nil {
			log.Info("checkpoints of the SQLite write-ahead log succeed again", "failed_before", c.failures, "log_pages", frames)
		}
		c.failures, c.warned = 0, time.Time{}
		return
	}
	c.failures++
	now := c.now()
	if log == nil || (!c.warned.IsZero() && now.Sub(c.warned) < checkpointWarnEvery) {
		return
	}
	c.warned = now
	log.Warn("a checkpoint of the SQLite write-ahead log failed: it is tried again after the next commits; until one succeeds the log file grows with every commit",
		"err", err, "failed_in_a_row", c.failures)
}
