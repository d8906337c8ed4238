package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/projections"
)

// Erasure must survive a restore: a backup taken before an erasure holds
// the user's data key and a log without their user.erased. The ledger of
// erasures (projections.Erasure, the table erasure_ledger of the
// read-model database, outside NATS and outside every read model's
// generations) remembers every erasure a log it was built from recorded.
// inkwell restore, and every start of the server, erase again whom it
// names and NATS does not hold erased: the data key destroyed, and
// user.erased recorded again if the log lacks it.

// erasedAgain is an erasure recorded again in the log.
type erasedAgain struct {
	userID string
	seq    uint64
}

// erasureRepair is what eraseAgain did.
type erasureRepair struct {
	// keys counts the data keys it destroyed (the others were destroyed
	// already, or never made).
	keys int
	// again lists the erasures it recorded again.
	again []erasedAgain
	// failed says, for each user whose erasure could not be recorded
	// again, why (their key is destroyed all the same).
	failed map[string]error
}

// eraseAgain makes sure that each user of ids is erased: their data key
// destroyed (personal data of theirs in the log reads domain.Erased from
// then on), and their erasure in the log, recorded again by the system
// actor where the log has their account but not its erasure (a user the
// log never had gets a destroyed key only, so that no key is ever made for
// them). It goes on past a user whose erasure cannot be recorded (the last
// active superuser: the roster refuses it), listing them in failed; an
// unavailable log or bucket stops it.
func eraseAgain(ctx context.Context, store *eventstore.Store, keys *eventstore.Keyring, cmds *commands.Handlers, ids []string) (erasureRepair, error) {
	rep := erasureRepair{failed: map[string]error{}}
	for _, id := range ids {
		erased, err := keys.Erased(ctx, id)
		if err != nil {
			return rep, err
		}
		if err := keys.Destroy(ctx, id); err != nil {
			return rep, fmt.Errorf("destroy the data key of erased user %s: %w", id, err)
		}
		if !erased {
			rep.keys++
		}
		recs, _, err := store.Load(ctx, domain.UserStream(id))
		if err != nil {
			return rep, fmt.Errorf("load erased user %s: %w", id, err)
		}
		if len(recs) == 0 || slices.ContainsFunc(recs, func(r domain.Record) bool { _, ok := r.Event.(*domain.UserErased); return ok }) {
			continue
		}
		res, err := cmds.EraseUser.Handle(ctx, commands.EraseUser{
			Actor: domain.SystemActor, ID: id,
			Meta: domain.Meta{ActorID: domain.SystemActorID, CorrelationID: "erasure-ledger"},
		})
		var unavailable *domain.UnavailableError
		switch {
		case errors.As(err, &unavailable):
			return rep, fmt.Errorf("record again the erasure of user %s: %w", id, err)
		case err != nil:
			rep.failed[id] = err
		default:
			rep.again = append(rep.again, erasedAgain{userID: id, seq: res.Seq})
		}
	}
	return rep, nil
}

// notDestroyed returns the ledger of erasures of db, and the users it names
// whose data key the bucket does not hold destroyed, in the ledger's order.
func notDestroyed(ctx context.Context, db *projections.DB, keys *eventstore.Keyring) ([]projections.Erasure, []string, error) {
	ledger, err := db.Erasures(ctx)
	if err != nil {
		return nil, nil, err
	}
	destroyed, err := keys.Destroyed(ctx)
	if err != nil {
		return nil, nil, err
	}
	gone := make(map[string]bool, len(destroyed))
	for _, id := range destroyed {
		gone[id] = true
	}
	var out []string
	for _, e := range ledger {
		if !gone[e.UserID] {
			out = append(out, e.UserID)
		}
	}
	return ledger, out, nil
}

// honourErasureLedger runs in the background at start-up: it erases
// again whom the ledger names and NATS does not hold erased (a restore by
// NATS's own tools of a backup taken before an erasure). The cascade
// reactor then deletes their articles, as after any erasure. It asks again
// while the log or the database cannot answer, until ctx ends.
func (m *Main) honourErasureLedger(ctx context.Context) {
	for {
		err := m.honourErasureLedgerOnce(ctx)
		var unavailable *domain.UnavailableError
		if err == nil || ctx.Err() != nil {
			return
		}
		if !errors.As(err, &unavailable) {
			m.log.Error("the ledger of erasures could not be honoured; it is, at the next start", "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

func (m *Main) honourErasureLedgerOnce(ctx context.Context) error {
	_, ids, err := notDestroyed(ctx, m.DB, m.eventLog.keys)
	if err != nil || len(ids) == 0 {
		return err
	}
	m.log.Warn("the ledger of erasures names users whose data key NATS holds (a backup taken before their erasure was restored?): erasing them again", "users", len(ids))
	rep, err := eraseAgain(ctx, m.Store, m.eventLog.keys, m.Commands, ids)
	logRepair(m.log, rep)
	return err
}

// logRepair logs what eraseAgain did.
func logRepair(log *slog.Logger, rep erasureRepair) {
	for _, a := range rep.again {
		log.Warn("recorded again the erasure of a user the ledger of erasures names", "user", a.userID, "seq", a.seq)
	}
	for id, err := range rep.failed {
		log.Error("could not record again the erasure of a user the ledger of erasures names; their data key is destroyed, their personal data reads erased", "user", id, "err", err,
			"what_to_do", "the last active superuser cannot be erased: make another (inkwell createsuperuser), then erase the user as it (POST /api/users/<id>/erase/)")
	}
	if rep.keys > 0 {
		log.Warn("destroyed the data keys of erased users that NATS held", "keys", rep.keys)
	}
}
