package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore/memstore"
)

// faultyStore is the event log with one injected fault: the next append to
// a stream of type failType stores the event and then reports an unknown
// outcome (an acknowledgement that never came), or, with refuse set, stores
// nothing and reports a certain failure.
type faultyStore struct {
	*memstore.Store
	mu       sync.Mutex
	failType string
	refuse   bool
	injected int
}

func (s *faultyStore) failNext(aggregateType string, refuse bool) {
	s.mu.Lock()
	s.failType, s.refuse = aggregateType, refuse
	s.mu.Unlock()
}

func (s *faultyStore) Append(ctx context.Context, id domain.StreamID, pos domain.Position, meta domain.Meta, events ...domain.Event) ([]domain.Record, error) {
	s.mu.Lock()
	fail, refuse := s.failType == id.Type, s.refuse
	if fail {
		s.failType = ""
		s.injected++
	}
	s.mu.Unlock()
	if !fail {
		return s.Store.Append(ctx, id, pos, meta, events...)
	}
	if refuse {
		return nil, &domain.UnavailableError{Dependency: domain.DependencyEventLog, Err: errors.New("injected: refused")}
	}
	if _, err := s.Store.Append(ctx, id, pos, meta, events...); err != nil {
		return nil, err
	}
	return nil, &domain.UnavailableError{Dependency: domain.DependencyEventLog, OutcomeUnknown: true, Err: errors.New("injected: acknowledgement lost")}
}

func newFaultyFixture(t *testing.T) (*faultyStore, *commands.Handlers, domain.Actor) {
	t.Helper()
	fs := &faultyStore{Store: memstore.New()}
	cmds := commands.New(commands.Deps{Store: fs, Hasher: &fakeHasher{}, ClaimGrace: time.Hour})
	res, err := cmds.Register.Handle(context.Background(), commands.Register{
		User: domain.NewUser{Username: "writer", Email: "writer@example.com"}, Password: "password-writer"})
	if err != nil {
		t.Fatal(err)
	}
	return fs, cmds, domain.Actor{ID: res.ID}
}

func createArticle(ctx context.Context, cmds *commands.Handlers, actor domain.Actor, title string) (commands.Result, error) {
	return cmds.CreateArticle.Handle(ctx, commands.CreateArticle{Actor: actor, Input: domain.ArticleInput{Title: title, Content: "Some words."}})
}

// createdSlug creates an article titled title and returns the slug it got.
func createdSlug(t *testing.T, cmds *commands.Handlers, s *memstore.Store, actor domain.Actor, title string) string {
	t.Helper()
	res, err := createArticle(context.Background(), cmds, actor, title)
	if err != nil {
		t.Fatal(err)
	}
	return slugOf(t, s, res.ID)
}

func slugOf(t *testing.T, s *memstore.Store, id string) string {
	t.Helper()
	a, _ := rebuild[domain.Article](t, s, domain.ArticleStream(id))
	return a.Slug()
}

// A create whose append may have been recorded keeps its slug claim: the
// article may exist (here it does), and a second article must not get the
// same slug. The failure is a 503 (unavailable), never a 409.
func TestUnknownOutcomeKeepsTheClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs, cmds, actor := newFaultyFixture(t)
	fs.failNext(domain.AggregateArticle, false)
	_, err := createArticle(ctx, cmds, actor, "Same Title")
	if !domain.OutcomeUnknown(err) || domain.ErrorCode(err) != domain.EUNAVAILABLE {
		t.Fatalf("got %v, want an unknown outcome (503)", err)
	}
	holder, _, err := fs.Load(ctx, domain.ClaimStream(domain.ClaimArticleSlug, "same-title"))
	if err != nil || len(holder) == 0 {
		t.Fatal("the slug claim is gone")
	}
	if got := createdSlug(t, cmds, fs.Store, actor, "Same Title"); got != "same-title-2" {
		t.Fatalf("second article got slug %q, want same-title-2 (the first one holds same-title)", got)
	}
}

// A create that certainly failed gives its claim up at once.
func TestCertainFailureReleasesTheClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs, cmds, actor := newFaultyFixture(t)
	fs.failNext(domain.AggregateArticle, true)
	if _, err := createArticle(ctx, cmds, actor, "Free Again"); domain.ErrorCode(err) != domain.EUNAVAILABLE || domain.OutcomeUnknown(err) {
		t.Fatalf("got %v, want a certain failure (503)", err)
	}
	if got := createdSlug(t, cmds, fs.Store, actor, "Free Again"); got != "free-again" {
		t.Fatalf("got slug %q, want free-again", got)
	}
}

// An idempotent create retried after an unknown outcome finds the article
// its first attempt created: the same id, no second article.created.
func TestIdempotentRetryFindsTheFirstAttemptsArticle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs, cmds, actor := newFaultyFixture(t)
	seed, started := []byte("retry me"), time.Now()
	fs.failNext(domain.AggregateArticle, false)
	if _, err := createArticle(domain.WithAttempt(ctx, domain.NewAttempt(seed, started)), cmds, actor, "Once"); !domain.OutcomeUnknown(err) {
		t.Fatalf("first attempt: %v, want an unknown outcome", err)
	}
	res, err := createArticle(domain.WithAttempt(ctx, domain.NewAttempt(seed, started)), cmds, actor, "Once")
	if err != nil {
		t.Fatal(err)
	}
	if got := slugOf(t, fs.Store, res.ID); got != "once" {
		t.Fatalf("retry's article has slug %q, want once", got)
	}
	head, err := fs.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for seq := uint64(1); seq <= head; seq++ {
		r, err := fs.Get(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if r.Type == "article.created" {
			created++
			if r.Stream.ID != res.ID {
				t.Errorf("article.created for %s, want only %s", r.Stream.ID, res.ID)
			}
		}
	}
	if created != 1 {
		t.Fatalf("%d article.created events, want 1", created)
	}
}

// Every attempt of an idempotent refresh returns the same next refresh
// token id, and the second does not revoke the session as a reuse of the
// spent token would.
func TestIdempotentRefreshIsNotAReuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fs, cmds, actor := newFaultyFixture(t)
	sess, err := cmds.StartSession.Handle(ctx, commands.StartSession{UserID: actor.ID})
	if err != nil {
		t.Fatal(err)
	}
	seed, started := []byte("refresh once"), time.Now()
	refresh := commands.Refresh{UserID: actor.ID, SessionID: sess.SessionID, RefreshID: sess.RefreshID}
	fs.failNext(domain.AggregateSession, false)
	if _, err := cmds.Refresh.Handle(domain.WithAttempt(ctx, domain.NewAttempt(seed, started)), refresh); !domain.OutcomeUnknown(err) {
		t.Fatalf("first attempt: %v, want an unknown outcome", err)
	}
	next, err := cmds.Refresh.Handle(domain.WithAttempt(ctx, domain.NewAttempt(seed, started)), refresh)
	if err != nil {
		t.Fatalf("retry of the refresh: %v", err)
	}
	// The token the retry returned works: the session is live and spends it.
	if _, err := cmds.Refresh.Handle(ctx, commands.Refresh{UserID: actor.ID, SessionID: sess.SessionID, RefreshID: next.RefreshID}); err != nil {
		t.Fatalf("refresh with the retry's token: %v", err)
	}
}
