package main_test

import (
	"regexp"
	"strings"
	"testing"

	"inkwell/metrics"
)

// The series labelled by what a server serves: they begin with the first
// request, command or query they count (docs/operations.md says so).
var trafficMetrics = map[string]bool{
	"inkwell_http_requests_total":           true,
	"inkwell_http_request_duration_seconds": true,
	"inkwell_commands_total":                true,
	"inkwell_command_duration_seconds":      true,
	"inkwell_queries_total":                 true,
	"inkwell_query_duration_seconds":        true,
}

// A fresh server exports every metric of its catalogue (which the table of
// docs/operations.md is held to) at its first scrape, each series of its
// projections, reactors and dependencies with its zero; those of traffic
// follow the first request, command
// and query.
func TestEveryDocumentedMetricIsExportedFromStartUp(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	families := func() map[string]bool {
		out := map[string]bool{}
		body := string(expect(t, s.request(t, "GET", "/metrics", "", nil), 200).Body)
		for _, m := range regexp.MustCompile(`(?m)^# TYPE (inkwell_[a-z_]+) `).FindAllStringSubmatch(body, -1) {
			out[m[1]] = true
		}
		for _, want := range []string{
			`inkwell_projection_stuck_event{projection="articles"} 0`,
			`inkwell_dependency_unavailable_total{dependency="database"} 0`,
			`inkwell_dependency_unavailable_total{dependency="event_log"} 0`,
			`inkwell_reactor_retries_total{reactor="user-deletion-cascade"} 0`,
			`inkwell_reactor_dead_letters_total{reactor="data-key-shredder"} 0`,
			`inkwell_idempotent_requests_total{outcome="mismatch"} 0`,
		} {
			if !strings.Contains(body, want+"\n") {
				t.Errorf("/metrics has no %s", want)
			}
		}
		return out
	}
	first := families()
	for _, c := range metrics.New().Catalog() {
		if !first[c.Name] && !trafficMetrics[c.Name] {
			t.Errorf("a fresh server's first /metrics has no %s", c.Name)
		}
	}
	tok := s.registerUser(t, "counted")
	expect(t, s.request(t, "GET", "/api/auth/me/", tok.AccessToken, nil), 200)
	after := families()
	for name := range trafficMetrics {
		if !after[name] {
			t.Errorf("/metrics has no %s after a registration and an authenticated request", name)
		}
	}
}
