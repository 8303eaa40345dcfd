package auth

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/latchid/latch/store"
)

// metrics are the service's Prometheus collectors, on a registry of their
// own so that several servers can live in one process (tests). Labels are
// low-cardinality by construction: no user, IP or token ever becomes one.
type metrics struct {
	registry      *prometheus.Registry
	ceremonies    *prometheus.CounterVec
	issued        *prometheus.CounterVec
	verifications *prometheus.CounterVec
	latency       *prometheus.HistogramVec
}

// newMetrics builds the collectors; storeStats reports the store's committed
// transactions and the writes they carried (their ratio is the mean
// group-commit batch).
func newMetrics(storeStats func() store.Stats) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		ceremonies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_ceremonies_total",
			Help: "WebAuthn and MFA ceremonies by kind and outcome.",
		}, []string{"kind", "outcome"}),
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_tokens_issued_total",
			Help: "Token responses by grant and outcome.",
		}, []string{"grant", "outcome"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "latch_token_verifications_total",
			Help: "Access-token and credential verifications by kind and outcome.",
		}, []string{"kind", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "latch_http_request_duration_seconds",
			Help:    "HTTP request latency by route, method and status class.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method", "status"}),
	}
	commits := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "latch_store_commits_total",
		Help: "Write transactions committed (each one fsync'd).",
	}, func() float64 { return float64(storeStats().Commits) })
	writes := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "latch_store_writes_total",
		Help: "Writes carried by committed transactions; divided by commits, the mean group-commit batch.",
	}, func() float64 { return float64(storeStats().Writes) })
	pages := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "latch_store_pages_written_total",
		Help: "Database pages written by committed transactions (one write system call each); divided by commits, the pages per commit.",
	}, func() float64 { return float64(storeStats().PagesWritten) })
	pending := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "latch_pending_ceremonies",
		Help: "WebAuthn ceremonies begun and not yet finished or expired.",
	}, func() float64 { return float64(storeStats().Pending) })
	evicted := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "latch_pending_ceremonies_evicted_total",
		Help: "Unfinished ceremonies dropped to make room in a full table: a flood of begins.",
	}, func() float64 { return float64(storeStats().Evicted) })
	m.registry.MustRegister(m.ceremonies, m.issued, m.verifications, m.latency, commits, writes, pages, pending, evicted,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// outcome turns an error into a metric label.
func outcome(err error) string {
	if err == nil {
		return "success"
	}
	if e, ok := asError(err); ok {
		return e.Code
	}
	return "error"
}

// observe records the latency of every request under its route pattern.
func (s *Server) observe(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		if e, ok := asError(err); ok {
			status = e.Status
		} else if fe, ok := err.(*fiber.Error); ok {
			status = fe.Code
		} else {
			status = 500
		}
	}
	route := c.Route().Path
	if status == fiber.StatusNotFound && (route == "/" || route == "") && c.Path() != "/" {
		route = "unmatched"
	}
	s.metrics.latency.WithLabelValues(route, c.Method(), strconv.Itoa(status/100)+"xx").Observe(time.Since(start).Seconds())
	return err
}
