package api

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gorilla/mux"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels"
	"inkwell/readmodels/comments"
)

// Comments is the comments read model as the API queries it.
type Comments interface {
	// ListComments returns ENOTFOUND for an article the viewer may not see.
	ListComments(ctx context.Context, f comments.Filter) (readmodels.ListPage[comments.Comment], error)
	// CommentByID returns ENOTFOUND for an article the viewer may not see,
	// or a comment not of that article.
	CommentByID(ctx context.Context, viewer domain.Actor, articleID, id string) (comments.Comment, error)
	// CommentsOf returns up to limit of an author's comments after after
	// (nil: from the first), oldest first (the export).
	CommentsOf(ctx context.Context, authorID string, after *comments.Key, limit int) ([]comments.Comment, error)
	// CommentIDByNumber returns the id of the comment with that number
	// (the Conduit surface's ids); ENOTFOUND if there is none.
	CommentIDByNumber(ctx context.Context, number int64) (string, error)
}

// registerCommentRoutes mounts the comments of the articles under prefix
// (/api/articles, and the tutorial's /api/article).
func (s *Server) registerCommentRoutes(r *mux.Router, prefix string) {
	r.HandleFunc(prefix+"/{ref}/comments/", s.optionalAuth(s.handle(s.handleCommentList))).Methods(http.MethodGet)
	r.HandleFunc(prefix+"/{ref}/comments/", s.authenticated(s.idempotent(s.handle(s.handleCommentAdd)))).Methods(http.MethodPost)
	r.HandleFunc(prefix+"/{ref}/comments/{id}/", s.optionalAuth(s.handle(s.handleCommentGet))).Methods(http.MethodGet)
	r.HandleFunc(prefix+"/{ref}/comments/{id}/", s.authenticated(s.handle(s.handleCommentDelete))).Methods(http.MethodDelete)
}

// CommentResponse is a comment as the API shows it.
type CommentResponse struct {
	ID        string         `json:"id"`
	ArticleID string         `json:"article_id"`
	Author    AuthorResponse `json:"author"`
	Body      string         `json:"body"`
	CreatedAt time.Time      `json:"created_at"`
}

func commentResponse(c comments.Comment) CommentResponse {
	return CommentResponse{
		ID: c.ID, ArticleID: c.ArticleID, Body: c.Body, CreatedAt: c.CreatedAt,
		Author: AuthorResponse{ID: c.Author.ID, Username: c.Author.Username, FirstName: c.Author.FirstName, LastName: c.Author.LastName},
	}
}

// comments returns the comments read model, or 503 on a server without it.
func (s *Server) comments() (Comments, error) {
	if s.Comments == nil {
		return nil, domain.Errorf(domain.EUNAVAILABLE, "Comments are not available.")
	}
	return s.Comments, nil
}

// articleComments returns the comments read model (503 on a server
// without it) and the id of the article of the route (resolve finds it).
func (s *Server) articleComments(r *http.Request, resolve func(*http.Request) (string, error)) (Comments, string, error) {
	cs, err := s.comments()
	if err != nil {
		return nil, "", err
	}
	articleID, err := resolve(r)
	return cs, articleID, err
}

func (s *Server) handleCommentList(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.comments()
	if err != nil {
		return err
	}
	p := domain.Problems{}
	page := parseCursorPage(r.URL.Query(), p)
	if err := p.Err(); err != nil {
		return err
	}
	articleID, err := s.articleID(r)
	if err != nil {
		return err
	}
	return servePage(w, r, func(url.Values, domain.Problems) comments.Filter {
		return comments.Filter{Viewer: actorOf(r.Context()), ArticleID: articleID, Page: page}
	}, cs.ListComments, commentResponse)
}

func (s *Server) handleCommentGet(w http.ResponseWriter, r *http.Request) error {
	cs, articleID, err := s.articleComments(r, s.articleID)
	if err != nil {
		return err
	}
	c, err := cs.CommentByID(r.Context(), actorOf(r.Context()), articleID, pathVar(r, "id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, commentResponse(c))
	return nil
}

type commentAddRequest struct {
	Body string `json:"body"`
}

func (s *Server) handleCommentAdd(w http.ResponseWriter, r *http.Request) error {
	cs, articleID, err := s.articleComments(r, s.articleID)
	if err != nil {
		return err
	}
	var req commentAddRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	res, err := s.Commands.AddComment.Handle(r.Context(), commands.AddComment{
		Actor: actorOf(r.Context()), ArticleID: articleID, Body: req.Body, Meta: metaOf(r),
	})
	if err != nil {
		return err
	}
	location := "/api/articles/" + articleID + "/comments/" + res.ID + "/"
	w.Header().Set("Location", location)
	get := func(ctx context.Context, id string) (comments.Comment, error) {
		return cs.CommentByID(ctx, actorOf(ctx), articleID, id)
	}
	return written(s, w, r, domain.AggregateComment, res, location, http.StatusCreated, get, commentResponse)
}

func (s *Server) handleCommentDelete(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.comments(); err != nil {
		return err
	}
	return s.serveDelete(w, r, domain.AggregateComment, s.articleID, func(ctx context.Context, articleID string) (commands.Result, error) {
		return s.Commands.DeleteComment.Handle(ctx, commands.DeleteComment{
			Actor: actorOf(ctx), ArticleID: articleID, ID: pathVar(r, "id"), Meta: metaOf(r),
		})
	})
}
