// Package metrics holds Inkwell's Prometheus collectors, on a registry of
// their own (no global state), served at /metrics. The packages that record
// measurements declare the small interfaces they need; Metrics implements
// them all.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is every collector Inkwell exports.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
	commands        *prometheus.CounterVec
	commandDuration *prometheus.HistogramVec
	eventsAppended  *prometheus.CounterVec
	checkpoint      *prometheus.GaugeVec
	lag             *prometheus.GaugeVec
	applyDuration   *prometheus.HistogramVec
	applied         *prometheus.CounterVec
	leader          *prometheus.GaugeVec
	reactorHandled  *prometheus.CounterVec
	reactorRetries  *prometheus.CounterVec
	deadLetters     *prometheus.CounterVec
}

// New returns the collectors, registered with the Go runtime's and the
// process's on a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inkwell_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "inkwell_http_request_duration_seconds", Help: "HTTP request latency by route and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inkwell_commands_total", Help: "Commands by type and outcome (ok, or the error kind).",
		}, []string{"command", "outcome"}),
		commandDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "inkwell_command_duration_seconds", Help: "Command latency by type.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"command"}),
		eventsAppended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inkwell_events_appended_total", Help: "Events this process appended to the log, by type.",
		}, []string{"type"}),
		checkpoint: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "inkwell_projection_checkpoint", Help: "Last log sequence a projection applied.",
		}, []string{"projection"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "inkwell_projection_lag_events", Help: "Events of the log a projection has yet to apply.",
		}, []string{"projection"}),
		applyDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "inkwell_projection_apply_seconds", Help: "Time to apply one batch of events, by projection.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"projection"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inkwell_projection_events_applied_total", Help: "Events a projection applied in this process.",
		}, []string{"projection"}),
		leader: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "inkwell_projection_leader", Help: "1 while this process applies the projection.",
		}, []string{"projection"}),
		reactorHandled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inkwell_reactor_messages_total", Help: "Events reactors handled, by reactor and outcome (ok, error, panic).",
		}, []string{"reactor", "outcome"}),
		reactorRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inkwell_reactor_retries_total", Help: "Retries of events reactors failed to handle.",
		}, []string{"reactor"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inkwell_reactor_dead_letters_total", Help: "Events reactors gave up on (sent to the dead-letter stream).",
		}, []string{"reactor"}),
	}
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpRequests, m.httpDuration, m.commands, m.commandDuration, m.eventsAppended,
		m.checkpoint, m.lag, m.applyDuration, m.applied, m.leader,
		m.reactorHandled, m.reactorRetries, m.deadLetters,
	)
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// ObserveHTTP records one HTTP request by its route template.
func (m *Metrics) ObserveHTTP(route, method string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// ObserveCommand records one command.
func (m *Metrics) ObserveCommand(command, outcome string, d time.Duration) {
	m.commands.WithLabelValues(command, outcome).Inc()
	m.commandDuration.WithLabelValues(command).Observe(d.Seconds())
}

// EventAppended records an appended event.
func (m *Metrics) EventAppended(eventType string) { m.eventsAppended.WithLabelValues(eventType).Inc() }

// ObserveBatch records a batch a projection applied.
func (m *Metrics) ObserveBatch(projection string, events int, d time.Duration) {
	m.applyDuration.WithLabelValues(projection).Observe(d.Seconds())
	m.applied.WithLabelValues(projection).Add(float64(events))
}

// SetProjectionState records a projection's checkpoint and lag.
func (m *Metrics) SetProjectionState(projection string, checkpoint, lag uint64) {
	m.checkpoint.WithLabelValues(projection).Set(float64(checkpoint))
	m.lag.WithLabelValues(projection).Set(float64(lag))
}

// SetLeader records whether this process applies a projection.
func (m *Metrics) SetLeader(projection string, leading bool) {
	v := 0.0
	if leading {
		v = 1
	}
	m.leader.WithLabelValues(projection).Set(v)
}

// ReactorHandled records an event a reactor handled (or failed to).
func (m *Metrics) ReactorHandled(reactor, outcome string) {
	m.reactorHandled.WithLabelValues(reactor, outcome).Inc()
}

// ReactorRetried records a retry of an event.
func (m *Metrics) ReactorRetried(reactor string) { m.reactorRetries.WithLabelValues(reactor).Inc() }

// DeadLettered records an event a reactor gave up on.
func (m *Metrics) DeadLettered(reactor string) { m.deadLetters.WithLabelValues(reactor).Inc() }
