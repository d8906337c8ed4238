// Package readmodels holds Inkwell's read models: the articles read model
// (articles with their authors' names, categories, tags, kept counts) and
// the users read model. Each is a projections.Projection: its rows, its
// Apply and its SQL (in package migrations); and Store answers the queries
// the API asks of them, from the tables the projection engine (package
// projections) keeps current.
package readmodels

import (
	"database/sql"
	"errors"
	"inkwell/projections"
)

// Store answers queries from the read models in a database.
type Store struct {
	*projections.DB
}

// NewStore returns the queries of the read models in db.
func NewStore(db *projections.DB) *Store { return &Store{DB: db} }

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
