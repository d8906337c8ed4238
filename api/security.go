package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/rs/cors"
)

// SecurityConfig configures the HTTP surface's defences.
type SecurityConfig struct {
	// CORSOrigins lists the origins browsers may call the API from
	// ("https://app.example.com"); none (the default) turns CORS off.
	CORSOrigins []string
	// TrustedProxies lists the proxies whose X-Forwarded-For names the
	// client; without them the peer address is the client.
	TrustedProxies []netip.Prefix
	Throttle       ThrottleConfig
}

// withSecurityHeaders sets the headers OWASP recommends for a JSON API. The
// documentation pages set their own content security policy.
func (s *Server) withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/api/docs") {
			h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		}
		// Responses may carry personal data or tokens: no caching unless a
		// handler says otherwise (the JWKS does).
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// withCORS answers cross-origin requests from the configured origins only;
// with none configured it is not in the chain at all.
func (s *Server) withCORS(next http.Handler) http.Handler {
	if len(s.Security.CORSOrigins) == 0 {
		return next
	}
	// PUT is the Conduit surface's (conduit.go); so is X-Requested-With,
	// which Conduit clients send.
	return cors.New(cors.Options{
		AllowedOrigins:   s.Security.CORSOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "If-Match", RequestIDHeader, "X-Requested-With"},
		ExposedHeaders:   []string{"ETag", "Location", "Retry-After", RequestIDHeader},
		AllowCredentials: false, // bearer tokens, never cookies
		MaxAge:           600,
	}).Handler(next)
}

// clientAddr returns the client's address: the peer's, or, when the peer is
// a trusted proxy, the right-most address of X-Forwarded-For that is not a
// trusted proxy.
func clientAddr(r *http.Request, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || !isTrusted(peer, trusted) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return host // a malformed hop: trust nothing further
		}
		if !isTrusted(a, trusted) {
			return a.String()
		}
	}
	return host
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
