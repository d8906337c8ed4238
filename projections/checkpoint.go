// SQLite's checkpoints, run beside the writers rather than inside a commit.

package projections

import (
	"context"
	"database/sql"
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
}

// startCheckpointer starts checkpointing db whenever lock's writers have
// committed. stop ends it.
func startCheckpointer(db *sql.DB, lock *writerLock) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, lock: lock, restartAt: restartFrames, stop: cancel, done: make(chan struct{})}
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
			if release, err := c.lock.take(ctx); err == nil {
				_, _ = c.checkpoint(ctx)
				release()
			}
		}
		// A failed checkpoint (the database gone, a checkpoint of another
		// process under way) is tried again after the next commits; the
		// last connection to close checkpoints too.
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
