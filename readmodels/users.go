package readmodels

import (
	"context"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/projections"
)

// Users is the users read model: one row per account.
type Users struct{}

// Name implements Projection.
func (Users) Name() string { return "users" }

// Version implements Projection.
// Version 2 keeps the list counts (user_counts) and indexes each ordering;
// version 3 records every erasure in the ledger of erasures
// (Tx.RecordErasures), which a rebuild at start-up fills from the log.
func (Users) Version() int { return 3 }

// Tables implements Projection.
func (Users) Tables() []string { return []string{"users", "user_counts"} }

// AggregateTypes implements Projection.
func (Users) AggregateTypes() []string { return []string{domain.AggregateUser} }

// User is a row of the users read model.
type User struct {
	ID          string    `db:"id"`
	Username    string    `db:"username"`
	Email       string    `db:"email"`
	FirstName   string    `db:"first_name"`
	LastName    string    `db:"last_name"`
	Bio         string    `db:"bio"`
	Avatar      string    `db:"avatar"`
	IsActive    bool      `db:"is_active"`
	IsStaff     bool      `db:"is_staff"`
	IsSuperuser bool      `db:"is_superuser"`
	DateJoined  time.Time `db:"date_joined"`
	UpdatedAt   time.Time `db:"updated_at"`
	Version     uint64    `db:"version"`
}

const userColumns = "id, username, email, first_name, last_name, bio, avatar, is_active, is_staff, is_superuser, date_joined, updated_at, version"

var userCols = []string{"id", "username", "email", "first_name", "last_name", "bio", "avatar",
	"is_active", "is_staff", "is_superuser", "date_joined", "updated_at", "version"}

func (u *User) values() []any {
	return []any{u.ID, u.Username, u.Email, u.FirstName, u.LastName, u.Bio, u.Avatar,
		u.IsActive, u.IsStaff, u.IsSuperuser, dbTime(u.DateJoined), dbTime(u.UpdatedAt), u.Version}
}

// dbTime normalizes a time for storage: UTC, microsecond precision (what
// PostgreSQL keeps), so both dialects hold identical values.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Apply implements Projection.
func (Users) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	var ids orderedSet
	for _, r := range recs {
		if tx.MayHave(r.Stream) {
			ids.add(r.Stream.ID)
		}
	}
	var existing []User
	if err := projections.SelectWhereIn(ctx, tx, &existing, "SELECT "+userColumns+" FROM "+tx.T("users")+" WHERE id IN (?)", ids.keys); err != nil {
		return fmt.Errorf("load users: %w", err)
	}
	rows := make(map[string]*User, len(ids.keys))
	before := make(map[string]string, len(existing)) // each loaded row's count scope
	for i := range existing {
		rows[existing[i].ID] = &existing[i]
		before[existing[i].ID] = existing[i].countScope()
	}
	changed, removed := orderedSet{}, map[string]bool{}
	var erasures []projections.Erasure
	for _, r := range recs {
		id := r.Stream.ID
		switch e := r.Event.(type) {
		case *domain.UserRegistered:
			if r.Erased {
				// An erased user's account never shows: on a rebuild,
				// its registration reads only placeholders.
				continue
			}
			rows[id] = &User{
				ID: id, Username: e.Username, Email: e.Email,
				FirstName: e.FirstName, LastName: e.LastName, Bio: e.Bio, Avatar: e.Avatar,
				IsActive: e.IsActive, IsStaff: e.IsStaff || e.IsSuperuser, IsSuperuser: e.IsSuperuser,
				DateJoined: e.DateJoined, UpdatedAt: r.OccurredAt,
			}
			delete(removed, id)
		case *domain.UserDeleted, *domain.UserErased:
			// The account's personal data leaves the read model (for good
			// on an erasure).
			if _, erased := r.Event.(*domain.UserErased); erased {
				tx.ScrubAfterCommit()
				// The ledger remembers it beyond this log: a restore of
				// a backup taken before it erases the user again.
				erasures = append(erasures, projections.Erasure{UserID: id, LogSeq: r.Seq, ErasedAt: r.OccurredAt})
			}
			if rows[id] != nil {
				removed[id] = true
				changed.add(id)
			}
			continue
		default:
			u := rows[id]
			if u == nil {
				continue // not registered (an abandoned registration)
			}
			if applyUserEvent(u, r.Event) {
				u.UpdatedAt = r.OccurredAt
			}
		}
		// The row's version follows the aggregate's, also through events
		// the read model does not show, so readers can tell it is current.
		rows[id].Version = r.Version
		changed.add(id)
	}
	if err := tx.RecordErasures(ctx, erasures, time.Now()); err != nil {
		return err
	}
	var upserts [][]any
	var deletes []string
	delta := map[string]int64{}
	for _, id := range changed.keys {
		if u := before[id]; u != "" {
			delta[u]--
		}
		if removed[id] {
			deletes = append(deletes, id)
		} else {
			upserts = append(upserts, rows[id].values())
			delta[rows[id].countScope()]++
		}
	}
	if !tx.CountsLater() {
		if err := tx.AddCounts(ctx, tx.T("user_counts"), delta); err != nil {
			return err
		}
	}
	if err := tx.DeleteWhereIn(ctx, tx.T("users"), "id", deletes); err != nil {
		return err
	}
	return tx.Put(ctx, tx.T("users"), userCols, []string{"id"}, upserts, byID(domain.AggregateUser))
}

// applyUserEvent folds one event into an existing row and reports whether
// the row changed.
func applyUserEvent(u *User, ev domain.Event) bool {
	switch e := ev.(type) {
	case *domain.UserDisabled:
		u.IsActive = false
	case *domain.UserEnabled:
		u.IsActive = true
	case *domain.UserProfileUpdated:
		setIf(&u.FirstName, e.FirstName)
		setIf(&u.LastName, e.LastName)
		setIf(&u.Bio, e.Bio)
		setIf(&u.Avatar, e.Avatar)
	case *domain.UserRolesChanged:
		u.IsStaff, u.IsSuperuser = e.IsStaff || e.IsSuperuser, e.IsSuperuser
	default:
		return false
	}
	return true
}

// UserByID returns the user with the given id.
// Returns ENOTFOUND if there is no such user.
func (db *Store) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	err := db.GetContext(ctx, &u, db.Rebind("SELECT "+userColumns+" FROM users WHERE id = ?"), id)
	if isNoRows(err) {
		return u, domain.ErrUserNotFound
	} else if err != nil {
		return u, fmt.Errorf("user by id: %w", err)
	}
	return u, nil
}

// UserID returns the id of the user with the given id or username (ignoring
// case). Returns ENOTFOUND if there is none.
func (db *Store) UserID(ctx context.Context, ref string) (string, error) {
	if isUUID(ref) {
		return ref, nil
	}
	var id string
	err := db.GetContext(ctx, &id, db.Rebind("SELECT id FROM users WHERE LOWER(username) = LOWER(?)"), ref)
	if isNoRows(err) {
		return "", domain.ErrUserNotFound
	} else if err != nil {
		return "", fmt.Errorf("user id: %w", err)
	}
	return id, nil
}
