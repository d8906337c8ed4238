// Package mock holds function-field fakes of what the API server depends
// on, for tests of its handlers without a log or a database: each method
// calls the field of its name, and a test sets only the fields its requests
// reach (a call to a field left nil panics, which the server answers 500,
// so a test sees a read it did not expect).
package mock

import (
	"context"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/comments"
	"inkwell/readmodels/follows"
	"inkwell/readmodels/personal"
	"inkwell/readmodels/users"
)

// Handler is a command or query handler made of a function.
type Handler[C, R any] func(ctx context.Context, c C) (R, error)

// Handle implements commands.Handler and queries.Handler.
func (f Handler[C, R]) Handle(ctx context.Context, c C) (R, error) { return f(ctx, c) }

// ReadModels fakes every read model the API queries (api.Users,
// api.Articles, api.Categories, api.Tags, api.AdminUsers, api.PersonalData,
// api.Comments)
// and the wait for them to show a write (api.ReadModels).
type ReadModels struct {
	UserByIDFn          func(ctx context.Context, id string) (users.User, error)
	ListUsersFn         func(ctx context.Context, f users.Filter) (readmodels.ListPage[users.User], error)
	UserIDFn            func(ctx context.Context, ref string) (string, error)
	ListArticlesFn      func(ctx context.Context, f articles.Filter) (readmodels.ListPage[articles.View], error)
	ArticleByRefFn      func(ctx context.Context, viewer domain.Actor, ref string) (articles.View, error)
	ArticleIDFn         func(ctx context.Context, ref string) (string, error)
	ListCategoriesFn    func(ctx context.Context, p readmodels.Page) (readmodels.ListPage[articles.Category], error)
	CategoryByRefFn     func(ctx context.Context, ref string) (articles.Category, error)
	CategoryIDFn        func(ctx context.Context, ref string) (string, error)
	ListTagsFn          func(ctx context.Context, search string, p readmodels.Page) (readmodels.ListPage[articles.Tag], error)
	TagByRefFn          func(ctx context.Context, ref string) (articles.Tag, error)
	WaitForFn           func(ctx context.Context, aggregateType string, seq uint64) error
	WaitForProjectionFn func(ctx context.Context, name string, seq uint64) error
	SessionsOfFn        func(ctx context.Context, userID string, after *personal.Session, limit int) ([]personal.Session, error)
	ArticleKeysOfFn     func(ctx context.Context, authorID string, after *articles.Key, limit int) ([]articles.Key, error)
	ArticlesByIDsFn     func(ctx context.Context, viewer domain.Actor, ids []string) ([]articles.View, error)
	ProfileByUsernameFn func(ctx context.Context, viewer domain.Actor, ref string) (follows.Profile, error)
	ProfilesByIDsFn     func(ctx context.Context, viewer domain.Actor, ids []string) (map[string]follows.Profile, error)
	FeedFn              func(ctx context.Context, viewerID string, page readmodels.Page) (readmodels.ListPage[follows.FeedEntry], error)
	FavoritesOfFn       func(ctx context.Context, userID, after string, limit int) ([]articles.Favorite, error)
	FollowingOfFn       func(ctx context.Context, userID, after string, limit int) ([]follows.Follow, error)
	EventSeqsOfFn       func(ctx context.Context, userID string, after uint64, limit int) ([]uint64, error)
	ListCommentsFn      func(ctx context.Context, f comments.Filter) (readmodels.ListPage[comments.Comment], error)
	CommentByIDFn       func(ctx context.Context, viewer domain.Actor, articleID, id string) (comments.Comment, error)
	CommentsOfFn        func(ctx context.Context, authorID string, after *comments.Key, limit int) ([]comments.Comment, error)
	CommentIDByNumberFn func(ctx context.Context, number int64) (string, error)
}

func (m *ReadModels) UserByID(ctx context.Context, id string) (users.User, error) {
	return m.UserByIDFn(ctx, id)
}

func (m *ReadModels) ListUsers(ctx context.Context, f users.Filter) (readmodels.ListPage[users.User], error) {
	return m.ListUsersFn(ctx, f)
}

func (m *ReadModels) UserID(ctx context.Context, ref string) (string, error) {
	return m.UserIDFn(ctx, ref)
}

func (m *ReadModels) ListArticles(ctx context.Context, f articles.Filter) (readmodels.ListPage[articles.View], error) {
	return m.ListArticlesFn(ctx, f)
}

func (m *ReadModels) ArticleByRef(ctx context.Context, viewer domain.Actor, ref string) (articles.View, error) {
	return m.ArticleByRefFn(ctx, viewer, ref)
}

func (m *ReadModels) ArticleID(ctx context.Context, ref string) (string, error) {
	return m.ArticleIDFn(ctx, ref)
}

func (m *ReadModels) ListCategories(ctx context.Context, p readmodels.Page) (readmodels.ListPage[articles.Category], error) {
	return m.ListCategoriesFn(ctx, p)
}

