// Package api is Inkwell's HTTP surface: a gorilla/mux router, the JWT
// middleware, handlers for commands and queries, and error mapping.
// Handlers decode, validate the shape of the input, call a command handler
// or a query, and encode; business rules live in domain and commands.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"inkwell/auth"
	"inkwell/commands"
	"inkwell/logging"
	"inkwell/queries"
	"inkwell/readmodels/users"
)

// Users is the users read model as the API queries it.
type Users interface {
	// UserByID returns ENOTFOUND if there is no such user.
	UserByID(ctx context.Context, id string) (users.User, error)
}

// ReadModels lets a write wait until the read models show it.
type ReadModels interface {
	// WaitFor waits until every projection reading aggregateType has
	// applied the log up to seq.
	WaitFor(ctx context.Context, aggregateType string, seq uint64) error
	// WaitForProjection waits until the projection name has applied the
	// log up to seq (one that writes do not wait for).
	WaitForProjection(ctx context.Context, name string, seq uint64) error
}

// HTTPObserver records each request (metrics).
type HTTPObserver interface {
	ObserveHTTP(route, method string, status int, d time.Duration)
}

// Check is one dependency of readiness.
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// UnavailableObserver records requests answered 503 because a dependency
// could not serve, and the outcome of readiness checks (metrics).
type UnavailableObserver interface {
	DependencyUnavailable(dependency string)
	SetReady(ready bool)
}

// Deps are what the server needs.
type Deps struct {
	Commands   *commands.Handlers
	Queries    *queries.Queries
	Users      Users
	Articles   Articles
	Categories Categories
	Tags       Tags
	AdminUsers AdminUsers
	Personal   PersonalData
	// Comments, if set, serves the comments of articles (503 without it).
	Comments Comments
	// Follows, if set, serves profiles, follows and feeds (503 without it).
	Follows    Follows
	ReadModels ReadModels
	Tokens     *auth.Tokens
	Keys       auth.KeySource
	// DjangoTokens and DjangoSessions, if both set, accept the tokens of
	// the Django app Inkwell imported until they expire (see django.go).
	DjangoTokens   *auth.DjangoTokens
	DjangoSessions DjangoSessions
	Logger         *slog.Logger
	// Ready lists the checks of /readyz.
	Ready []Check
	// Observer, if set, records every request; Metrics, if set, serves
	// /metrics; Unavailable, if set, records 503s of dependencies and
	// readiness.
	Observer    HTTPObserver
	Metrics     http.Handler
	Unavailable UnavailableObserver
	// Events, if set, serves the event stream.
	Events EventLog
	// Security configures CORS, trusted proxies and throttling.
	Security SecurityConfig
	// Now is the clock (default time.Now).
	Now func() time.Time
	// ReadYourWritesTimeout bounds how long a write waits for the read
	// models to show it before answering anyway (default 5s).
	ReadYourWritesTimeout time.Duration
	// RequestTimeout bounds every request but the event stream and the
	// export's download (default 15s): a dependency that does not answer
	// makes a 503 within it, never a hang until the server's own write
	// timeout.
	RequestTimeout time.Duration
	// ExportStall ends an export's download that has sent nothing for that
	// long (default DefaultExportStall): a client that stopped reading, a
	// dependency that hangs. ExportConcurrency bounds the exports running
	// at once (default DefaultExportConcurrency); each user runs one at a
	// time.
	ExportStall       time.Duration
	ExportConcurrency int
	// Idempotency, if set, keeps the answers of requests sent with an
	// Idempotency-Key; without it the header is refused (503).
	// IdempotencyObserver, if set, records their outcomes.
	Idempotency         IdempotencyStore
	IdempotencyObserver IdempotencyObserver
	// Throttles keep the counters of the login and registration throttles
	// (default: in memory, for one instance).
	Throttles ThrottleStore
	// HashKey keys every name and fingerprint the server derives from a
	// request and keeps in Idempotency or Throttles (see keyedHash): the
	// same for every instance sharing them (cmd/inkwell derives it from
	// the master key). Empty: a random key of this process.
	HashKey []byte
}

// Server is the HTTP API.
type Server struct {
	Deps
	log    *slog.Logger
	router *mux.Router

	trusted         []netip.Prefix
	loginThrottle   *failureThrottle // per account and client address
	addressThrottle *failureThrottle // per client address
	registrations   *rateLimiter     // per client address

	// streams is done when the server shuts down, ending long-lived
	// responses (the event stream) that would otherwise hold it up.
	streams     context.Context
	stopStreams context.CancelFunc

	exports     exportSlots
	readiness   readinessLog
	unavailable rateLimitedLog
	keyed       keyedHash
}

