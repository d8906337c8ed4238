package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

func (s *Server) registerHealthRoutes(r *mux.Router) {
	r.HandleFunc("/healthz", s.handleHealthz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/readyz", s.handleReadyz).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/.well-known/jwks.json", s.handleJWKS).Methods(http.MethodGet, http.MethodHead)
	if s.Metrics != nil {
		r.Handle("/metrics", s.Metrics).Methods(http.MethodGet)
	}
}

// handleHealthz answers 200 while the process serves HTTP.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ReadyResponse is the body of /readyz.
type ReadyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// handleReadyz runs every readiness check and answers 503 naming the ones
// that fail.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	resp := ReadyResponse{Status: "ready", Checks: map[string]string{}}
	status := http.StatusOK
	for _, c := range s.Ready {
		if err := c.Check(ctx); err != nil {
			resp.Checks[c.Name] = err.Error()
			resp.Status, status = "not ready", http.StatusServiceUnavailable
		} else {
			resp.Checks[c.Name] = "ok"
		}
	}
	writeJSON(w, status, resp)
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.Keys.JWKS())
}
