package server

import (
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus instruments, on a registry of its own (not the global one,
// so that several servers can live in one process, as in the tests).
type metrics struct {
	registry *prometheus.Registry
	// handler serves the registry (promhttp), on /metrics or on the metrics listener.
	handler http.Handler
	// separate: served on their own listener, not on the API's /metrics.
	separate bool
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
	// counters (opStatus → Counter) and histograms (operation → Observer) cache children.
	counters, histograms sync.Map
	// MCP: requests by JSON-RPC method (a known set, else "other") and outcome; tool calls by
	// integration (the catalogue's) and outcome; upstream call latency by integration.
	mcpRequests  *prometheus.CounterVec
	mcpToolCalls *prometheus.CounterVec
	mcpUpstream  *prometheus.HistogramVec
}

func newMetrics(db *sql.DB, separate bool) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		separate: separate,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpapi_http_requests_total",
			Help: "HTTP requests by operation (operationId, or 'unknown' off the spec) and status code.",
		}, []string{"operation", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcpapi_http_request_duration_seconds",
			Help:    "Time from the first middleware to the response, by operation.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mcpapi_http_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
		mcpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpapi_mcp_requests_total",
			Help: "MCP requests by JSON-RPC method (initialize, ping, tools/list, tools/call, …, other, none, batch) and outcome (ok, error, unauthorized, rate_limited, unavailable, failed, rejected).",
		}, []string{"method", "outcome"}),
		mcpToolCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mcpapi_mcp_tool_calls_total",
			Help: "MCP tool calls by integration and outcome (ok, tool_error, upstream_error, timeout, refused).",
		}, []string{"integration", "outcome"}),
		mcpUpstream: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mcpapi_mcp_upstream_duration_seconds",
			Help:    "Duration of the upstream API calls of MCP tool calls, answered or not, by integration.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"integration"}),
	}
	m.registry.MustRegister(m.requests, m.duration, m.inFlight, m.mcpRequests, m.mcpToolCalls, m.mcpUpstream,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		m.registry.MustRegister(collectors.NewDBStatsCollector(db, "mcpapi"))
	}
	return m
}

// serveWith makes the handler that serves the registry (promhttp). A collector that fails costs
// its own metrics, not the whole page, and is logged as an error.
func (m *metrics) serveWith(log *slog.Logger) {
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelError),
	})
}

func (m *metrics) observe(c echo.Context, op string, start time.Time) {
	if op == "" {
		op = "unknown"
	}
	m.counter(op, c.Response().Status).Inc()
	m.histogram(op).Observe(time.Since(start).Seconds())
}

// counter and histogram are the children of the request metrics, found once per label pair and
// kept: WithLabelValues hashes its labels on every call. Both sets are bounded by the spec's
// operations (plus "unknown") times the statuses they answer.
func (m *metrics) counter(op string, status int) prometheus.Counter {
	key := opStatus{op, status}
	if c, ok := m.counters.Load(key); ok {
		return c.(prometheus.Counter)
	}
	c, _ := m.counters.LoadOrStore(key, m.requests.WithLabelValues(op, strconv.Itoa(status)))
	return c.(prometheus.Counter)
}

func (m *metrics) histogram(op string) prometheus.Observer {
	if h, ok := m.histograms.Load(op); ok {
		return h.(prometheus.Observer)
	}
	h, _ := m.histograms.LoadOrStore(op, m.duration.WithLabelValues(op))
	return h.(prometheus.Observer)
}

type opStatus struct {
	op     string
	status int
}
