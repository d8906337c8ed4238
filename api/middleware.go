package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"inkwell/auth"
	"inkwell/domain"
	"inkwell/logging"
	"inkwell/queries"
)

type ctxKey int

const (
	principalKey ctxKey = iota
	routeKey
)

// routeInfo carries the matched route's template out of the router to the
// access log and metrics.
type routeInfo struct{ template string }

// recordRoute is router middleware noting the matched route's template.
func (s *Server) recordRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(routeKey).(*routeInfo); ok {
			if tpl, err := mux.CurrentRoute(r).GetPathTemplate(); err == nil {
				info.template = tpl
			}
		}
		next.ServeHTTP(w, r)
	})
}

// RequestIDHeader carries the request id in both directions.
const RequestIDHeader = "X-Request-Id"

func requestID(ctx context.Context) string {
	return logging.RequestID(ctx)
}

// validRequestID reports whether a client-supplied request id is safe to
// adopt (and to log and to store in events).
func validRequestID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (s *Server) withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}

// withRecover turns a panic in a handler into a logged 500 without details.
func (s *Server) withRecover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic in handler", "panic", v, "stack", string(debug.Stack()))
				s.writeError(w, r, newHTTPError(http.StatusInternalServerError, "Internal error."))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) withAccessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		info := &routeInfo{template: "unmatched"}
		r = r.WithContext(context.WithValue(r.Context(), routeKey, info))
		// A response cut after its first bytes (http.ErrAbortHandler, the
		// only panic withRecover lets through) is logged too, as aborted,
		// and the panic goes on to the HTTP server, which drops the
		// connection.
		defer func() {
			v := recover()
			s.logRequest(r, info, rec, time.Since(start), v != nil)
			if v != nil {
				panic(v)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// logRequest records a request's outcome (metrics and the access log).
func (s *Server) logRequest(r *http.Request, info *routeInfo, rec *statusRecorder, took time.Duration, aborted bool) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if s.Observer != nil {
		s.Observer.ObserveHTTP(info.template, r.Method, rec.status, took)
	}
	// A 503 is a dependency down or a load shed (logged where it is
	// decided), not a fault of Inkwell's; an aborted response is logged
	// with its cause where it is aborted. The probes of a load balancer or
	// an orchestrator (every few seconds, for ever) are logged at debug
	// level: a change of readiness is logged once by handleReadyz.
	level := slog.LevelInfo
	switch {
	case info.template == "/readyz" || info.template == "/healthz":
		level = slog.LevelDebug
	case rec.status == http.StatusServiceUnavailable || aborted:
		level = slog.LevelWarn
	case rec.status >= 500:
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("route", info.template),
		slog.Int("status", rec.status),
		slog.Int("bytes", rec.bytes),
		slog.Duration("took", took),
		slog.String("remote", r.RemoteAddr),
	}
	if aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	s.log.LogAttrs(r.Context(), level, "request", attrs...)
}

// withDeadline gives every request a deadline of RequestTimeout, so that a
// dependency that stops answering turns into a 503 in bounded time; but for
// the long-lived responses, which bound themselves: the event stream, and
// the export (its first byte within RequestTimeout, then a download that
// lasts while it makes progress). A write (any method but GET, HEAD and
// OPTIONS) is not cancelled when its client goes away: a command runs to
// its end (or its deadline), so that what it recorded is settled and, with
// an Idempotency-Key, kept for the client's retry.
func (s *Server) withDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/events/stream") || strings.HasPrefix(r.URL.Path, "/api/auth/me/export") {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			ctx = context.WithoutCancel(ctx)
		}
		ctx, cancel := context.WithTimeout(ctx, s.RequestTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// principal is the authenticated caller of a request.
type principal struct {
	User   *domain.User
	Claims *auth.Claims
}

func principalOf(ctx context.Context) *principal {
	p, _ := ctx.Value(principalKey).(*principal)
	return p
}

// actorOf returns the caller as the actor of a command (anonymous if none).
func actorOf(ctx context.Context) domain.Actor {
	if p := principalOf(ctx); p != nil {
		return p.User.Actor()
	}
	return domain.Actor{}
}

// metaOf returns the envelope data a command takes from its request.
func metaOf(r *http.Request) domain.Meta {
	return domain.Meta{ActorID: actorOf(r.Context()).ID, CorrelationID: requestID(r.Context())}
}

var errUnauthenticated = domain.Errorf(domain.EUNAUTHORIZED, "Authentication credentials were not provided.")
var errBadToken = domain.Errorf(domain.EUNAUTHORIZED, "Invalid or expired token.")

// authenticate checks the request's bearer token, if any, and returns the
// caller (nil when there is no Authorization header). The token must be an
// RS256 access token of this server, and its account must exist and be
// active now, according to the log.
func (s *Server) authenticate(r *http.Request) (*principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	scheme, token, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		s.logAuthFailure(r, "authorization header is not a bearer token")
		return nil, errBadToken
	}
	claims, err := s.Tokens.Parse(strings.TrimSpace(token), auth.TypeAccess)
	if err != nil {
		if p, ok, derr := s.djangoPrincipal(r, strings.TrimSpace(token)); ok {
			return p, derr
		}
		s.logAuthFailure(r, err.Error())
		return nil, errBadToken
	}
	if claims.SessionID == "" {
		s.logAuthFailure(r, "access token without a session", "sub", claims.Subject)
		return nil, errBadToken
	}
	u, err := s.Queries.Authenticate.Handle(r.Context(), queries.Authenticate{UserID: claims.Subject, SessionID: claims.SessionID})
	if err != nil {
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
			s.logAuthFailure(r, domain.ErrorMessage(err), "sub", claims.Subject, "sid", claims.SessionID)
			return nil, errBadToken
		}
		return nil, err
	}
	return &principal{User: u, Claims: claims}, nil
}

func (s *Server) logAuthFailure(r *http.Request, reason string, attrs ...any) {
	args := append([]any{"reason", reason, "path", r.URL.Path, "remote", r.RemoteAddr}, attrs...)
	s.log.WarnContext(r.Context(), "authentication failed", args...)
}

// authenticated wraps a handler that needs a caller: 401 without one.
func (s *Server) authenticated(h http.HandlerFunc) http.HandlerFunc {
	return s.withCaller(true, s.writeError, h)
}

// staffOnly wraps a handler for staff: 401 without a caller, 403 for a
// caller without staff rights (as the account has them now), naming what
// only staff may do.
func (s *Server) staffOnly(what string, h http.HandlerFunc) http.HandlerFunc {
	return s.authenticated(func(w http.ResponseWriter, r *http.Request) {
		if err := domain.RequireStaff(actorOf(r.Context()), what); err != nil {
			s.writeError(w, r, err)
			return
		}
		h(w, r)
	})
}

// optionalAuth wraps a public handler: a caller is identified when a token
// is sent, and a bad token is refused rather than ignored.
func (s *Server) optionalAuth(h http.HandlerFunc) http.HandlerFunc {
	return s.withCaller(false, s.writeError, h)
}

// withCaller wraps h, which reads the request's caller (see authenticate)
// from its context; required: 401 without one. fail answers the errors,
// in the shape of the surface.
func (s *Server) withCaller(required bool, fail func(http.ResponseWriter, *http.Request, error), h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err == nil && p == nil && required {
			err = errUnauthenticated
		}
		if err != nil {
			fail(w, r, err)
			return
		}
		if p != nil {
			r = r.WithContext(context.WithValue(r.Context(), principalKey, p))
		}
		h(w, r)
	}
}

// pathVar returns a route variable.
func pathVar(r *http.Request, name string) string { return mux.Vars(r)[name] }
