// Package metrics holds Inkwell's Prometheus collectors, on a registry of
// their own (no global state), served at /metrics. The packages that record
// measurements declare the small interfaces they need; Metrics implements
// them all.
package metrics

import (
	"net/http"
	"slices"
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
	queries         *prometheus.CounterVec
	queryDuration   *prometheus.HistogramVec
	eventsAppended  *prometheus.CounterVec
	checkpoint      *prometheus.GaugeVec
	lag             *prometheus.GaugeVec
	applyDuration   *prometheus.HistogramVec
	applied         *prometheus.CounterVec
	leader          *prometheus.GaugeVec
	stuck           *prometheus.GaugeVec
	unavailable     *prometheus.CounterVec
	ready           prometheus.Gauge
	diskFree        prometheus.Gauge
	diskSize        prometheus.Gauge
	logBytes        prometheus.Gauge
	logWritable     prometheus.Gauge
	idempotent      *prometheus.CounterVec
	reactorHandled  *prometheus.CounterVec
	reactorRetries  *prometheus.CounterVec
	deadLetters     *prometheus.CounterVec
	buildInfo       *prometheus.GaugeVec
	masterKeyFile   prometheus.Gauge

	catalog []Info
}

// Info describes one metric Inkwell exports: the table of metrics in
// docs/operations.md is held to Catalog by a test.
type Info struct {
	Name   string
	Type   string // counter, gauge or histogram
	Labels []string
	Help   string
}

// New returns the collectors, registered with the Go runtime's and the
// process's on a new registry.
func New() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	fast := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}
	m.httpRequests = m.counterVec("inkwell_http_requests_total", "HTTP requests by route, method and status.", "route", "method", "status")
	m.httpDuration = m.histogramVec("inkwell_http_request_duration_seconds", "HTTP request latency by route and method.", latency, "route", "method")
	m.commands = m.counterVec("inkwell_commands_total", "Commands by type and outcome (ok, or the error kind).", "command", "outcome")
	m.commandDuration = m.histogramVec("inkwell_command_duration_seconds", "Command latency by type.", fast, "command")
	m.queries = m.counterVec("inkwell_queries_total", "Queries of the event log (authentication, current user, article history) by type and outcome.", "query", "outcome")
	m.queryDuration = m.histogramVec("inkwell_query_duration_seconds", "Latency of queries of the event log by type.", fast, "query")
	m.eventsAppended = m.counterVec("inkwell_events_appended_total", "Events this process appended to the log, by type.", "type")
	m.checkpoint = m.gaugeVec("inkwell_projection_checkpoint", "Last log sequence a projection applied.", "projection")
	m.lag = m.gaugeVec("inkwell_projection_lag_events", "Events of the log a projection has yet to go through.", "projection")
	m.applyDuration = m.histogramVec("inkwell_projection_apply_seconds", "Time to apply one batch of events, by projection.", append([]float64{.0005}, latency[:len(latency)-1]...), "projection")
	m.applied = m.counterVec("inkwell_projection_events_applied_total", "Events a projection applied in this process.", "projection")
	m.leader = m.gaugeVec("inkwell_projection_leader", "1 while this process applies the projection.", "projection")
	m.stuck = m.gaugeVec("inkwell_projection_stuck_event", "Log sequence of the event a projection cannot apply (0: none).", "projection")
	m.unavailable = m.counterVec("inkwell_dependency_unavailable_total", "Requests answered 503 because a dependency could not serve, by dependency.", "dependency")
	m.ready = m.gauge("inkwell_ready", "1 while /readyz answers 200, as of its last check.")
	m.diskFree = m.gauge("inkwell_data_dir_free_bytes", "Bytes available to Inkwell on the filesystem of the data directory.")
	m.diskSize = m.gauge("inkwell_data_dir_size_bytes", "Size of the filesystem of the data directory.")
	m.logBytes = m.gauge("inkwell_event_log_bytes", "Bytes the event log's stream holds.")
	m.logWritable = m.gauge("inkwell_event_log_writable", "1 while the event log can take writes, as this process knows.")
	m.idempotent = m.counterVec("inkwell_idempotent_requests_total", "Requests with an Idempotency-Key, by outcome (new, replayed, retried, in_flight, mismatch).", "outcome")
	m.reactorHandled = m.counterVec("inkwell_reactor_messages_total", "Events reactors handled, by reactor and outcome (ok, error, panic).", "reactor", "outcome")
	m.reactorRetries = m.counterVec("inkwell_reactor_retries_total", "Retries of events reactors failed to handle.", "reactor")
	m.deadLetters = m.counterVec("inkwell_reactor_dead_letters_total", "Events reactors gave up on (sent to the dead-letter stream).", "reactor")
	m.masterKeyFile = m.gauge("inkwell_master_key_file_ok", "1 while the master key file holds the key this process started with (0: it is gone, unreadable or another key: no instance could start with it).")
	m.masterKeyFile.Set(1)
	m.buildInfo = m.gaugeVec("inkwell_build_info", "Always 1; the labels say which build runs.", "version", "revision", "go_version")
	m.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Known names the label values a server knows at start-up: its
