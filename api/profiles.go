package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/follows"
)

// Follows is the follows read model as the API queries it: profiles and
// feeds.
type Follows interface {
	// ProfileByUsername returns ENOTFOUND if there is no such user.
	ProfileByUsername(ctx context.Context, viewer domain.Actor, ref string) (follows.Profile, error)
	// ProfilesByIDs returns the profiles of those of ids there are, by id
	// (the authors of a page of articles, in one read).
	ProfilesByIDs(ctx context.Context, viewer domain.Actor, ids []string) (map[string]follows.Profile, error)
	Feed(ctx context.Context, viewerID string, page readmodels.Page) (readmodels.ListPage[follows.FeedEntry], error)
	// FollowingOf returns up to limit of the users a user follows after
	// the followee id after ("": from the first), by id (the export).
	FollowingOf(ctx context.Context, userID, after string, limit int) ([]follows.Follow, error)
}

// registerProfileRoutes mounts the public profiles and follows.
func (s *Server) registerProfileRoutes(r *mux.Router) {
	r.HandleFunc("/api/profiles/{username}/", s.optionalAuth(s.handle(s.handleProfileGet))).Methods(http.MethodGet)
	r.HandleFunc("/api/profiles/{username}/follow/", s.authenticated(s.idempotent(s.handle(s.handleFollow)))).Methods(http.MethodPost)
	r.HandleFunc("/api/profiles/{username}/follow/", s.authenticated(s.handle(s.handleUnfollow))).Methods(http.MethodDelete)
}

// registerFeedRoutes mounts the caller's feed. It is registered before the
// article routes, whose /api/articles/{ref}/ would take it (an article
// whose slug is "feed" is read by its id or number).
func (s *Server) registerFeedRoutes(r *mux.Router) {
	r.HandleFunc("/api/articles/feed/", s.authenticated(s.handle(s.handleFeed))).Methods(http.MethodGet)
}

// ProfileResponse is a user's public profile.
type ProfileResponse struct {
	ID        string `json:"id"`
	Username  string `json:"username"`
	Bio       string `json:"bio"`
	Avatar    string `json:"avatar"`
	Following bool   `json:"following"`
}

func profileResponse(p follows.Profile) ProfileResponse {
	return ProfileResponse{ID: p.ID, Username: p.Username, Bio: p.Bio, Avatar: p.Avatar, Following: p.Following}
}

// errNoFollows answers the routes of profiles on a server without the
// follows read model.
var errNoFollows = domain.Errorf(domain.EUNAVAILABLE, "Profiles and feeds are not available.")

func (s *Server) handleProfileGet(w http.ResponseWriter, r *http.Request) error {
	if s.Follows == nil {
		return errNoFollows
	}
	p, err := s.Follows.ProfileByUsername(r.Context(), actorOf(r.Context()), pathVar(r, "username"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, profileResponse(p))
	return nil
}

func (s *Server) handleFollow(w http.ResponseWriter, r *http.Request) error {
	return s.followChange(w, r, func(id string) (commands.Result, error) {
		return s.Commands.FollowUser.Handle(r.Context(), commands.FollowUser{Actor: actorOf(r.Context()), FolloweeID: id, Meta: metaOf(r)})
	})
}

func (s *Server) handleUnfollow(w http.ResponseWriter, r *http.Request) error {
	return s.followChange(w, r, func(id string) (commands.Result, error) {
		return s.Commands.UnfollowUser.Handle(r.Context(), commands.UnfollowUser{Actor: actorOf(r.Context()), FolloweeID: id, Meta: metaOf(r)})
	})
}

// followChange resolves the username of the route (404 for none), runs the
// follow's command and answers the profile once the follows read model
// shows the change.
func (s *Server) followChange(w http.ResponseWriter, r *http.Request, run func(id string) (commands.Result, error)) error {
	if s.Follows == nil {
		return errNoFollows
	}
	p, err := s.Follows.ProfileByUsername(r.Context(), actorOf(r.Context()), pathVar(r, "username"))
	if err != nil {
		return err
	}
	res, err := run(p.ID)
	if err != nil {
		return err
	}
	get := func(ctx context.Context, id string) (follows.Profile, error) {
		return s.Follows.ProfileByUsername(ctx, actorOf(ctx), id)
	}
	return written(s, w, r, domain.AggregateFollow, res, "/api/profiles/"+url.PathEscape(p.Username)+"/", http.StatusOK, get, profileResponse)
}

// handleFeed answers a page of the caller's feed: the published articles of
// the authors they follow, newest published first. The page of ids is read
// from the follows read model (in its index's order), the articles from the
// articles read model in one query.
func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request) error {
	if s.Follows == nil {
		return errNoFollows
	}
	p := domain.Problems{}
	page := parseCursorPage(r.URL.Query(), p)
	if err := p.Err(); err != nil {
		return err
	}
	viewer := actorOf(r.Context())
	entries, err := s.Follows.Feed(r.Context(), viewer.ID, page)
	if err != nil {
		return err
	}
	ids := make([]string, len(entries.Items))
	for i, e := range entries.Items {
		ids[i] = e.ArticleID
	}
	vs, err := s.Articles.ArticlesByIDs(r.Context(), viewer, ids)
	if err != nil {
		return err
	}
	writePage(w, readmodels.ListPage[articles.View]{Items: vs, Count: entries.Count, CountExact: entries.CountExact, Next: entries.Next}, articleResponse)
	return nil
}
