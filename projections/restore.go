package projections

import (
	"context"
	"fmt"
	"time"
)

// ForgetLog marks every read model of the database as built from another
// log than the one it will be built from next: a restore of a backup
// replaces the log, and the read models' rows and checkpoints (which may
// lie past the restored log's last event) describe the log it replaced.
// Each is stale from then on (version 0, checkpoint 0): a rebuild replaces
// its tables (the restore's, or, should that fail, inkwell replay's or the
// next start's), and no runner applies the restored log onto its old rows
// meanwhile. It returns how many read models it marked. The ledger of
// erasures is left as it is: it is what the restore honours.
func (db *DB) ForgetLog(ctx context.Context, now time.Time) (int, error) {
	res, err := db.ExecContext(ctx, db.Rebind(
		"UPDATE projection_state SET version = 0, checkpoint = 0, stuck_seq = 0, stuck_error = '', stuck_at = NULL, lag = 0, lag_at = NULL, updated_at = ?"),
		now.UTC())
	if err != nil {
		return 0, fmt.Errorf("forget the log the read models were built from: %w", dbError(err))
	}
	n, err := res.RowsAffected()
	return int(n), err
}
