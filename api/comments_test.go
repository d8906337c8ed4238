package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"inkwell/api"
	"inkwell/api/mock"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels"
	"inkwell/readmodels/comments"
)

const commentID = "0190f3f5-0000-7000-8000-0000000000c1"

func aComment() comments.Comment {
	return comments.Comment{ID: commentID, ArticleID: articleID, Body: "Nice.", CreatedAt: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC),
		Author: comments.AuthorRef{ID: writerID, Username: "writer", FirstName: "Wri"}}
}

// commentsServer is a fake server with comments, whose article refs all
// name articleID.
func commentsServer(t *testing.T, configure func(f *fakeServer)) *fakeServer {
	return newFakeServer(t, func(f *fakeServer) {
		f.deps.Comments = f.reads
		f.reads.ArticleIDFn = func(_ context.Context, ref string) (string, error) {
			if ref == "gone" {
				return "", domain.ErrArticleNotFound
			}
			return articleID, nil
		}
		if configure != nil {
			configure(f)
		}
	})
}

// Adding a comment: the author is the caller, the article the route's; 201
// with the comment as the read model shows it and where it lives, 202 when
// the read model lags, and nothing reaches the command for a bad request.
func TestCommentAdd(t *testing.T) {
	t.Parallel()
	var added []commands.AddComment
	lag := false
	f := commentsServer(t, func(f *fakeServer) {
		f.cmds.AddComment = mock.Handler[commands.AddComment, commands.Result](func(_ context.Context, c commands.AddComment) (commands.Result, error) {
			added = append(added, c)
			return commands.Result{ID: commentID, Seq: 12, Version: 1}, nil
		})
		f.reads.CommentByIDFn = func(_ context.Context, viewer domain.Actor, article, id string) (comments.Comment, error) {
			if viewer.ID != writerID || article != articleID || id != commentID {
				t.Errorf("read back %q %q as %q", article, id, viewer.ID)
			}
			return aComment(), nil
		}
		f.reads.WaitForFn = func(_ context.Context, typ string, seq uint64) error {
			if typ != domain.AggregateComment || seq != 12 {
				t.Errorf("waited for %s %d", typ, seq)
			}
			if lag {
				return context.DeadlineExceeded
			}
			return nil
		}
	})
	for _, path := range []string{"/api/articles/my-article/comments/", "/api/article/1/comments"} {
		n := len(added)
		if rec := f.do("POST", path, `{"body": "Nice."}`, false); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", path, rec.Code)
		}
		for _, body := range []string{`{}`, `{"body": ""}`, `{"body": "x", "title": "y"}`} {
			rec := f.do("POST", path, body, true)
			if rec.Code != http.StatusUnprocessableEntity || len(decode[api.Problem](t, rec).Errors) == 0 {
				t.Errorf("%s %s: %d %s, want 422 naming the field", path, body, rec.Code, rec.Body)
			}
		}
		if len(added) != n {
			t.Fatalf("refused requests reached the command %d times: %+v", len(added), added)
		}
		rec := f.do("POST", path, `{"body": "Nice."}`, true)
		if rec.Code != http.StatusCreated {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		if loc := rec.Header().Get("Location"); loc != "/api/articles/"+articleID+"/comments/"+commentID+"/" {
			t.Errorf("Location %q", loc)
		}
		got := decode[api.CommentResponse](t, rec)
		if got.ID != commentID || got.Body != "Nice." || got.Author.Username != "writer" || got.ArticleID != articleID {
			t.Errorf("answer %+v", got)
		}
		if c := added[len(added)-1]; c.Actor.ID != writerID || c.ArticleID != articleID || c.Body != "Nice." {
			t.Errorf("command %+v", c)
		}
	}
	if rec := f.do("POST", "/api/articles/gone/comments/", `{"body": "x"}`, true); rec.Code != http.StatusNotFound {
		t.Errorf("an unknown article: %d", rec.Code)
	}
	lag = true
	if rec := f.do("POST", "/api/articles/my-article/comments/", `{"body": "Nice."}`, true); rec.Code != http.StatusAccepted || rec.Header().Get("Location") == "" {
		t.Errorf("the read model behind: %d %s", rec.Code, rec.Body)
	}
}

