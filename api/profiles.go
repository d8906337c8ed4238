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
	location := func(username string) string { return "/api/profiles/" + url.PathEscape(username) + "/" }
	follow := followChange(s, s.follow, location, profileResponse)
	unfollow := followChange(s, s.unfollow, location, profileResponse)
	r.HandleFunc("/api/profiles/{username}/", s.optionalAuth(s.handle(profileGet(s, profileResponse)))).Methods(http.MethodGet)
	r.HandleFunc("/api/profiles/{username}/follow/", s.authenticated(s.idempotent(s.handle(follow)))).Methods(http.MethodPost)
	r.HandleFunc("/api/profiles/{username}/follow/", s.authenticated(s.handle(unfollow))).Methods(http.MethodDelete)
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

// follows returns the follows read model, or 503 on a server without it.
func (s *Server) follows() (Follows, error) {
	if s.Follows == nil {
		return nil, errNoFollows
	}
	return s.Follows, nil
}

// profile returns the profile of the user the route's {username} names, as
// the caller sees it: ENOTFOUND if there is no such user.
func (s *Server) profile(r *http.Request) (follows.Profile, error) {
	fs, err := s.follows()
	if err != nil {
		return follows.Profile{}, err
	}
	return fs.ProfileByUsername(r.Context(), actorOf(r.Context()), pathVar(r, "username"))
}

// profileGet returns the handler that answers the profile of the route's
// user, in the shape of its surface (shape).
func profileGet[R any](s *Server, shape func(follows.Profile) R) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := s.profile(r)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, shape(p))
		return nil
	}
}

// follow makes the caller follow the user of username.
func (s *Server) follow(r *http.Request, username string) (commands.Result, error) {
	return s.Commands.FollowUser.Handle(r.Context(), commands.FollowUser{Actor: actorOf(r.Context()), FolloweeUsername: username, Meta: metaOf(r)})
}

// unfollow makes the caller stop following the user of username.
func (s *Server) unfollow(r *http.Request, username string) (commands.Result, error) {
	return s.Commands.UnfollowUser.Handle(r.Context(), commands.UnfollowUser{Actor: actorOf(r.Context()), FolloweeUsername: username, Meta: metaOf(r)})
}

// followChange returns the handler that runs run on the username of the
// route (the command resolves it against the log: 404 for nobody's, never
// for a user the read models have not shown yet) and answers their
// profile, in the shape of its surface (shape), once the follows read model
// shows the change; location names where to read it, by username.
func followChange[R any](s *Server, run commandOn, location func(username string) string, shape func(follows.Profile) R) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		fs, err := s.follows()
		if err != nil {
			return err
		}
		username := pathVar(r, "username")
		res, err := run(r, username)
		if err != nil {
			return err
		}
		get := func(ctx context.Context, id string) (follows.Profile, error) {
			return fs.ProfileByUsername(ctx, actorOf(ctx), id)
		}
		return written(s, w, r, domain.AggregateFollow, res, location(username), http.StatusOK, get, shape)
	}
}

// feed reads a page of the caller's feed (parse reads the page from the
// query): the published articles of the authors they follow, newest
// published first. The page of ids is read from the follows read model (in
// its index's order), the articles from the articles read model in one
// query.
func (s *Server) feed(r *http.Request, parse func(url.Values, domain.Problems) readmodels.Page) (readmodels.ListPage[articles.View], error) {
	var out readmodels.ListPage[articles.View]
	fs, err := s.follows()
	if err != nil {
		return out, err
	}
	p := domain.Problems{}
	page := parse(r.URL.Query(), p)
	if err := p.Err(); err != nil {
		return out, err
	}
	viewer := actorOf(r.Context())
	entries, err := fs.Feed(r.Context(), viewer.ID, page)
	if err != nil {
		return out, err
	}
	ids := make([]string, len(entries.Items))
	for i, e := range entries.Items {
		ids[i] = e.ArticleID
	}
	out = readmodels.ListPage[articles.View]{Count: entries.Count, CountExact: entries.CountExact, Next: entries.Next}
	out.Items, err = s.Articles.ArticlesByIDs(r.Context(), viewer, ids)
	return out, err
}

// handleFeed answers a page of the caller's feed.
func (s *Server) handleFeed(w http.ResponseWriter, r *http.Request) error {
	page, err := s.feed(r, parseCursorPage)
	if err != nil {
		return err
	}
	writePage(w, page, articleResponse)
	return nil
}
