package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"inkwell/domain"
)

// Users is the users read model: one row per account.
type Users struct{}

// Name implements Projection.
func (Users) Name() string { return "users" }

// Version implements Projection.
func (Users) Version() int { return 1 }

// Tables implements Projection.
func (Users) Tables() []string { return []string{"users"} }

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
func (Users) Apply(ctx context.Context, tx *Tx, recs []domain.Record) error {
	var ids orderedSet
	for _, r := range recs {
		if tx.MayHave(r.Stream) {
			ids.add(r.Stream.ID)
		}
	}
	var existing []User
	if err := selectWhereIn(ctx, tx, &existing, "SELECT "+userColumns+" FROM "+tx.T("users")+" WHERE id IN (?)", ids.keys); err != nil {
		return fmt.Errorf("load users: %w", err)
	}
	rows := make(map[string]*User, len(ids.keys))
	for i := range existing {
		rows[existing[i].ID] = &existing[i]
	}
	changed, removed := orderedSet{}, map[string]bool{}
	for _, r := range recs {
		id := r.Stream.ID
		switch e := r.Event.(type) {
		case *domain.UserRegistered:
			rows[id] = &User{
				ID: id, Username: e.Username, Email: e.Email,
				FirstName: e.FirstName, LastName: e.LastName, Bio: e.Bio, Avatar: e.Avatar,
				IsActive: e.IsActive, IsStaff: e.IsStaff || e.IsSuperuser, IsSuperuser: e.IsSuperuser,
				DateJoined: e.DateJoined, UpdatedAt: r.OccurredAt,
			}
			delete(removed, id)
		case *domain.UserDeleted:
			// The account's personal data leaves the read model.
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
	var upserts [][]any
	var deletes []string
	for _, id := range changed.keys {
		if removed[id] {
			deletes = append(deletes, id)
		} else {
			upserts = append(upserts, rows[id].values())
		}
	}
	if err := deleteWhereIn(ctx, tx, tx.T("users"), "id", deletes); err != nil {
		return err
	}
	return put(ctx, tx, tx.T("users"), userCols, []string{"id"}, upserts, byID(domain.AggregateUser))
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
func (db *DB) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	err := db.GetContext(ctx, &u, db.Rebind("SELECT "+userColumns+" FROM users WHERE id = ?"), id)
	if isNoRows(err) {
		return u, domain.ErrUserNotFound
	} else if err != nil {
		return u, fmt.Errorf("user by id: %w", err)
	}
	return u, nil
}

// UserFilter selects and orders users for the admin list.
type UserFilter struct {
	Search   string // in username, email, first and last name, ignoring case
	IsActive *bool
	IsStaff  *bool
	// Ordering is a comma-separated list of username, email, first_name,
	// last_name and date_joined, each optionally prefixed with "-".
	Ordering string
	Page     Page
}

// UserOrderings are the names UserFilter.Ordering accepts.
var UserOrderings = []string{"username", "email", "first_name", "last_name", "date_joined"}

// ListUsers returns a page of the users the filter selects, and how many it
// selects in all. Returns EINVALID for an unknown ordering.
func (db *DB) ListUsers(ctx context.Context, f UserFilter) ([]User, int, error) {
	terms, err := parseOrdering(f.Ordering, "username", UserOrderings)
	if err != nil {
		return nil, 0, err
	}
	var order []string
	for _, t := range terms {
		expr := db.titleOrder(t.field)
		if t.field == "date_joined" {
			expr = t.field
		}
		if t.desc {
			expr += " DESC"
		}
		order = append(order, expr)
	}
	order = append(order, "id")
	var where []string
	var args []any
	if f.Search != "" {
		p := likePattern(f.Search)
		where = append(where, `(LOWER(username) LIKE ? ESCAPE '\' OR LOWER(email) LIKE ? ESCAPE '\' OR LOWER(first_name) LIKE ? ESCAPE '\' OR LOWER(last_name) LIKE ? ESCAPE '\')`)
		args = append(args, p, p, p, p)
	}
	if f.IsActive != nil {
		where, args = append(where, "is_active = ?"), append(args, *f.IsActive)
	}
	if f.IsStaff != nil {
		where, args = append(where, "is_staff = ?"), append(args, *f.IsStaff)
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var count int
	if err := db.GetContext(ctx, &count, db.Rebind("SELECT COUNT(*) FROM users"+cond), args...); err != nil {
		return nil, 0, fmt.Errorf("count users: %w", err)
	}
	out := []User{}
	q := "SELECT " + userColumns + " FROM users" + cond + " ORDER BY " + strings.Join(order, ", ") + " LIMIT ? OFFSET ?"
	if err := db.SelectContext(ctx, &out, db.Rebind(q), append(args, f.Page.Limit, f.Page.Offset)...); err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	return out, count, nil
}

// UserID returns the id of the user with the given id or username (ignoring
// case). Returns ENOTFOUND if there is none.
func (db *DB) UserID(ctx context.Context, ref string) (string, error) {
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
