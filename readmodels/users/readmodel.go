// Package users is the users read model: one row per account, behind "me"
// and the admin user list, with the counts the list shows; it records every
// erasure in the ledger of erasures.
package users

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"inkwell/domain"
	"inkwell/projections"
	"inkwell/readmodels"
)

// ReadModel is the users read model, a projections.Projection.
type ReadModel struct {
	readmodels.Described[ReadModel]
}

// Describe implements readmodels.Describer.
// Version 2 keeps the list counts (user_counts) and indexes each ordering;
// version 3 records every erasure in the ledger of erasures
// (Tx.RecordErasures), which a rebuild at start-up fills from the log.
func (ReadModel) Describe() readmodels.Description {
	return readmodels.Description{Name: "users", Version: 3, Schema: schema,
		Tables: []string{"users", "user_counts"}, AggregateTypes: []string{domain.AggregateUser}}
}

//go:embed schema.sql
var schema string

// Store answers the queries of the users read model in a database.
type Store struct{ *projections.DB }

// NewStore returns the queries of the users read model in db.
func NewStore(db *projections.DB) *Store { return &Store{DB: db} }

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
		u.IsActive, u.IsStaff, u.IsSuperuser, readmodels.DBTime(u.DateJoined), readmodels.DBTime(u.UpdatedAt), u.Version}
}

// Apply implements Projection.
func (ReadModel) Apply(ctx context.Context, tx *projections.Tx, recs []domain.Record) error {
	ids := readmodels.StoredOf(tx, recs).Of(domain.AggregateUser)
	var existing []User
	if err := projections.SelectWhereIn(ctx, tx, &existing, "SELECT "+userColumns+" FROM "+tx.T("users")+" WHERE id IN (?)", ids.Keys); err != nil {
		return fmt.Errorf("load users: %w", err)
	}
	rows := make(map[string]*User, len(ids.Keys))
	before := make(map[string]string, len(existing)) // each loaded row's count scope
	for i := range existing {
		rows[existing[i].ID] = &existing[i]
		before[existing[i].ID] = existing[i].countScope()
	}
	changed, removed := readmodels.OrderedSet{}, map[string]bool{}
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
				changed.Add(id)
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
		changed.Add(id)
	}
	if err := tx.RecordErasures(ctx, erasures, time.Now()); err != nil {
		return err
	}
	var upserts [][]any
	var deletes []string
	delta := map[string]int64{}
	for _, id := range changed.Keys {
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
	return tx.Put(ctx, tx.T("users"), userCols, []string{"id"}, upserts, readmodels.ByID(domain.AggregateUser))
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
		readmodels.SetIf(&u.FirstName, e.FirstName)
		readmodels.SetIf(&u.LastName, e.LastName)
		readmodels.SetIf(&u.Bio, e.Bio)
		readmodels.SetIf(&u.Avatar, e.Avatar)
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
	return readmodels.Get[User](ctx, db.DB, domain.ErrUserNotFound, "user by id", "SELECT "+userColumns+" FROM users WHERE id = ?", id)
}

// UserID returns the id of the user with the given id or username (ignoring
// case). Returns ENOTFOUND if there is none.
func (db *Store) UserID(ctx context.Context, ref string) (string, error) {
	if readmodels.IsUUID(ref) {
		return ref, nil
	}
	return readmodels.Get[string](ctx, db.DB, domain.ErrUserNotFound, "user id", "SELECT id FROM users WHERE LOWER(username) = LOWER(?)", ref)
}
