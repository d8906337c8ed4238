package api

// The RealWorld ("Conduit") API, served under ConduitBase: an adapter over
// the same commands, queries and read models as Inkwell's own API, with the
// spec's paths, JSON shapes, statuses and `Authorization: Token <jwt>`
// scheme (docs/conduit.md). Its handlers live in package api, beside
// Inkwell's, because they go through the same server: authentication from
// the log, the throttles' shared counters, Idempotency-Key records, the
// strict JSON decoding against the OpenAPI document, read-your-writes, and
// the one mapping of error kinds to statuses (writeError), which the
// Conduit surface reshapes rather than repeats.

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// ConduitBase is the base path of the Conduit surface: the official
// RealWorld suite's APIURL is http://host:port/conduit/api.
const ConduitBase = "/conduit/api"

// registerConduitRoutes mounts the Conduit surface. The feed is registered
// before /articles/{slug}, which would take it.
func (s *Server) registerConduitRoutes(r *mux.Router) {
	b := ConduitBase
	public := func(h handlerFunc) http.HandlerFunc { return s.conduitAuth(false, s.conduitHandle(h)) }
	authed := func(h handlerFunc) http.HandlerFunc { return s.conduitAuth(true, s.conduitHandle(h)) }
	write := func(h handlerFunc) http.HandlerFunc { return s.conduitAuth(true, s.idempotent(s.conduitHandle(h))) }
	r.HandleFunc(b+"/users", s.idempotent(s.conduitHandle(s.handleConduitRegister))).Methods(http.MethodPost)
	r.HandleFunc(b+"/users/login", s.idempotent(s.conduitHandle(s.handleConduitLogin))).Methods(http.MethodPost)
	r.HandleFunc(b+"/user", authed(s.handleConduitCurrentUser)).Methods(http.MethodGet)
	r.HandleFunc(b+"/user", write(s.handleConduitUpdateUser)).Methods(http.MethodPut)
	r.HandleFunc(b+"/profiles/{username}", public(profileGet(s, conduitProfileResponse))).Methods(http.MethodGet)
	r.HandleFunc(b+"/profiles/{username}/follow", write(s.conduitFollowChange(s.follow))).Methods(http.MethodPost)
	r.HandleFunc(b+"/profiles/{username}/follow", authed(s.conduitFollowChange(s.unfollow))).Methods(http.MethodDelete)
	r.HandleFunc(b+"/articles/feed", authed(s.handleConduitFeed)).Methods(http.MethodGet)
	r.HandleFunc(b+"/articles", public(s.handleConduitArticles)).Methods(http.MethodGet)
	r.HandleFunc(b+"/articles", write(s.handleConduitCreateArticle)).Methods(http.MethodPost)
	r.HandleFunc(b+"/articles/{slug}", public(s.handleConduitArticle)).Methods(http.MethodGet)
	r.HandleFunc(b+"/articles/{slug}", write(s.handleConduitUpdateArticle)).Methods(http.MethodPut)
	r.HandleFunc(b+"/articles/{slug}", authed(s.handleConduitDeleteArticle)).Methods(http.MethodDelete)
	r.HandleFunc(b+"/articles/{slug}/favorite", write(s.conduitFavoriteChange(s.favorite))).Methods(http.MethodPost)
	r.HandleFunc(b+"/articles/{slug}/favorite", authed(s.conduitFavoriteChange(s.unfavorite))).Methods(http.MethodDelete)
	r.HandleFunc(b+"/articles/{slug}/comments", public(s.handleConduitComments)).Methods(http.MethodGet)
	r.HandleFunc(b+"/articles/{slug}/comments", write(s.handleConduitAddComment)).Methods(http.MethodPost)
	r.HandleFunc(b+"/articles/{slug}/comments/{id}", authed(s.handleConduitDeleteComment)).Methods(http.MethodDelete)
	r.HandleFunc(b+"/tags", public(s.handleConduitTags)).Methods(http.MethodGet)
}

// ConduitErrors is the Conduit surface's error body: the offending fields,
// each with its messages, or "body" with what went wrong when no field did.
type ConduitErrors struct {
	Errors map[string][]string `json:"errors"`
}

// conduitFields renames Inkwell's field names to the Conduit surface's.
var conduitFields = map[string]string{
	"avatar": "image", "content": "body", "excerpt": "description", "tags": "tagList",
}

// conduitHandle turns h into an http.HandlerFunc that answers h's error in
// the Conduit shape. Unlike handle, it lets an operation that takes no body
// ignore one: the spec's own test collection follows a profile with a body.
func (s *Server) conduitHandle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.writeConduitError(w, r, err)
		}
	}
}

// writeConduitError answers err as writeError decides (its status, its
// headers, its logging: the one mapping of error kinds), reshaped into
// ConduitErrors. A refusal naming fields that Inkwell answers 409 (a
// username or email taken) is a 422, as the Conduit spec has it.
func (s *Server) writeConduitError(w http.ResponseWriter, r *http.Request, err error) {
	buf := newBufferedResponse()
	s.writeError(buf, r, err)
	var p Problem
	if json.Unmarshal(buf.body.Bytes(), &p) != nil || p.Status == 0 {
		buf.copyTo(w)
		return
	}
	for k, v := range buf.header {
		if k != "Content-Type" && k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	status := p.Status
	if status == http.StatusConflict && len(p.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Token realm="inkwell"`)
	}
	out := ConduitErrors{Errors: map[string][]string{}}
	for f, msg := range p.Errors {
		if c, ok := conduitFields[f]; ok {
			f = c
		}
		out.Errors[f] = append(out.Errors[f], msg)
	}
	if len(out.Errors) == 0 {
		out.Errors["body"] = []string{p.Detail}
	}
	writeJSON(w, status, out)
}

// conduitAuth authenticates the caller of a Conduit request, sent as
// `Authorization: Token <jwt>` (the spec's scheme) or `Bearer <jwt>`, with
// the same checks as Inkwell's own API (the token's signature and expiry,
// the account and the session as the log has them now). required: 401
// without a caller. A bad token is refused, never ignored.
func (s *Server) conduitAuth(required bool, h http.HandlerFunc) http.HandlerFunc {
	h = s.withCaller(required, s.writeConduitError, h)
	return func(w http.ResponseWriter, r *http.Request) {
		if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Token") {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+token)
		}
		h(w, r)
	}
}

// conduitTime is a time as the Conduit spec writes it: ISO 8601 in UTC,
// always with milliseconds (2026-12-06T09:00:00.000Z), which its suite
// requires.
type conduitTime time.Time

// MarshalJSON implements json.Marshaler.
func (t conduitTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format("2006-01-02T15:04:05.000Z") + `"`), nil
}
