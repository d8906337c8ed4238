// Package queries answers the questions Inkwell asks of the event log
// itself rather than of a read model: who a request's caller is now
// (authentication, on every request), the current state of an account, and
// an article's history. They read and decide nothing to append, so they are
// apart from the command handlers (package commands), counted apart in the
// metrics, and need only the reading half of the log.
package queries

import (
	"context"
	"time"

	"inkwell/domain"
)

// EventStore is the event log as queries read it.
type EventStore interface {
	// Load returns every event of one aggregate and where its stream stands.
	Load(ctx context.Context, id domain.StreamID) ([]domain.Record, domain.Position, error)
}

// EachLoader is an EventStore that can also load several aggregates at
// once, in one round trip to the log; authentication, which loads an
// account and a session on every request, uses it when the store offers it.
type EachLoader interface {
	LoadEach(ctx context.Context, ids ...domain.StreamID) ([][]domain.Record, []domain.Position, error)
}

// Folder is an EventStore that folds aggregates itself, from snapshots of
// those with a long history (domain.Snapshotter), one or several at once.
// Authentication uses it when the store offers it.
type Folder interface {
	LoadInto(ctx context.Context, id domain.StreamID, a domain.Aggregate) (domain.Position, error)
	LoadEachInto(ctx context.Context, ids []domain.StreamID, aggs []domain.Aggregate) ([]domain.Position, error)
}

// Handler answers one kind of query.
type Handler[Q, R any] interface {
	Handle(ctx context.Context, q Q) (R, error)
}

// Observer records each query's outcome and latency (metrics).
type Observer interface {
	ObserveQuery(query, outcome string, d time.Duration)
}

// Deps are what the queries need.
type Deps struct {
	Store EventStore
	// Observer, if set, records every query.
	Observer Observer
}

// Queries holds every query handler, each decorated with observation.
type Queries struct {
	Authenticate   Handler[Authenticate, *domain.User]
	CurrentUser    Handler[string, *domain.User]
	ArticleHistory Handler[ArticleHistory, []domain.Record]
}

// New returns the query handlers over deps.
func New(deps Deps) *Queries {
	if deps.Store == nil {
		panic("queries: New without an event store")
	}
	return &Queries{
		Authenticate:   observe(deps, "authenticate", AuthenticateHandler{deps.Store}),
		CurrentUser:    observe(deps, "current_user", CurrentUserHandler{deps.Store}),
		ArticleHistory: observe(deps, "article_history", ArticleHistoryHandler{deps.Store}),
	}
}

// observed decorates a handler with metrics.
type observed[Q, R any] struct {
	name string
	h    Handler[Q, R]
	obs  Observer
}

func observe[Q, R any](deps Deps, name string, h Handler[Q, R]) Handler[Q, R] {
	if deps.Observer == nil {
		return h
	}
	return observed[Q, R]{name: name, h: h, obs: deps.Observer}
}

// Handle implements Handler.
func (o observed[Q, R]) Handle(ctx context.Context, q Q) (R, error) {
	start := time.Now()
	r, err := o.h.Handle(ctx, q)
	o.obs.ObserveQuery(o.name, domain.Outcome(err), time.Since(start))
	return r, err
}

// load folds the events of stream id into a.
func load(ctx context.Context, store EventStore, id domain.StreamID, a interface{ Apply(domain.Record) }) ([]domain.Record, error) {
	recs, _, err := store.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		a.Apply(r)
	}
	return recs, nil
}
