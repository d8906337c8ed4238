package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"inkwell/api"
	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/queries"
	"inkwell/readmodels"
)

// laggingModels never catch up: every wait times out.
type laggingModels struct{}

func (laggingModels) WaitFor(ctx context.Context, _ string, _ uint64) error {
	<-ctx.Done()
	return ctx.Err()
}

// noReads fails every read: a write whose read models lag must not read.
type noReads struct{ t *testing.T }

func (n noReads) fail() error { n.t.Error("the read model was read"); return domain.ErrArticleNotFound }
func (n noReads) ListArticles(context.Context, readmodels.ArticleFilter) (readmodels.ListPage[readmodels.ArticleView], error) {
	return readmodels.ListPage[readmodels.ArticleView]{}, n.fail()
}
func (n noReads) ArticleByRef(context.Context, domain.Actor, string) (readmodels.ArticleView, error) {
	return readmodels.ArticleView{}, n.fail()
}
func (n noReads) ArticleID(_ context.Context, ref string) (string, error) { return ref, nil }
func (n noReads) ListCategories(context.Context, readmodels.Page) (readmodels.ListPage[readmodels.Category], error) {
	return readmodels.ListPage[readmodels.Category]{}, n.fail()
}
func (n noReads) CategoryByRef(context.Context, string) (readmodels.Category, error) {
	return readmodels.Category{}, n.fail()
}
func (n noReads) CategoryID(_ context.Context, ref string) (string, error) { return ref, nil }
func (n noReads) ListTags(context.Context, string, readmodels.Page) (readmodels.ListPage[readmodels.Tag], error) {
	return readmodels.ListPage[readmodels.Tag]{}, n.fail()
}
func (n noReads) TagByRef(context.Context, string) (readmodels.Tag, error) {
	return readmodels.Tag{}, n.fail()
}
func (n noReads) UserByID(context.Context, string) (readmodels.User, error) {
	return readmodels.User{}, n.fail()
}
func (n noReads) ListUsers(context.Context, readmodels.UserFilter) (readmodels.ListPage[readmodels.User], error) {
	return readmodels.ListPage[readmodels.User]{}, n.fail()
}
func (n noReads) UserID(_ context.Context, ref string) (string, error) { return ref, nil }

type handlerFunc[C, R any] func(context.Context, C) (R, error)

func (f handlerFunc[C, R]) Handle(ctx context.Context, c C) (R, error) { return f(ctx, c) }

// A write the read models do not show in time is answered 202 with where to
// read it, not with an error that would invite the client to repeat it.
func TestWriteAcceptedWhenTheReadModelLags(t *testing.T) {
	keys, _, err := auth.LoadOrGenerateKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(keys, auth.DefaultTokenConfig(), nil)
	var user domain.User
	user.Apply(domain.Record{Version: 1, Seq: 1, Event: &domain.UserRegistered{UserID: "0190f3f5-0000-7000-8000-000000000001", Username: "writer", IsActive: true}})
	const articleID = "0190f3f5-0000-7000-8000-0000000000a1"
	qs := &queries.Queries{
		Authenticate: handlerFunc[queries.Authenticate, *domain.User](func(context.Context, queries.Authenticate) (*domain.User, error) {
			return &user, nil
		}),
	}
	cmds := &commands.Handlers{
		CreateArticle: handlerFunc[commands.CreateArticle, commands.Result](func(_ context.Context, c commands.CreateArticle) (commands.Result, error) {
			if c.Actor.ID != user.ID() {
				t.Errorf("created by %q", c.Actor.ID)
			}
			return commands.Result{ID: articleID, Seq: 42, Version: 1}, nil
		}),
	}
	reads := noReads{t}
	srv := api.NewServer(api.Deps{
		Commands: cmds, Queries: qs, Users: reads, Articles: reads, Categories: reads, Tags: reads, AdminUsers: reads, ReadModels: laggingModels{},
		Tokens: tokens, Keys: keys, ReadYourWritesTimeout: 20 * time.Millisecond,
	})
	access, err := tokens.IssueAccess(user.ID(), "0190f3f5-0000-7000-8000-0000000000e1", auth.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("POST", "/api/articles/", strings.NewReader(`{"title": "Lagging"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+access.Token)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)

	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/articles/"+articleID+"/" {
		t.Fatalf("Location %q", loc)
	}
	var body api.AcceptedResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.ID != articleID || body.Version != 1 || body.Detail == "" {
		t.Fatalf("body %s (%v)", rec.Body, err)
	}
}
