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

// SetCheckpointRestart makes the SQLite databases opened until restore is
// called take the writers' turn to checkpoint at frames pages of the log.
func SetCheckpointRestart(frames int) (restore func()) {
	was := restartFrames
	restartFrames = frames
	return func() { restartFrames = was }
}

// StopCheckpoints stops the checkpoints of a SQLite database.
func StopCheckpoints(db *DB) { db.checkpoints.close() }
