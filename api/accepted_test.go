package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"inkwell/api"
	"inkwell/api/mock"
	"inkwell/commands"
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
