package domain

import (
	"strings"
	"time"
)

// AggregateComment is the type of a comment's stream. It is part of the
// log's subject scheme.
const AggregateComment = "comment"

// MaxCommentLen is the longest a comment's body may be, in characters.
const MaxCommentLen = 10000

// CommentAdded records a comment on an article. AuthorID is always the user
// who wrote it.
//
// The body is its author's personal data, sealed with the author's data key
// as an article's text is: an erasure of the author leaves none of it
// readable in the log.
type CommentAdded struct {
	ArticleID string    `json:"article_id"`
	AuthorID  string    `json:"author_id" subject:"true"`
	Body      string    `json:"body" personal:"true"`
	CreatedAt time.Time `json:"created_at"`
}

// EventType implements Event.
func (*CommentAdded) EventType() string { return "comment.added" }

// CommentDeleted records that a comment is gone; it accepts no further
// command. Reason says why when it was not its reader's doing ("author
// deleted": the user-deletion cascade).
type CommentDeleted struct {
	Reason string `json:"reason,omitempty"`
}

// EventType implements Event.
func (*CommentDeleted) EventType() string { return "comment.deleted" }

// CommentStream returns the stream of the comment with the given id.
func CommentStream(id string) StreamID { return StreamID{Type: AggregateComment, ID: id} }

// Errors of comment commands.
var (
	ErrCommentNotFound = Errorf(ENOTFOUND, "Comment not found.")
	ErrNotCommentOwner = Errorf(EFORBIDDEN, "You can only delete your own comments, or comments on your articles.")
)

// Comment is the comment aggregate.
type Comment struct {
	version   uint64
	created   bool
	deleted   bool
	abandoned bool
	// erased is set once an event of the comment reads Erased: its author
	// was erased, and the comment is as good as gone (the erasure's
	// cascade deletes it).
	erased    bool
	articleID string
	authorID  string
}

// Apply folds one event into the comment.
func (c *Comment) Apply(r Record) {
	c.version = r.Version
	if r.Erased {
		c.erased = true
	}
	switch e := r.Event.(type) {
	case *CommentAdded:
		c.created, c.articleID, c.authorID = true, e.ArticleID, e.AuthorID
	case *CommentDeleted:
		c.deleted = true
	case *CreationAbandoned:
		c.abandoned = true
	}
}

// Live reports whether the comment exists and is not deleted.
func (c *Comment) Live() bool { return c.created && !c.deleted }

// ArticleID returns the id of the article the comment is on.
func (c *Comment) ArticleID() string { return c.articleID }

// AuthorID returns the id of the user who wrote the comment.
func (c *Comment) AuthorID() string { return c.authorID }

// Version is the number of events in the comment's stream.
func (c *Comment) Version() uint64 { return c.version }

// ValidateCommentBody checks a comment's body by the rules of an article's
// content (valid UTF-8, no control characters but newlines and tabs), once
// trimmed of surrounding whitespace: required, at most MaxCommentLen
// characters.
func ValidateCommentBody(body string) error {
	p := Problems{}
	b := strings.TrimSpace(body)
	if b == "" {
		p.Add("body", "must not be empty")
		return p.Err()
	}
	checkText(p, "body", &b, MaxCommentLen, true)
	return p.Err()
}

// Add decides a new comment by actor on article, under id. Only an
// authenticated user comments, and only on an article they can see (a
// deleted article, or someone else's draft for all but staff, is not
// found). The body is stored trimmed.
func (c *Comment) Add(actor Actor, id string, article *Article, body string, now time.Time) (Event, error) {
	switch {
	case actor.IsAnonymous():
		return nil, ErrAuthRequired
	case c.version > 0:
		return nil, errIDUsed("comment", id)
	case !article.CanSee(actor):
		return nil, ErrArticleNotFound
	}
	if err := ValidateCommentBody(body); err != nil {
		return nil, err
	}
	return &CommentAdded{ArticleID: article.ID(), AuthorID: actor.ID, Body: strings.TrimSpace(body), CreatedAt: now.UTC()}, nil
}

// Delete decides that the comment, on article, is deleted by actor: its
// author, the article's author or staff. A comment that is not on article,
// or on one actor cannot see, is not found.
func (c *Comment) Delete(actor Actor, article *Article) (Event, error) {
	switch {
	case actor.IsAnonymous():
		return nil, ErrAuthRequired
	case !article.CanSee(actor):
		return nil, ErrArticleNotFound
	case !c.Live() || c.erased || c.articleID != article.ID():
		return nil, ErrCommentNotFound
	case actor.ID != c.authorID && actor.ID != article.AuthorID() && !actor.IsStaff():
		return nil, ErrNotCommentOwner
	}
	return &CommentDeleted{}, nil
}

// DeleteForAuthorRemoval decides that the comment is deleted because its
// author's account was deleted or erased (the rule of their articles).
// Deleting a deleted comment changes nothing.
func (c *Comment) DeleteForAuthorRemoval(authorID string) Event {
	if !c.Live() || c.authorID != authorID {
		return nil
	}
	return &CommentDeleted{Reason: "author deleted"}
}
