// Package commands decides and records Inkwell's commands: each handler loads
// the aggregates it needs from the event log, checks the actor's rights
// against their own state (never against a read model), lets the domain
// decide, and appends the resulting event expecting the stream to be where
// it was loaded. A concurrent change is retried when the command still
// applies.
package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"inkwell/domain"
)

// EventStore is the event log as commands use it.
type EventStore interface {
	// Load returns every event of one aggregate and where its stream stands.
	Load(ctx context.Context, id domain.StreamID) ([]domain.Record, domain.Position, error)
	// Append appends events to a stream that must stand at pos; otherwise it
	// fails with an error wrapping domain.ErrConcurrentChange.
	Append(ctx context.Context, id domain.StreamID, pos domain.Position, meta domain.Meta, events ...domain.Event) ([]domain.Record, error)
	// ClaimStream names the stream of the claim on a unique value (see
	// domain.KeyedClaimStream): the log decides, so that every writer of
	// one log names a claim alike.
	ClaimStream(kind, value string) domain.StreamID
}

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	// Verify checks password against hash; with an empty hash it spends the
	// same time and reports false.
	Verify(ctx context.Context, password, hash string) (bool, error)
}

// Deps are what the command handlers need.
type Deps struct {
	Store  EventStore
	Hasher PasswordHasher
	// Now is the clock (default time.Now).
	Now func() time.Time
	// NewID returns a new aggregate id (default UUID v7).
	NewID func() (string, error)
	// ArticleDeleteStaffOnly makes deleting articles a staff right (the
	// tutorial's AdminAuth on delete); by default owners delete their own.
	ArticleDeleteStaffOnly bool
	// ClaimGrace is how long a claim (a username, a slug) whose owner has not
	// been created yet is presumed to belong to a creation in flight. After
	// that the owner is fenced off and the claim can be taken (default 30s).
	ClaimGrace time.Duration
	Logger     *slog.Logger
	// DataKeys, if set, destroys the data key of an erased user at once
	// (else only the data-key reactor does).
	DataKeys DataKeys
	// Observer, if set, records every command.
	Observer Observer
}

// Handler handles one kind of command.
type Handler[C, R any] interface {
	Handle(ctx context.Context, cmd C) (R, error)
}

// Observer records each command's outcome and latency (metrics).
type Observer interface {
	ObserveCommand(command, outcome string, d time.Duration)
}

// Handlers holds every command handler, each decorated with observation.
type Handlers struct {
	Register Handler[Register, Result]
	Login    Handler[Login, *Session]

	StartSession   Handler[StartSession, *Session]
	Refresh        Handler[Refresh, *Session]
	Logout         Handler[Logout, Result]
	LogoutAll      Handler[LogoutAll, Result]
	ChangePassword Handler[ChangePassword, Result]

	CreateArticle    Handler[CreateArticle, Result]
	UpdateArticle    Handler[UpdateArticle, Result]
	DeleteArticle    Handler[DeleteArticle, Result]
	PublishArticle   Handler[PublishArticle, Result]
	UnpublishArticle Handler[UnpublishArticle, Result]

	AddComment    Handler[AddComment, Result]
	DeleteComment Handler[DeleteComment, Result]
	// DeleteAuthorsComment is issued by the user-deletion cascade.
	DeleteAuthorsComment Handler[DeleteAuthorsComment, Result]

	CreateCategory Handler[CreateCategory, Result]
	UpdateCategory Handler[UpdateCategory, Result]
	DeleteCategory Handler[DeleteCategory, Result]
	CreateTag      Handler[CreateTag, Result]

	UpdateUser    Handler[UpdateUser, Result]
	DeleteUser    Handler[DeleteUser, Result]
	UpdateProfile Handler[UpdateProfile, Result]
	EraseUser     Handler[EraseUser, Result]
	EraseSelf     Handler[EraseSelf, Result]
	// DeleteAuthorsArticle is issued by the user-deletion cascade.
	DeleteAuthorsArticle Handler[DeleteAuthorsArticle, Result]

	FavoriteArticle   Handler[FavoriteArticle, Result]
	UnfavoriteArticle Handler[UnfavoriteArticle, Result]
	FollowUser        Handler[FollowUser, Result]
	UnfollowUser      Handler[UnfollowUser, Result]
}