// NewServer returns the API server.
func NewServer(deps Deps) *Server {
	if deps.Commands == nil || deps.Queries == nil || deps.Users == nil || deps.Articles == nil || deps.Categories == nil || deps.Tags == nil || deps.AdminUsers == nil || deps.ReadModels == nil || deps.Tokens == nil || deps.Keys == nil {
		panic("api: NewServer with a nil dependency")
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.ReadYourWritesTimeout == 0 {
		deps.ReadYourWritesTimeout = 5 * time.Second
	}
	if deps.RequestTimeout == 0 {
		deps.RequestTimeout = 15 * time.Second
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.ExportStall == 0 {
		deps.ExportStall = DefaultExportStall
	}
	if deps.ExportConcurrency == 0 {
		deps.ExportConcurrency = DefaultExportConcurrency
	}
	if deps.Security.Throttle == (ThrottleConfig{}) {
		deps.Security.Throttle = DefaultThrottleConfig()
	}
	if deps.Throttles == nil {
		deps.Throttles = newMemoryThrottles(deps.Now)
	}
	th := deps.Security.Throttle
	keyed := newKeyedHash(deps.HashKey)
	s := &Server{
		Deps: deps, log: logging.Logger(deps.Logger), router: mux.NewRouter(),
		trusted: deps.Security.TrustedProxies, keyed: keyed,
		loginThrottle: &failureThrottle{store: deps.Throttles, keyed: keyed, kind: "login", free: th.LoginFailuresBeforeThrottle,
			maxBlock: th.LoginMaxBlock, now: deps.Now},
		addressThrottle: &failureThrottle{store: deps.Throttles, keyed: keyed, kind: "address", free: th.AddressFailuresBeforeThrottle,
			maxBlock: th.LoginMaxBlock, now: deps.Now},
		registrations: &rateLimiter{store: deps.Throttles, keyed: keyed, kind: "register", perHour: th.RegistrationsPerHour, now: deps.Now},
		exports:       exportSlots{max: deps.ExportConcurrency},
	}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.router.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, newHTTPError(http.StatusNotFound, "No such resource."))
	})
	s.router.MethodNotAllowedHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allowed := s.allowedMethods(r)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		s.writeError(w, r, newHTTPError(http.StatusMethodNotAllowed,
			"Method "+r.Method+" is not allowed here; this resource takes "+strings.Join(allowed, ", ")+"."))
	})
	s.router.Use(s.recordRoute)
	s.registerHealthRoutes(s.router)
	// Routes are registered with full paths on the root router: gorilla/mux
	// subrouters lose a 405 (method mismatch) to a later subrouter's 404.
	s.registerAuthRoutes(s.router)
	s.registerFeedRoutes(s.router) // before the article routes: see there
	s.registerArticleRoutes(s.router, "/api/articles")
	s.registerArticleRoutes(s.router, "/api/article")
	s.registerProfileRoutes(s.router)
	s.registerCommentRoutes(s.router, "/api/articles")
	s.registerCommentRoutes(s.router, "/api/article")
	s.registerTaxonomyRoutes(s.router)
	s.registerUserRoutes(s.router)
	s.registerEventRoutes(s.router)
	s.registerDocsRoutes(s.router)
	s.registerConduitRoutes(s.router) // the RealWorld API, under ConduitBase
	return s
}

// Shutdown ends the long-lived responses (event streams). Call it when the
// HTTP server starts shutting down (http.Server.RegisterOnShutdown).
func (s *Server) Shutdown() { s.stopStreams() }

// Handler returns the server's root handler with its middleware.
func (s *Server) Handler() http.Handler {
	return s.withRequestID(s.withAccessLog(s.withRecover(s.withSecurityHeaders(s.withCORS(s.withCleanInput(s.withDeadline(http.HandlerFunc(s.route))))))))
}

// Router returns the router, for tests that walk the routes.
func (s *Server) Router() *mux.Router { return s.router }

// route dispatches to the router. Every path answers with and without its
// trailing slash: when a path matches no route, the same path with the
// trailing slash added or removed is tried.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	var m mux.RouteMatch
	// Match reports true with MatchErr set when a NotFoundHandler exists.
	if s.router.Match(r, &m); m.MatchErr == mux.ErrNotFound && r.URL.Path != "/" {
		alt := r.Clone(r.Context())
		if strings.HasSuffix(r.URL.Path, "/") {
			alt.URL.Path = strings.TrimSuffix(r.URL.Path, "/")
		} else {
			alt.URL.Path = r.URL.Path + "/"
		}
		alt.URL.RawPath = ""
		var m2 mux.RouteMatch
		if s.router.Match(alt, &m2); m2.MatchErr == nil || m2.MatchErr == mux.ErrMethodMismatch {
			r = alt
		}
	}
	if r.Method == http.MethodHead {
		r = s.headAsGet(r)
	}
	s.router.ServeHTTP(w, r)
}

