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
}

// Handlers holds every command handler.
type Handlers struct {
	Register    RegisterHandler
	Login       LoginHandler
	CurrentUser CurrentUserHandler

	StartSession   StartSessionHandler
	Authenticate   AuthenticateHandler
	Refresh        RefreshHandler
	Logout         LogoutHandler
	LogoutAll      LogoutAllHandler
	ChangePassword ChangePasswordHandler

	CreateArticle    CreateArticleHandler
	UpdateArticle    UpdateArticleHandler
	DeleteArticle    DeleteArticleHandler
	PublishArticle   PublishArticleHandler
	UnpublishArticle UnpublishArticleHandler
	ArticleHistory   ArticleHistoryHandler

	CreateCategory CreateCategoryHandler
	UpdateCategory UpdateCategoryHandler
	DeleteCategory DeleteCategoryHandler
	CreateTag      CreateTagHandler

	UpdateUser    UpdateUserHandler
	DeleteUser    DeleteUserHandler
	UpdateProfile UpdateProfileHandler
	// DeleteAuthorsArticle is issued by the user-deletion cascade.
	DeleteAuthorsArticle DeleteAuthorsArticleHandler
}

// New returns the command handlers over deps.
func New(deps Deps) *Handlers {
	if deps.Store == nil || deps.Hasher == nil {
		panic("commands: New with a nil dependency")
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
	b := &base{Deps: deps}
	return &Handlers{
		Register:    RegisterHandler{b},
		Login:       LoginHandler{b},
		CurrentUser: CurrentUserHandler{b},

		StartSession:   StartSessionHandler{b},
		Authenticate:   AuthenticateHandler{b},
		Refresh:        RefreshHandler{b},
		Logout:         LogoutHandler{b},
		LogoutAll:      LogoutAllHandler{b},
		ChangePassword: ChangePasswordHandler{b},

		CreateArticle:    CreateArticleHandler{b},
		UpdateArticle:    UpdateArticleHandler{b},
		DeleteArticle:    DeleteArticleHandler{b},
		PublishArticle:   PublishArticleHandler{b},
		UnpublishArticle: UnpublishArticleHandler{b},
		ArticleHistory:   ArticleHistoryHandler{b},

		CreateCategory: CreateCategoryHandler{b},
		UpdateCategory: UpdateCategoryHandler{b},
		DeleteCategory: DeleteCategoryHandler{b},
		CreateTag:      CreateTagHandler{b},

		UpdateUser:           UpdateUserHandler{b},
		DeleteUser:           DeleteUserHandler{b},
		UpdateProfile:        UpdateProfileHandler{b},
		DeleteAuthorsArticle: DeleteAuthorsArticleHandler{b},
	}
}

// NewUUID returns a new UUID v7 (time-ordered).
func NewUUID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}

// ValidID reports whether s is a UUID as Inkwell writes them.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}

// base carries the dependencies every handler shares.
type base struct {
	Deps
}

// aggregate is anything folded from its events.
type aggregate interface {
	Apply(domain.Record)
}

// load folds the events of stream id into a.
func (b *base) load(ctx context.Context, id domain.StreamID, a aggregate) (domain.Position, error) {
	recs, pos, err := b.Store.Load(ctx, id)
	if err != nil {
		return pos, err
	}
	for _, r := range recs {
		a.Apply(r)
	}
	return pos, nil
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