// New returns the command handlers over deps.
func New(deps Deps) *Handlers {
	b := newBase("New", deps)
	return &Handlers{
		Register: observe(b, "register", RegisterHandler{b}),
		Login:    observe(b, "login", LoginHandler{b}),

		StartSession:   observe(b, "start_session", StartSessionHandler{b}),
		Refresh:        observe(b, "refresh", RefreshHandler{b}),
		Logout:         observe(b, "logout", LogoutHandler{b}),
		LogoutAll:      observe(b, "logout_all", LogoutAllHandler{b}),
		ChangePassword: observe(b, "change_password", ChangePasswordHandler{b}),

		CreateArticle:    observe(b, "create_article", CreateArticleHandler{b}),
		UpdateArticle:    observe(b, "update_article", UpdateArticleHandler{b}),
		DeleteArticle:    observe(b, "delete_article", DeleteArticleHandler{b}),
		PublishArticle:   observe(b, "publish_article", PublishArticleHandler{b}),
		UnpublishArticle: observe(b, "unpublish_article", UnpublishArticleHandler{b}),

		AddComment:           observe(b, "add_comment", AddCommentHandler{b}),
		DeleteComment:        observe(b, "delete_comment", DeleteCommentHandler{b}),
		DeleteAuthorsComment: observe(b, "delete_authors_comment", DeleteAuthorsCommentHandler{b}),

		CreateCategory: observe(b, "create_category", CreateCategoryHandler{b}),
		UpdateCategory: observe(b, "update_category", UpdateCategoryHandler{b}),
		DeleteCategory: observe(b, "delete_category", DeleteCategoryHandler{b}),
		CreateTag:      observe(b, "create_tag", CreateTagHandler{b}),

		UpdateUser:           observe(b, "update_user", UpdateUserHandler{b}),
		DeleteUser:           observe(b, "delete_user", DeleteUserHandler{b}),
		UpdateProfile:        observe(b, "update_profile", UpdateProfileHandler{b}),
		EraseUser:            observe(b, "erase_user", EraseUserHandler{b}),
		EraseSelf:            observe(b, "erase_self", EraseSelfHandler{b}),
		DeleteAuthorsArticle: observe(b, "delete_authors_article", DeleteAuthorsArticleHandler{b}),

		FavoriteArticle:   observe(b, "favorite_article", FavoriteArticleHandler{b}),
		UnfavoriteArticle: observe(b, "unfavorite_article", UnfavoriteArticleHandler{b}),
		FollowUser:        observe(b, "follow_user", FollowUserHandler{b}),
		UnfollowUser:      observe(b, "unfollow_user", UnfollowUserHandler{b}),
	}
}

// observed decorates a handler with metrics and with a log line for
// internal errors.
type observed[C, R any] struct {
	name string
	h    Handler[C, R]
	b    *base
}

func observe[C, R any](b *base, name string, h Handler[C, R]) Handler[C, R] {
	return observed[C, R]{name: name, h: h, b: b}
}

// Handle implements Handler.
func (o observed[C, R]) Handle(ctx context.Context, cmd C) (R, error) {
	start := time.Now()
	r, err := o.h.Handle(ctx, cmd)
	if o.b.Observer != nil {
		o.b.Observer.ObserveCommand(o.name, domain.Outcome(err), time.Since(start))
	}
	return r, err
}

// NewUUID returns a new UUID v7 (time-ordered).
func NewUUID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

// newID returns a new aggregate id: the next of the request's attempt when
// it is idempotent (the same on every attempt), else a fresh one.
func (b *base) newID(ctx context.Context) (string, error) {
	if a := domain.AttemptFrom(ctx); a != nil {
		return a.NewID("id"), nil
	}
	return b.NewID()
}

// base carries the dependencies every handler shares.
type base struct {
	Deps
	tags tagRefs // how tag references resolved, where that is for good
}

