package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"inkwell/auth"
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

// readyCheckTimeout bounds each readiness check: a dependency that does not
// answer within it is not ready, and /readyz answers within about that long.
const readyCheckTimeout = 2 * time.Second

// handleReadyz runs every readiness check, side by side, and answers 503
// naming the ones that fail. A change of readiness is logged once (see
// readinessLog), not every failing probe.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	resp := ReadyResponse{Status: "ready", Checks: map[string]string{}}
	status := http.StatusOK
	errs := make([]error, len(s.Ready))
	var wg sync.WaitGroup
	for i, c := range s.Ready {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), readyCheckTimeout)
			defer cancel()
			errs[i] = c.Check(ctx)
			if errs[i] == nil && ctx.Err() != nil {
				errs[i] = ctx.Err()
			}
		})
	}
	wg.Wait()
	var failing []string
	for i, c := range s.Ready {
		if err := errs[i]; err != nil {
			resp.Checks[c.Name] = err.Error()
			resp.Status, status = "not ready", http.StatusServiceUnavailable
			failing = append(failing, c.Name)
		} else {
			resp.Checks[c.Name] = "ok"
		}
	}
	s.readiness.record(s.log, failing, resp.Checks)
	if s.Unavailable != nil {
		s.Unavailable.SetReady(status == http.StatusOK)
	}
	writeJSON(w, status, resp)
}

// readinessLog logs readiness when it changes: once when the instance
// becomes not ready (or the checks that fail change), naming them, and once
// when it is ready again; a load balancer probing every second adds
// nothing to the log while nothing changes.
type readinessLog struct {
	mu      sync.Mutex
	known   bool
	failing string
}

func (l *readinessLog) record(log *slog.Logger, failing []string, checks map[string]string) {
	key := strings.Join(failing, ",")
	l.mu.Lock()
	changed := !l.known || key != l.failing
	l.known, l.failing = true, key
	l.mu.Unlock()
	if !changed {
		return
	}
	if len(failing) == 0 {
		log.Info("ready")
		return
	}
	attrs := make([]any, 0, 2*len(failing))
	for _, name := range failing {
		attrs = append(attrs, name, checks[name])
	}
	log.Warn("not ready", attrs...)
}

func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(auth.JWKSMaxAge/time.Second)))
	_, _ = w.Write(s.Keys.JWKS())
}
