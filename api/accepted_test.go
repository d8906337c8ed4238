package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"inkwell/api"
	"inkwell/api/mock"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels/articles"
)

// lagging makes the fake read models never catch up: every wait for a
// write times out.
func lagging(f *fakeServer) {
	f.reads.WaitForFn = func(ctx context.Context, _ string, _ uint64) error {
		<-ctx.Done()
		return ctx.Err()
	}
	f.deps.ReadYourWritesTimeout = 20 * time.Millisecond
}

// A write the read models do not show in time is answered 202 with where to
// read it, not with an error that would invite the client to repeat it. A
// write whose read models lag does not read them (the fake's reads are
// unset: a read would be a 500).
func TestWriteAcceptedWhenTheReadModelLags(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(f *fakeServer) {
		lagging(f)
		f.cmds.CreateArticle = mock.Handler[commands.CreateArticle, commands.Result](func(_ context.Context, c commands.CreateArticle) (commands.Result, error) {
			if c.Actor.ID != writerID {
				t.Errorf("created by %q", c.Actor.ID)
			}
			return commands.Result{ID: articleID, Seq: 42, Version: 1}, nil
		})
	})
	rec := f.do("POST", "/api/articles/", `{"title": "Lagging"}`, true)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/articles/"+articleID+"/" {
		t.Fatalf("Location %q", loc)
	}
	body := decode[api.AcceptedResponse](t, rec)
	if body.ID != articleID || body.Version != 1 || body.Detail == "" {
		t.Fatalf("body %s", rec.Body)
	}
}

// Once the log holds a write's event, nothing that fails after it answers
// the write as failed (a client retrying as told would make it twice): a
// read model that cannot be read back is a 202 with where to read it.
func TestRecordedWriteAcceptedWhenTheReadFails(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, func(f *fakeServer) {
		f.cmds.CreateArticle = mock.Handler[commands.CreateArticle, commands.Result](func(context.Context, commands.CreateArticle) (commands.Result, error) {
			return commands.Result{ID: articleID, Seq: 42, Version: 1}, nil
		})
		f.cmds.UpdateArticle = mock.Handler[commands.UpdateArticle, commands.Result](func(context.Context, commands.UpdateArticle) (commands.Result, error) {
			return commands.Result{ID: articleID, Seq: 43, Version: 2}, nil
		})
		f.reads.ArticleIDFn = func(context.Context, string) (string, error) { return articleID, nil }
		f.reads.ArticleByRefFn = func(context.Context, domain.Actor, string) (articles.View, error) {
			return articles.View{}, domain.Unavailable("database", errors.New("frozen"))
		}
	})
	for _, tc := range []struct{ method, target, body string }{
		{"POST", "/api/articles/", `{"title": "Recorded"}`},
		{"PATCH", "/api/articles/" + articleID + "/", `{"title": "Recorded again"}`},
	} {
		rec := f.do(tc.method, tc.target, tc.body, true)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("%s %s: status %d: %s", tc.method, tc.target, rec.Code, rec.Body)
		}
		if loc := rec.Header().Get("Location"); loc != "/api/articles/"+articleID+"/" {
			t.Fatalf("%s: Location %q", tc.method, loc)
		}
	}
}

// A registration is recorded before its first session starts: a session
// that cannot start leaves a 202 (the account exists; a login gets its
// tokens), never an error that a retry would answer "username taken".
func TestRegistrationAcceptedWhenItsSessionFails(t *testing.T) {
	t.Parallel()
	const newID = "0190f3f5-0000-7000-8000-0000000000b2"
	f := newFakeServer(t, func(f *fakeServer) {
		f.cmds.Register = mock.Handler[commands.Register, commands.Result](func(context.Context, commands.Register) (commands.Result, error) {
			return commands.Result{ID: newID, Seq: 7, Version: 1}, nil
		})
		f.cmds.StartSession = mock.Handler[commands.StartSession, *commands.Session](func(context.Context, commands.StartSession) (*commands.Session, error) {
			return nil, domain.Unavailable("event_log", errors.New("cut off"))
		})
	})
	rec := f.do("POST", "/api/auth/register/", `{"username": "newcomer", "email": "new@example.com", "password": "a long enough password"}`, false)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/auth/me/" {
		t.Fatalf("Location %q", loc)
	}
	if body := decode[api.AcceptedResponse](t, rec); body.ID != newID || body.Detail == "" {
		t.Fatalf("body %s", rec.Body)
	}
}

// A refusal decided against the log (412: the article changed since the
// client read it) is answered once the read models show the state it was
// decided against, so that the client's next read sees why; when they do
// not in time, it is a 503 to retry (nothing was written), never a refusal
// the next read would contradict.
func TestRefusalWaitsForTheReadModels(t *testing.T) {
	t.Parallel()
	refuse := func(f *fakeServer) {
		f.reads.ArticleIDFn = func(context.Context, string) (string, error) { return articleID, nil }
		f.cmds.UpdateArticle = mock.Handler[commands.UpdateArticle, commands.Result](func(context.Context, commands.UpdateArticle) (commands.Result, error) {
			return commands.Result{}, &commands.Refusal{Err: domain.ErrStaleVersion, Stream: domain.ArticleStream(articleID), Seq: 42}
		})
	}
	var waited []uint64
	f := newFakeServer(t, func(f *fakeServer) {
		refuse(f)
		f.reads.WaitForFn = func(_ context.Context, aggregate string, seq uint64) error {
			if aggregate == domain.AggregateArticle {
				waited = append(waited, seq)
			}
			return nil
		}
	})
	rec := f.do("PATCH", "/api/articles/"+articleID+"/", `{"title": "Stale"}`, true)
	if rec.Code != http.StatusPreconditionFailed || len(waited) != 1 || waited[0] != 42 {
		t.Fatalf("status %d after waiting for %v: %s; want 412 after waiting for the article's read model to reach 42", rec.Code, waited, rec.Body)
	}

	f = newFakeServer(t, func(f *fakeServer) { refuse(f); lagging(f) })
	rec = f.do("PATCH", "/api/articles/"+articleID+"/", `{"title": "Stale"}`, true)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d (Retry-After %q): %s; want 503 with Retry-After while the read model lags", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}