// newBase returns the base of the handlers a constructor (named for its
// panic) makes over deps, with their defaults filled in.
func newBase(constructor string, deps Deps) *base {
	if deps.Store == nil || deps.Hasher == nil {
		panic("commands: " + constructor + " with a nil dependency")
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.NewID == nil {
		deps.NewID = NewUUID
	}
	if deps.ClaimGrace == 0 {
		deps.ClaimGrace = 30 * time.Second
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &base{Deps: deps}
}

// aggregate is anything folded from its events.
type aggregate interface {
	Apply(domain.Record)
}

// Folder is an EventStore that folds aggregates itself, from a snapshot
// and the events after it where the aggregate keeps snapshots
// (domain.Snapshotter): loading an aggregate then costs the same at any
// age.
type Folder interface {
	LoadInto(ctx context.Context, id domain.StreamID, a domain.Aggregate) (domain.Position, error)
}

// load folds the events of stream id into a.
func (b *base) load(ctx context.Context, id domain.StreamID, a aggregate) (domain.Position, error) {
	if f, ok := b.Store.(Folder); ok {
		return f.LoadInto(ctx, id, a)
	}
	recs, pos, err := b.Store.Load(ctx, id)
	if err != nil {
		return pos, err
	}
	for _, r := range recs {
		a.Apply(r)
	}
	return pos, nil
}

// loadByID loads the aggregate of the stream of id (stream names it); an id
// that cannot exist is notFound.
func loadByID[T any, A interface {
	*T
	aggregate
}](ctx context.Context, b *base, id string, stream func(string) domain.StreamID, notFound error) (A, domain.Position, error) {
	a := A(new(T))
	if !domain.ValidID(id) {
		return a, domain.Position{}, notFound
	}
	pos, err := b.load(ctx, stream(id), a)
	return a, pos, err
}

// changeByID is change on the stream of id (stream names it); an id that
// cannot exist is notFound.
func changeByID[T any, A interface {
	*T
	aggregate
}](ctx context.Context, b *base, id string, stream func(string) domain.StreamID, notFound error, meta domain.Meta, decide func(A) (domain.Event, error)) (A, Result, error) {
	if !domain.ValidID(id) {
		return A(new(T)), Result{}, notFound
	}
	return change(ctx, b, stream(id), meta, decide)
}

// changePair is change on the aggregate of a pair: the actor and a target
// (a favorite is the actor's and an article's, a follow the actor's and
// another user's), each pair a stream of its own (stream names it). It
// loads the target first, and decide sees it beside the pair. The Result
// names the target (its id, and the log sequence of the pair's event, if
// any, for read-your-writes). Returns EUNAUTHORIZED for an anonymous actor.
func changePair[P any, A interface {
	*P
	aggregate
}, T any](ctx context.Context, b *base, actor domain.Actor, targetID string, m domain.Meta,
	load func(context.Context, string) (T, domain.Position, error), stream func(actorID, targetID string) domain.StreamID,
	decide func(A, T, domain.Meta) (domain.Event, error)) (Result, error) {
	if actor.IsAnonymous() {
		return Result{}, domain.ErrAuthRequired
	}
	target, _, err := load(ctx, targetID)
	if err != nil {
		return Result{}, err
	}
	meta := b.meta(actor, m)
	_, res, err := change(ctx, b, stream(actor.ID, targetID), meta, func(p A) (domain.Event, error) {
		return decide(p, target, meta)
	})
	res.ID = targetID
	return res, err
}

// change loads the aggregate of stream sid (into a fresh T), lets decide
// produce its event and appends it expecting the stream where it was
// loaded, retrying from a fresh load on a concurrent change. A nil event
// changes nothing. It returns the aggregate as it stands afterwards.
func change[T any, A interface {
	*T
	aggregate
}](ctx context.Context, b *base, sid domain.StreamID, meta domain.Meta, decide func(A) (domain.Event, error)) (A, Result, error) {
	var out A
	var res Result
	err := retry(ctx, func() error {
		a := A(new(T))
		pos, err := b.load(ctx, sid, a)
		if err != nil {
			return err
		}
		ev, err := decide(a)
		if err != nil {
			return refused(err, sid, pos)
		}
		if ev == nil {
			out, res = a, Result{ID: sid.ID, Seq: pos.Seq, Version: pos.Version}
			return nil
		}
		recs, err := b.Store.Append(ctx, sid, pos, meta, ev)
		if err != nil {
			return err
		}
		for _, r := range recs {
			a.Apply(r)
		}
		out, res = a, resultOf(sid.ID, recs)
		return nil
	})
	return out, res, err
}

// maxAttempts bounds the retries of a command that meets concurrent changes.
const maxAttempts = 50

// retry runs fn until it does not fail with a concurrent change, at most
// maxAttempts times; fn must reload what it decides on at each attempt.
// Between attempts it backs off, exponentially up to 50ms and with jitter,
// so that racing writers spread out. When every attempt conflicted, the
// error wraps domain.ErrConcurrentChange (409).
func retry(ctx context.Context, fn func() error) error {
	var err error
	for i := 0; i < maxAttempts; i++ {
		if err = fn(); !errors.Is(err, domain.ErrConcurrentChange) {
			return err
		}
		d := min(time.Millisecond<<min(i, 6), 50*time.Millisecond)
		d = d/2 + time.Duration(rand.Int64N(int64(d)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
	}
	return err
}

// Result is what a successful command wrote: the stream sequence of its last
// event (for read-your-writes) and the aggregate's version after it.
type Result struct {
	ID      string
	Seq     uint64
	Version uint64
}

func resultOf(id string, recs []domain.Record) Result {
	if len(recs) == 0 {
		return Result{ID: id}
	}
	last := recs[len(recs)-1]
	return Result{ID: id, Seq: last.Seq, Version: last.Version}
}
