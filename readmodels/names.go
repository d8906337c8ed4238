package readmodels

import (
	"context"
	"fmt"

	"inkwell/domain"
	"inkwell/projections"
)

// Name is a user's public name, as a read model shows it beside what they
// wrote.
type Name struct {
	ID        string `db:"id"`
	Username  string `db:"username"`
	FirstName string `db:"first_name"`
	LastName  string `db:"last_name"`
}

// Names is one batch's view of a read model's table of users' public names
// (columns id, username, first_name, last_name): the stored names the
// batch loaded, folded with the batch's user events, written by Flush.
type Names struct {
	tx    *projections.Tx
	table string // logical
	rows  map[string]*Name
	dirty OrderedSet
	gone  map[string]bool
}

// NewNames returns the names of the logical table in tx, none loaded yet.
func NewNames(tx *projections.Tx, table string) *Names {
	return &Names{tx: tx, table: table, rows: map[string]*Name{}, gone: map[string]bool{}}
}

// Load reads the stored names of ids.
func (n *Names) Load(ctx context.Context, ids []string) error {
	var rows []Name
	if err := projections.SelectWhereIn(ctx, n.tx, &rows, "SELECT id, username, first_name, last_name FROM "+n.tx.T(n.table)+" WHERE id IN (?)", ids); err != nil {
		return fmt.Errorf("load %s: %w", n.table, err)
	}
	for i := range rows {
		n.rows[rows[i].ID] = &rows[i]
	}
	return nil
}

// Get returns the name of user id, or nil for one that is not known (never
// registered, deleted or erased).
func (n *Names) Get(id string) *Name { return n.rows[id] }

// Apply folds a user's event into the names. It reports a user who is
// gone: deleted, or erased (an erased user's name never shows, and the
// transaction scrubs the deleted row after commit).
func (n *Names) Apply(r domain.Record) (gone, erased bool) {
	id := r.Stream.ID
	switch e := r.Event.(type) {
	case *domain.UserRegistered:
		if r.Erased {
			return false, false // an erased user's name never shows
		}
		n.rows[id] = &Name{ID: id, Username: e.Username, FirstName: e.FirstName, LastName: e.LastName}
		delete(n.gone, id)
		n.dirty.Add(id)
	case *domain.UserProfileUpdated:
		if a := n.rows[id]; a != nil {
			SetIf(&a.FirstName, e.FirstName)
			SetIf(&a.LastName, e.LastName)
			n.dirty.Add(id)
		}
	case *domain.UserDeleted, *domain.UserErased:
		if _, erased = r.Event.(*domain.UserErased); erased {
			n.tx.ScrubAfterCommit()
		}
		delete(n.rows, id)
		n.gone[id] = true
		return true, erased
	}
	return false, false
}

// Flush deletes the names of the users who went and writes the changed
// ones.
func (n *Names) Flush(ctx context.Context) error {
	gone := make([]string, 0, len(n.gone))
	for id := range n.gone {
		gone = append(gone, id)
	}
	if err := n.tx.DeleteWhereIn(ctx, n.tx.T(n.table), "id", gone); err != nil {
		return err
	}
	var rows [][]any
	for _, id := range n.dirty.Keys {
		if a := n.rows[id]; a != nil {
			rows = append(rows, []any{a.ID, a.Username, a.FirstName, a.LastName})
		}
	}
	return n.tx.Put(ctx, n.tx.T(n.table), []string{"id", "username", "first_name", "last_name"}, []string{"id"}, rows, ByID(domain.AggregateUser))
}

// NameColumns are the columns a view of a read model's rows selects from
// its table of names (as author_username, author_first_name and
// author_last_name): all NULL for an author whose name is gone.
type NameColumns struct {
	AuthorUsername  *string `db:"author_username"`
	AuthorFirstName *string `db:"author_first_name"`
	AuthorLastName  *string `db:"author_last_name"`
}

// Name returns the name of author id as the columns show it (only the id
// when it is gone).
func (c NameColumns) Name(id string) Name {
	n := Name{ID: id}
	SetIf(&n.Username, c.AuthorUsername)
	SetIf(&n.FirstName, c.AuthorFirstName)
	SetIf(&n.LastName, c.AuthorLastName)
	return n
}