// projections, reactors, the dependencies that can be unavailable and the
// event types it can append.
type Known struct {
	Projections  []string
	Reactors     []string
	Dependencies []string
	EventTypes   []string
}

// Outcomes of a request with an Idempotency-Key, and of a reactor's
// handling of an event, as the metrics label them.
var (
	IdempotencyOutcomes = []string{"new", "replayed", "retried", "in_flight", "mismatch"}
	ReactorOutcomes     = []string{"ok", "error", "panic"}
)

// Declare exports, with their zeros, the series of every label value k
// names, so that a dashboard or an alert finds them from start-up rather
// than from the first time each counts something. The series labelled by
// what requests, commands and queries a server serves (route, method,
// status, command, query, outcome) begin with the first they count.
func (m *Metrics) Declare(k Known) {
	for _, p := range k.Projections {
		m.checkpoint.WithLabelValues(p)
		m.lag.WithLabelValues(p)
		m.applyDuration.WithLabelValues(p)
		m.applied.WithLabelValues(p)
		m.leader.WithLabelValues(p)
		m.stuck.WithLabelValues(p)
	}
	for _, r := range k.Reactors {
		for _, o := range ReactorOutcomes {
			m.reactorHandled.WithLabelValues(r, o)
		}
		m.reactorRetries.WithLabelValues(r)
		m.deadLetters.WithLabelValues(r)
	}
	for _, d := range k.Dependencies {
		m.unavailable.WithLabelValues(d)
	}
	for _, t := range k.EventTypes {
		m.eventsAppended.WithLabelValues(t)
	}
	for _, o := range IdempotencyOutcomes {
		m.idempotent.WithLabelValues(o)
	}
}

// SetBuildInfo records which build runs.
func (m *Metrics) SetBuildInfo(version, revision, goVersion string) {
	m.buildInfo.WithLabelValues(version, revision, goVersion).Set(1)
}

// Catalog describes every metric of Inkwell's own (the Go runtime's and the
// process's, go_* and process_*, aside).
func (m *Metrics) Catalog() []Info { return slices.Clone(m.catalog) }

func (m *Metrics) register(c prometheus.Collector, typ, name, help string, labels []string) {
	m.Registry.MustRegister(c)
	m.catalog = append(m.catalog, Info{Name: name, Type: typ, Labels: labels, Help: help})
}

func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.register(c, "counter", name, help, labels)
	return c
}

func (m *Metrics) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	m.register(g, "gauge", name, help, labels)
	return g
}

func (m *Metrics) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	m.register(g, "gauge", name, help, nil)
	return g
}

func (m *Metrics) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.register(h, "histogram", name, help, labels)
	return h
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

// ObserveQuery records one query of the event log.
func (m *Metrics) ObserveQuery(query, outcome string, d time.Duration) {
	m.queries.WithLabelValues(query, outcome).Inc()
	m.queryDuration.WithLabelValues(query).Observe(d.Seconds())
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
	m.leader.WithLabelValues(projection).Set(boolValue(leading))
}

// ReactorHandled records an event a reactor handled (or failed to).
func (m *Metrics) ReactorHandled(reactor, outcome string) {
	m.reactorHandled.WithLabelValues(reactor, outcome).Inc()
}

// ReactorRetried records a retry of an event.
func (m *Metrics) ReactorRetried(reactor string) { m.reactorRetries.WithLabelValues(reactor).Inc() }

// DeadLettered records an event a reactor gave up on.
func (m *Metrics) DeadLettered(reactor string) { m.deadLetters.WithLabelValues(reactor).Inc() }

// SetStuck records the event a projection cannot apply (0: none).
func (m *Metrics) SetStuck(projection string, seq uint64) {
	m.stuck.WithLabelValues(projection).Set(float64(seq))
}

// DependencyUnavailable records a request answered 503 because dependency
// could not serve.
func (m *Metrics) DependencyUnavailable(dependency string) {
	m.unavailable.WithLabelValues(dependency).Inc()
}

// SetMasterKeyFile records whether the master key file still holds the
// key this process started with.
func (m *Metrics) SetMasterKeyFile(ok bool) { m.masterKeyFile.Set(boolValue(ok)) }

// SetReady records the outcome of the last readiness check.
func (m *Metrics) SetReady(ready bool) { m.ready.Set(boolValue(ready)) }

// SetDisk records the free and total bytes of the data directory's
// filesystem.
func (m *Metrics) SetDisk(free, size uint64) {
	m.diskFree.Set(float64(free))
	m.diskSize.Set(float64(size))
}

// SetEventLog records the bytes the log holds and whether it can take writes.
func (m *Metrics) SetEventLog(bytes uint64, writable bool) {
	m.logBytes.Set(float64(bytes))
	m.logWritable.Set(boolValue(writable))
}

// IdempotentRequest records a request with an Idempotency-Key.
func (m *Metrics) IdempotentRequest(outcome string) { m.idempotent.WithLabelValues(outcome).Inc() }

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
