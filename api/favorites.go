package api

import (
	"net/http"

	"github.com/gorilla/mux"

	"inkwell/commands"
	"inkwell/domain"
)

// registerFavoriteRoutes mounts an article's favorite under prefix (the
// article routes' own). Both answer the article, with favorited and
// favorites_count as they stand after the change.
func (s *Server) registerFavoriteRoutes(r *mux.Router, prefix string) {
	favorite := s.articleChange(s.articleID, domain.AggregateFavorite, s.favorite, s.writeArticle)
	unfavorite := s.articleChange(s.articleID, domain.AggregateFavorite, s.unfavorite, s.writeArticle)
	r.HandleFunc(prefix+"/{ref}/favorite/", s.authenticated(s.idempotent(s.handle(favorite)))).Methods(http.MethodPost)
	r.HandleFunc(prefix+"/{ref}/favorite/", s.authenticated(s.handle(unfavorite))).Methods(http.MethodDelete)
}

// favorite favorites the article id for the caller.
func (s *Server) favorite(r *http.Request, id string) (commands.Result, error) {
	return s.Commands.FavoriteArticle.Handle(r.Context(), commands.FavoriteArticle{Actor: actorOf(r.Context()), ArticleID: id, Meta: metaOf(r)})
}

// unfavorite takes the caller's favorite of the article id back.
func (s *Server) unfavorite(r *http.Request, id string) (commands.Result, error) {
	return s.Commands.UnfavoriteArticle.Handle(r.Context(), commands.UnfavoriteArticle{Actor: actorOf(r.Context()), ArticleID: id, Meta: metaOf(r)})
}