func (m *ReadModels) CategoryByRef(ctx context.Context, ref string) (articles.Category, error) {
	return m.CategoryByRefFn(ctx, ref)
}

func (m *ReadModels) CategoryID(ctx context.Context, ref string) (string, error) {
	return m.CategoryIDFn(ctx, ref)
}

func (m *ReadModels) ListTags(ctx context.Context, search string, p readmodels.Page) (readmodels.ListPage[articles.Tag], error) {
	return m.ListTagsFn(ctx, search, p)
}

func (m *ReadModels) TagByRef(ctx context.Context, ref string) (articles.Tag, error) {
	return m.TagByRefFn(ctx, ref)
}

// TagID answers with the id of the tag TagByRefFn returns.
func (m *ReadModels) TagID(ctx context.Context, ref string) (string, error) {
	t, err := m.TagByRefFn(ctx, ref)
	return t.ID, err
}

func (m *ReadModels) WaitFor(ctx context.Context, aggregateType string, seq uint64) error {
	return m.WaitForFn(ctx, aggregateType, seq)
}

func (m *ReadModels) WaitForProjection(ctx context.Context, name string, seq uint64) error {
	return m.WaitForProjectionFn(ctx, name, seq)
}

func (m *ReadModels) SessionsOf(ctx context.Context, userID string, after *personal.Session, limit int) ([]personal.Session, error) {
	return m.SessionsOfFn(ctx, userID, after, limit)
}

func (m *ReadModels) ArticleKeysOf(ctx context.Context, authorID string, after *articles.Key, limit int) ([]articles.Key, error) {
	return m.ArticleKeysOfFn(ctx, authorID, after, limit)
}

func (m *ReadModels) EventSeqsOf(ctx context.Context, userID string, after uint64, limit int) ([]uint64, error) {
	return m.EventSeqsOfFn(ctx, userID, after, limit)
}

func (m *ReadModels) ListComments(ctx context.Context, f comments.Filter) (readmodels.ListPage[comments.Comment], error) {
	return m.ListCommentsFn(ctx, f)
}

func (m *ReadModels) CommentByID(ctx context.Context, viewer domain.Actor, articleID, id string) (comments.Comment, error) {
	return m.CommentByIDFn(ctx, viewer, articleID, id)
}

func (m *ReadModels) CommentsOf(ctx context.Context, authorID string, after *comments.Key, limit int) ([]comments.Comment, error) {
	return m.CommentsOfFn(ctx, authorID, after, limit)
}

func (m *ReadModels) CommentIDByNumber(ctx context.Context, number int64) (string, error) {
	return m.CommentIDByNumberFn(ctx, number)
}

// EventLog fakes the event log as the API reads it (api.EventLog).
type EventLog struct {
	FollowFn     func(ctx context.Context, from uint64, subjects ...string) (*eventstore.Cursor, error)
	HeadFn       func(ctx context.Context) (uint64, error)
	GetFn        func(ctx context.Context, seq uint64) (domain.Record, error)
	SubjectsOfFn func(aggregateTypes ...string) []string
}

func (l *EventLog) Follow(ctx context.Context, from uint64, subjects ...string) (*eventstore.Cursor, error) {
	return l.FollowFn(ctx, from, subjects...)
}

func (l *EventLog) Head(ctx context.Context) (uint64, error) { return l.HeadFn(ctx) }

func (l *EventLog) Get(ctx context.Context, seq uint64) (domain.Record, error) {
	return l.GetFn(ctx, seq)
}

func (l *EventLog) SubjectsOf(aggregateTypes ...string) []string {
	return l.SubjectsOfFn(aggregateTypes...)
}

func (m *ReadModels) ArticlesByIDs(ctx context.Context, viewer domain.Actor, ids []string) ([]articles.View, error) {
	return m.ArticlesByIDsFn(ctx, viewer, ids)
}

func (m *ReadModels) ProfileByUsername(ctx context.Context, viewer domain.Actor, ref string) (follows.Profile, error) {
	return m.ProfileByUsernameFn(ctx, viewer, ref)
}

func (m *ReadModels) ProfilesByIDs(ctx context.Context, viewer domain.Actor, ids []string) (map[string]follows.Profile, error) {
	return m.ProfilesByIDsFn(ctx, viewer, ids)
}

func (m *ReadModels) Feed(ctx context.Context, viewerID string, page readmodels.Page) (readmodels.ListPage[follows.FeedEntry], error) {
	return m.FeedFn(ctx, viewerID, page)
}

func (m *ReadModels) FavoritesOf(ctx context.Context, userID, after string, limit int) ([]articles.Favorite, error) {
	return m.FavoritesOfFn(ctx, userID, after, limit)
}

func (m *ReadModels) FollowingOf(ctx context.Context, userID, after string, limit int) ([]follows.Follow, error) {
	return m.FollowingOfFn(ctx, userID, after, limit)
}
