package api

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels/articles"
)

// registerFavoriteRoutes mounts an article's favorite under prefix (the
// article routes' own).
func (s *Server) registerFavoriteRoutes(r *mux.Router, prefix string) {
	r.HandleFunc(prefix+"/{ref}/favorite/", s.authenticated(s.idempotent(s.handle(s.handleFavorite)))).Methods(http.MethodPost)
	r.HandleFunc(prefix+"/{ref}/favorite/", s.authenticated(s.handle(s.handleUnfavorite))).Methods(http.MethodDelete)
}

// handleFavorite favorites the article of the route and answers it, with
// favorited and favorites_count as they stand after the favorite.
func (s *Server) handleFavorite(w http.ResponseWriter, r *http.Request) error {
	return s.favoriteChange(w, r, func(id string) (commands.Result, error) {
		return s.Commands.FavoriteArticle.Handle(r.Context(), commands.FavoriteArticle{Actor: actorOf(r.Context()), ArticleID: id, Meta: metaOf(r)})
	})
}

// handleUnfavorite takes the favorite back and answers the article.
func (s *Server) handleUnfavorite(w http.ResponseWriter, r *http.Request) error {
	return s.favoriteChange(w, r, func(id string) (commands.Result, error) {
		return s.Commands.UnfavoriteArticle.Handle(r.Context(), commands.UnfavoriteArticle{Actor: actorOf(r.Context()), ArticleID: id, Meta: metaOf(r)})
	})
}

// favoriteChange runs a favorite's command on the article of the route and
// answers the article once the articles read model shows the change.
func (s *Server) favoriteChange(w http.ResponseWriter, r *http.Request, run func(id string) (commands.Result, error)) error {
	id, err := s.articleID(r)
	if err != nil {
		return err
	}
	res, err := run(id)
	if err != nil {
		return err
	}
	get := func(ctx context.Context, id string) (articles.View, error) {
		v, err := s.Articles.ArticleByRef(ctx, actorOf(ctx), id)
		if err == nil {
			w.Header().Set("ETag", etag(v.Version))
		}
		return v, err
	}
	return written(s, w, r, domain.AggregateFavorite, res, "/api/articles/"+id+"/", http.StatusOK, get, articleResponse)
}
