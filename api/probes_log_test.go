package api_test

import (
	"log/slog"
	"net/http"
	"testing"

	"inkwell/testkit"
)

// The probes (/healthz, /readyz), which a load balancer sends every few
// seconds, are logged at debug level, not info: the log of a quiet server
// stays quiet. Any other request is logged at info.
func TestProbesAreLoggedAtDebugLevel(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	f := newFakeServer(t, func(f *fakeServer) { f.deps.Logger = jsonLogger(&logs) })
	for _, path := range []string{"/healthz", "/readyz", "/api/openapi.json"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			f.serve(f.request(method, path, "", ""))
		}
	}
	levels := map[string]string{}
	eachLogLine(t, &logs, func(_ string, rec map[string]any) {
		if rec["msg"] == "request" {
			levels[rec["method"].(string)+" "+rec["route"].(string)] = rec["level"].(string)
		}
	})
	for route, want := range map[string]slog.Level{
		"GET /healthz": slog.LevelDebug, "HEAD /healthz": slog.LevelDebug,
		"GET /readyz": slog.LevelDebug, "HEAD /readyz": slog.LevelDebug,
		"GET /api/openapi.json": slog.LevelInfo,
	} {
		if levels[route] != want.String() {
			t.Errorf("%s logged at %q, want %s", route, levels[route], want)
		}
	}
}
