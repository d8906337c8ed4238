package commands_test

import (
	"context"
	"errors"
	"testing"

	"inkwell/commands"
	"inkwell/domain"
)

// commentOf rebuilds the comment id from its stream, and returns its
// events too.
func (f *fixture) commentOf(t *testing.T, id string) (*domain.Comment, []domain.Record) {
	t.Helper()
	return rebuild[domain.Comment](t, f.store, domain.CommentStream(id))
}

// Comments are decided against the article as the log holds it: who may
// add (anyone signed in who can see the article), who may delete (the
// comment's author, the article's author, staff), and a refusal writes
// nothing.
func TestComments(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	staff := f.superuser(t, "editor")
	actor := func(name string) domain.Actor {
		return domain.Actor{ID: f.mustRegister(t, name, name+"@example.com").ID}
	}
	writer, reader, third := actor("writer"), actor("reader"), actor("third")
	article := func(published bool) string {
		res, err := f.cmds.CreateArticle.Handle(ctx, commands.CreateArticle{Actor: writer, Input: domain.ArticleInput{Title: "T", Content: "c", IsPublished: published}})
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	published, draft := article(true), article(false)
	add := func(a domain.Actor, articleID, body string) (commands.Result, error) {
		return f.cmds.AddComment.Handle(ctx, commands.AddComment{Actor: a, ArticleID: articleID, Body: body})
	}

	res, err := add(reader, published, "  First!  ")
	if err != nil {
		t.Fatal(err)
	}
	c, recs := f.commentOf(t, res.ID)
	if e, ok := recs[0].Event.(*domain.CommentAdded); !ok || e.Body != "First!" || e.AuthorID != reader.ID || e.ArticleID != published || !c.Live() {
		t.Fatalf("recorded %#v", recs[0].Event)
	}
	if res.Seq == 0 || res.Version != 1 || !domain.ValidID(res.ID) {
		t.Fatalf("result %+v", res)
	}

	before := f.head(t)
	for _, tc := range []struct {
		name      string
		actor     domain.Actor
		articleID string
		body      string
		code      string
	}{
		{"anonymous", domain.Actor{}, published, "x", domain.EUNAUTHORIZED},
		{"another's draft", reader, draft, "x", domain.ENOTFOUND},
		{"no such article", reader, "0190f3f5-0000-7000-8000-000000000000", "x", domain.ENOTFOUND},
		{"not an id", reader, "nope", "x", domain.ENOTFOUND},
		{"empty body", reader, published, " ", domain.EINVALID},
	} {
		_, err := add(tc.actor, tc.articleID, tc.body)
		if domain.ErrorCode(err) != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	if _, err := add(staff, draft, "staff sees drafts"); err != nil {
		t.Errorf("staff on a draft: %v", err)
	}
	if _, err := add(writer, draft, "my own draft"); err != nil {
		t.Errorf("the author on their draft: %v", err)
	}
	if h := f.head(t); h != before+2 {
		t.Fatalf("the refusals appended: head %d, want %d", h, before+2)
	}

	del := func(a domain.Actor, articleID, id string) error {
		_, err := f.cmds.DeleteComment.Handle(ctx, commands.DeleteComment{Actor: a, ArticleID: articleID, ID: id})
		return err
	}
	// Refused: someone else, another article, an unknown comment.
	if err := del(third, published, res.ID); domain.ErrorCode(err) != domain.EFORBIDDEN {
		t.Errorf("a third user deletes: %v", err)
	}
	if err := del(reader, draft, res.ID); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("through a draft the reader cannot see: %v", err)
	}
	if err := del(staff, draft, res.ID); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("through another article: %v", err)
	}
	if err := del(staff, published, "0190f3f5-0000-7000-8000-000000000000"); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Errorf("unknown comment: %v", err)
	}
	// Allowed: each of the three roles on a comment of its own.
	for _, a := range []domain.Actor{reader, writer, staff} {
		r, err := add(reader, published, "to delete")
		if err != nil {
			t.Fatal(err)
		}
		if err := del(a, published, r.ID); err != nil {
			t.Errorf("delete by %s: %v", a.ID, err)
		}
		c, recs := f.commentOf(t, r.ID)
		if c.Live() || len(recs) != 2 {
			t.Errorf("after the delete by %s: live %v, %d events", a.ID, c.Live(), len(recs))
		}
		if err := del(a, published, r.ID); domain.ErrorCode(err) != domain.ENOTFOUND {
			t.Errorf("deleted twice: %v", err)
		}
	}

	// The cascade's command: only the named author's comment, once.
	if _, err := f.cmds.DeleteAuthorsComment.Handle(ctx, commands.DeleteAuthorsComment{CommentID: res.ID, AuthorID: third.ID}); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.commentOf(t, res.ID); !c.Live() {
		t.Fatal("another author's removal deleted the comment")
	}
	for range 2 {
		if _, err := f.cmds.DeleteAuthorsComment.Handle(ctx, commands.DeleteAuthorsComment{CommentID: res.ID, AuthorID: reader.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if _, recs := f.commentOf(t, res.ID); len(recs) != 2 || recs[1].Event.(*domain.CommentDeleted).Reason != "author deleted" || recs[1].ActorID != domain.SystemActorID {
		t.Fatalf("the cascade's deletion: %+v", recs)
	}

	// A refusal decided against the log names the stream it was decided on.
	_, err = add(reader, draft, "x")
	var refusal *commands.Refusal
	if !errors.As(err, &refusal) || refusal.Stream != domain.ArticleStream(draft) {
		t.Fatalf("refusal %v", err)
	}
}
