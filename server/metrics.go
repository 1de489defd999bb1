package server

import (
	"database/sql"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus instruments, on a registry of its own (not the global one,
// so that several servers can live in one process, as in the tests).
type metrics struct {
	registry *prometheus.Registry
	// separate: served on their own listener, not on the API's /metrics.
	separate bool
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
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
	}
	m.registry.MustRegister(m.requests, m.duration, m.inFlight,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if db != nil {
		m.registry.MustRegister(collectors.NewDBStatsCollector(db, "mcpapi"))
	}
	return m
}

// Registry is what a separate metrics listener serves.
func (m *metrics) Registry() *prometheus.Registry { return m.registry }

func (m *metrics) observe(c echo.Context, op string, start time.Time) {
	if op == "" {
		op = "unknown"
	}
	m.requests.WithLabelValues(op, strconv.Itoa(c.Response().Status)).Inc()
	m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
}
