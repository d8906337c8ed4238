package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"inkwell/domain"
)

// The Conduit surface answers the error writeError decides (its status,
// its headers) in the spec's shape: the fields by their Conduit names, a
// taken value as a 422, and "body" when no field is at fault.
func TestConduitErrorShape(t *testing.T) {
	t.Parallel()
	s := &Server{Deps: Deps{Now: time.Now}, log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		name   string
		err    error
		status int
		want   map[string][]string
		header string
	}{
		{"invalid fields", &domain.Error{Code: domain.EINVALID, Message: "Invalid input.",
			Fields: map[string]string{"avatar": "must be a URL", "content": "must not be empty", "title": "must not be empty"}},
			http.StatusUnprocessableEntity, map[string][]string{"image": {"must be a URL"}, "body": {"must not be empty"}, "title": {"must not be empty"}}, ""},
		{"a taken username", &domain.Error{Code: domain.ECONFLICT, Message: "Taken.", Fields: map[string]string{"username": "is already taken"}},
			http.StatusUnprocessableEntity, map[string][]string{"username": {"is already taken"}}, ""},
		{"a conflict without a field", domain.Errorf(domain.ECONFLICT, "Changed meanwhile."),
			http.StatusConflict, map[string][]string{"body": {"Changed meanwhile."}}, ""},
		{"no token", errUnauthenticated, http.StatusUnauthorized,
			map[string][]string{"body": {"Authentication credentials were not provided."}}, `Token realm="inkwell"`},
		{"another's article", domain.Errorf(domain.EFORBIDDEN, "Only its author may."), http.StatusForbidden,
			map[string][]string{"body": {"Only its author may."}}, ""},
		{"not found", domain.ErrArticleNotFound, http.StatusNotFound, map[string][]string{"body": {domain.ErrorMessage(domain.ErrArticleNotFound)}}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			s.writeConduitError(w, httptest.NewRequest("GET", ConduitBase+"/user", nil), c.err)
			var got ConduitErrors
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != c.status || !reflect.DeepEqual(got.Errors, c.want) {
				t.Fatalf("%d %s (%v), want %d %v", w.Code, w.Body, err, c.status, c.want)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			if c.header != "" && w.Header().Get("WWW-Authenticate") != c.header {
				t.Fatalf("WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// The spec's timestamps: UTC, always with milliseconds.
func TestConduitTime(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	b, err := json.Marshal(conduitTime(at))
	if err != nil || string(b) != `"2026-12-06T09:00:00.000Z"` {
		t.Fatalf("%s, %v", b, err)
	}
}