// Reading: the list and one comment, as the caller may see the article;
// deleting: 204, or the command's refusal.
func TestCommentReadAndDelete(t *testing.T) {
	t.Parallel()
	var listed []comments.Filter
	var deleted []commands.DeleteComment
	f := commentsServer(t, func(f *fakeServer) {
		f.reads.ListCommentsFn = func(_ context.Context, cf comments.Filter) (readmodels.ListPage[comments.Comment], error) {
			listed = append(listed, cf)
			return readmodels.ListPage[comments.Comment]{Items: []comments.Comment{aComment()}, Count: 1, CountExact: true}, nil
		}
		f.reads.CommentByIDFn = func(_ context.Context, _ domain.Actor, _, id string) (comments.Comment, error) {
			if id != commentID {
				return comments.Comment{}, domain.ErrCommentNotFound
			}
			return aComment(), nil
		}
		f.cmds.DeleteComment = mock.Handler[commands.DeleteComment, commands.Result](func(_ context.Context, c commands.DeleteComment) (commands.Result, error) {
			deleted = append(deleted, c)
			if c.ID != commentID {
				return commands.Result{}, domain.ErrNotCommentOwner
			}
			return commands.Result{ID: c.ID, Seq: 14, Version: 2}, nil
		})
	})
	rec := f.do("GET", "/api/articles/my-article/comments/?page_size=5", "", false)
	page := decode[api.PageResponse[api.CommentResponse]](t, rec)
	if rec.Code != http.StatusOK || len(page.Items) != 1 || page.Count != 1 || page.Next != nil {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if l := listed[0]; l.ArticleID != articleID || l.Page.Limit != 5 || !l.Viewer.IsAnonymous() {
		t.Errorf("filter %+v", l)
	}
	f.do("GET", "/api/article/1/comments/?cursor=abc", "", true)
	if l := listed[1]; l.Viewer.ID != writerID || l.Page.Cursor != "abc" {
		t.Errorf("filter %+v", l)
	}
	if rec := f.do("GET", "/api/articles/my-article/comments/?page=0", "", false); rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("page=0: %d", rec.Code)
	}
	if rec := f.do("GET", "/api/articles/my-article/comments/"+commentID+"/", "", false); rec.Code != http.StatusOK || decode[api.CommentResponse](t, rec).ID != commentID {
		t.Errorf("get: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do("GET", "/api/articles/my-article/comments/nope/", "", false); rec.Code != http.StatusNotFound {
		t.Errorf("get an unknown comment: %d", rec.Code)
	}
	if rec := f.do("DELETE", "/api/articles/my-article/comments/"+commentID+"/", "", false); rec.Code != http.StatusUnauthorized {
		t.Errorf("delete without a token: %d", rec.Code)
	}
	if rec := f.do("DELETE", "/api/article/1/comments/"+commentID, "", true); rec.Code != http.StatusNoContent {
		t.Errorf("delete: %d %s", rec.Code, rec.Body)
	}
	if d := deleted[0]; d.Actor.ID != writerID || d.ArticleID != articleID || d.ID != commentID {
		t.Errorf("command %+v", d)
	}
	if rec := f.do("DELETE", "/api/articles/my-article/comments/other/", "", true); rec.Code != http.StatusForbidden {
		t.Errorf("delete refused: %d", rec.Code)
	}
}

// A server without the comments read model answers 503, not a panic.
func TestCommentsUnavailable(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t, nil)
	rec := f.do("GET", "/api/articles/x/comments/", "", false)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("%d %s", rec.Code, rec.Body)
	}
}