// headAsGet routes a HEAD request that no route takes as the GET of the same
// target (RFC 9110: a server answers HEAD wherever it answers GET). The
// response writer is the HEAD request's, so net/http sends the GET's status
// and headers without its body; a handler that would not end by itself (the
// event stream) asks headOnly and answers its headers alone.
func (s *Server) headAsGet(r *http.Request) *http.Request {
	var m mux.RouteMatch
	if s.router.Match(r, &m); m.MatchErr != mux.ErrMethodMismatch {
		return r
	}
	get := r.Clone(context.WithValue(r.Context(), headKey{}, true))
	get.Method = http.MethodGet
	var mg mux.RouteMatch
	if s.router.Match(get, &mg); mg.MatchErr != nil {
		return r
	}
	return get
}

type headKey struct{}

// headOnly reports whether r is a HEAD request routed as its GET.
func headOnly(r *http.Request) bool { return r.Context().Value(headKey{}) != nil }

// methods are the methods a route may take, in the order an Allow header
// lists them.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// allowedMethods lists the methods r's target takes (for the Allow header of
// a 405): those a route matches, and HEAD wherever GET is.
func (s *Server) allowedMethods(r *http.Request) []string {
	var out []string
	for _, method := range methods {
		try := r.Clone(r.Context())
		try.Method = method
		if method == http.MethodHead {
			try.Method = http.MethodGet
		}
		var m mux.RouteMatch
		if s.router.Match(try, &m); m.MatchErr == nil {
			out = append(out, method)
		}
	}
	return out
}

// readYourWrites waits (bounded) until the read models of aggregateType have
// applied seq, so that the caller's next read sees its write. It reports
// whether they did in time.
func (s *Server) readYourWrites(ctx context.Context, aggregateType string, seq uint64) bool {
	if seq == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, s.ReadYourWritesTimeout)
	defer cancel()
	if err := s.ReadModels.WaitFor(ctx, aggregateType, seq); err != nil {
		s.log.WarnContext(ctx, "read model behind the write", "aggregate", aggregateType, "seq", seq, "err", err)
		return false
	}
	return true
}

// AcceptedResponse answers a write that is recorded in the log but that the
// read models did not show within ReadYourWritesTimeout.
type AcceptedResponse struct {
	ID      string `json:"id"`
	Version uint64 `json:"version"`
	Detail  string `json:"detail"`
}

// handlerFunc is a handler that returns its error instead of answering it:
// handle answers every error in one place (writeError), so a handler
// cannot write an error and go on.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// commandOn runs a command of the request's caller on the resource id (an
// article, a user).
type commandOn func(r *http.Request, id string) (commands.Result, error)

// handle turns h into an http.HandlerFunc that answers h's error. A body
// sent to an operation that takes none is refused before h runs
// (refuseUnwantedBody).
func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := refuseUnwantedBody(w, r); err != nil {
			s.writeError(w, r, err)
		} else if err := h(w, r); err != nil {
			s.writeError(w, r, err)
		}
	}
}

// written answers a write (res, of an aggregate of aggregateType) once the
// read models show it, with status and the resource as a read shows it (get
// by its id, then shape); or with 202 and where to read it (location) when
// they are too far behind, or cannot be read: the write is recorded either
// way, and a 202 tells a client not to repeat it. Once the log holds the
// event, no failure of what follows (a read model, a database) may answer
// the request as failed: a client retrying as told would write it twice.
func written[V, R any](s *Server, w http.ResponseWriter, r *http.Request, aggregateType string, res commands.Result, location string,
	status int, get func(ctx context.Context, id string) (V, error), shape func(V) R) error {
	if !s.readYourWrites(r.Context(), aggregateType, res.Seq) {
		s.writeAccepted(w, res, location)
		return nil
	}
	v, err := get(r.Context(), res.ID)
	if err != nil {
		s.log.WarnContext(r.Context(), "read back a recorded write", "aggregate", aggregateType, "id", res.ID, "seq", res.Seq, "err", err)
		s.writeAccepted(w, res, location)
		return nil
	}
	writeJSON(w, status, shape(v))
	return nil
}

// writeAccepted answers 202 for a write that is recorded in the log but
// that a read cannot show yet, with where to read it (location).
func (s *Server) writeAccepted(w http.ResponseWriter, res commands.Result, location string) {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusAccepted, AcceptedResponse{ID: res.ID, Version: res.Version,
		Detail: "The change is recorded; the read model has not caught up with it yet. Read it again shortly."})
}

// serveDelete answers a delete: resolve finds the id the route names, del
// deletes it, and the answer is 204 once the read models show it.
func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request, aggregateType string,
	resolve func(*http.Request) (string, error), del func(ctx context.Context, id string) (commands.Result, error)) error {
	id, err := resolve(r)
	if err != nil {
		return err
	}
	res, err := del(r.Context(), id)
	if err != nil {
		return err
	}
	s.readYourWrites(r.Context(), aggregateType, res.Seq)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
