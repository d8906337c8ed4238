package domain_test

import (
	"strings"
	"testing"

	"inkwell/domain"
)

// articleOf returns the article a1 by "author", published or a draft, or
// deleted.
func articleOf(published, deleted bool) *domain.Article {
	var a domain.Article
	events := []domain.Event{created(published)}
	if deleted {
		events = append(events, &domain.ArticleDeleted{})
	}
	given(&a, events...)
	return &a
}

func TestCommentAdd(t *testing.T) {
	t.Parallel()
	published, draft := articleOf(true, false), articleOf(false, false)
	add := func(actor domain.Actor, a *domain.Article, body string) func(c *domain.Comment) (domain.Event, error) {
		return func(c *domain.Comment) (domain.Event, error) { return c.Add(actor, "c1", a, body, now) }
	}
	added := func(author, body string) *domain.CommentAdded {
		return &domain.CommentAdded{ArticleID: "a1", AuthorID: author, Body: body, CreatedAt: now}
	}
	checkDecisions(t, domain.ErrorCode, []decision[domain.Comment, string]{
		{"anyone signed in comments a published article", nil, add(other, published, "Nice."), added("other", "Nice."), ""},
		{"the body is trimmed", nil, add(other, published, "  Nice.\n\n"), added("other", "Nice."), ""},
		{"lines and tabs are kept inside", nil, add(other, published, "a\n\tb"), added("other", "a\n\tb"), ""},
		{"the author comments their draft", nil, add(author, draft, "Note"), added("author", "Note"), ""},
		{"staff comment a draft", nil, add(staff, draft, "Note"), added("staff", "Note"), ""},
		{"another's draft is not found", nil, add(other, draft, "Hi"), nil, domain.ENOTFOUND},
		{"a deleted article is not found", nil, add(author, articleOf(true, true), "Hi"), nil, domain.ENOTFOUND},
		{"no article is not found", nil, add(author, &domain.Article{}, "Hi"), nil, domain.ENOTFOUND},
		{"anonymous", nil, add(nobody, published, "Hi"), nil, domain.EUNAUTHORIZED},
		{"empty body", nil, add(other, published, ""), nil, domain.EINVALID},
		{"blank body", nil, add(other, published, " \n\t "), nil, domain.EINVALID},
		{"10,000 characters", nil, add(other, published, strings.Repeat("é", 10000)), added("other", strings.Repeat("é", 10000)), ""},
		{"over 10,000 characters", nil, add(other, published, strings.Repeat("é", 10001)), nil, domain.EINVALID},
		{"a control character", nil, add(other, published, "a\x00b"), nil, domain.EINVALID},
		{"invalid UTF-8", nil, add(other, published, "a\xffb"), nil, domain.EINVALID},
		{"an id already used", []domain.Event{added("other", "x")}, add(other, published, "Hi"), nil, domain.ECONFLICT},
		{"a 404 before a 422", nil, add(other, draft, ""), nil, domain.ENOTFOUND},
	})
}

func TestCommentBodyProblemNamesTheField(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"", "  ", strings.Repeat("x", domain.MaxCommentLen+1), "\x07"} {
		if domain.ErrorFields(domain.ValidateCommentBody(body))["body"] == "" {
			t.Errorf("body %.20q: the problem does not name body", body)
		}
	}
}

func TestCommentDelete(t *testing.T) {
	t.Parallel()
	published, draft := articleOf(true, false), articleOf(false, false)
	byOther := []domain.Event{&domain.CommentAdded{ArticleID: "a1", AuthorID: "other", Body: "Hi", CreatedAt: now}}
	deleted := append(byOther[:1:1], &domain.CommentDeleted{})
	onAnother := []domain.Event{&domain.CommentAdded{ArticleID: "a2", AuthorID: "other", Body: "Hi", CreatedAt: now}}
	third := domain.Actor{ID: "third"}
	del := func(actor domain.Actor, a *domain.Article) func(c *domain.Comment) (domain.Event, error) {
		return func(c *domain.Comment) (domain.Event, error) { return c.Delete(actor, a) }
	}
	checkDecisions(t, domain.ErrorCode, []decision[domain.Comment, string]{
		{"its author", byOther, del(other, published), &domain.CommentDeleted{}, ""},
		{"the article's author", byOther, del(author, published), &domain.CommentDeleted{}, ""},
		{"staff", byOther, del(staff, published), &domain.CommentDeleted{}, ""},
		{"anyone else is forbidden", byOther, del(third, published), nil, domain.EFORBIDDEN},
		{"anonymous", byOther, del(nobody, published), nil, domain.EUNAUTHORIZED},
		{"no such comment", nil, del(staff, published), nil, domain.ENOTFOUND},
		{"a deleted comment", deleted, del(other, published), nil, domain.ENOTFOUND},
		{"a comment of another article", onAnother, del(staff, published), nil, domain.ENOTFOUND},
		{"on a draft the actor cannot see", byOther, del(other, draft), nil, domain.ENOTFOUND},
		{"on a deleted article", byOther, del(staff, articleOf(true, true)), nil, domain.ENOTFOUND},
	})
}

func TestCommentDeleteForAuthorRemoval(t *testing.T) {
	t.Parallel()
	var c domain.Comment
	given(&c, &domain.CommentAdded{ArticleID: "a1", AuthorID: "other", Body: "Hi", CreatedAt: now})
	if ev := c.DeleteForAuthorRemoval("author"); ev != nil {
		t.Fatalf("another author's removal deletes the comment: %#v", ev)
	}
	ev := c.DeleteForAuthorRemoval("other")
	if d, ok := ev.(*domain.CommentDeleted); !ok || d.Reason != "author deleted" {
		t.Fatalf("got %#v", ev)
	}
	c.Apply(domain.Record{Event: ev, Version: 2})
	if ev := c.DeleteForAuthorRemoval("other"); ev != nil || c.Live() {
		t.Fatalf("a deleted comment is deleted again: %#v", ev)
	}
}
