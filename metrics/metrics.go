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
		stuck: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "inkwell_projection_stuck_event", Help: "Log sequence of the event a projection cannot apply (0: none).",
		}, []string{"projection"}),
		unavailable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inkwell_dependency_unavailable_total", Help: "Requests answered 503 because a dependency could not serve, by dependency.",
		}, []string{"dependency"}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inkwell_ready", Help: "1 while /readyz answers 200, as of its last check.",
		}),
		diskFree: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inkwell_data_dir_free_bytes", Help: "Bytes available to Inkwell on the filesystem of the data directory.",
		}),
		diskSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inkwell_data_dir_size_bytes", Help: "Size of the filesystem of the data directory.",
		}),
		logBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inkwell_event_log_bytes", Help: "Bytes the event log's stream holds.",
		}),
		logWritable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inkwell_event_log_writable", Help: "1 while the event log can take writes, as this process knows.",
		}),
		idempotent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inkwell_idempotent_requests_total", Help: "Requests with an Idempotency-Key, by outcome (new, replayed, retried, in_flight, mismatch).",
		}, []string{"outcome"}),
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
		m.checkpoint, m.lag, m.applyDuration, m.applied, m.leader, m.stuck,
		m.unavailable, m.ready, m.diskFree, m.diskSize, m.logBytes, m.logWritable, m.idempotent,
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
