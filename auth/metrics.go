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

// newMetrics builds the collectors; storeStats reports the store's write
// activity and pending ceremonies, writeHealth its failed commits.
func newMetrics(storeStats func() store.Stats, writeHealth func() store.WriteHealth) *metrics {
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
	failures := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "latch_store_commit_failures_total",
		Help: "Write transactions that failed to commit (disk full, I/O error); their callers got 503.",
	}, func() float64 { return float64(writeHealth().Failures) })
	failing := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "latch_store_write_failing",
		Help: "1 while the store's last commit failed (readiness answers 503), else 0.",
	}, func() float64 {
		if writeHealth().Failing {
			return 1
		}
		return 0
	})
	m.registry.MustRegister(m.ceremonies, m.issued, m.verifications, m.latency, storeCollector(storeStats), failures, failing,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// storeMetric is one figure of store.Stats as a Prometheus metric.
type storeMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(store.Stats) uint64
}

// storeCollector exports store.Stats, read once per scrape.
type storeCollector func() store.Stats

var storeMetrics = []storeMetric{
	{prometheus.NewDesc("latch_store_commits_total", "Write transactions committed (each one fsync'd).", nil, nil),
		prometheus.CounterValue, func(s store.Stats) uint64 { return s.Commits }},
	{prometheus.NewDesc("latch_store_writes_total", "Writes carried by committed transactions; divided by commits, the mean group-commit batch.", nil, nil),
		prometheus.CounterValue, func(s store.Stats) uint64 { return s.Writes }},
	{prometheus.NewDesc("latch_store_pages_written_total", "Database pages written by committed transactions (one write system call each); divided by commits, the pages per commit.", nil, nil),
		prometheus.CounterValue, func(s store.Stats) uint64 { return s.PagesWritten }},
	{prometheus.NewDesc("latch_pending_ceremonies", "WebAuthn ceremonies begun and not yet finished or expired.", nil, nil),
		prometheus.GaugeValue, func(s store.Stats) uint64 { return s.Pending }},
	{prometheus.NewDesc("latch_pending_ceremonies_evicted_total", "Unfinished ceremonies dropped to make room in a full table: a flood of begins.", nil, nil),
		prometheus.CounterValue, func(s store.Stats) uint64 { return s.Evicted }},
}

func (c storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range storeMetrics {
		ch <- m.desc
	}
}

func (c storeCollector) Collect(ch chan<- prometheus.Metric) {
	st := c()
	for _, m := range storeMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, float64(m.value(st)))
	}
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
	// The route is the registered pattern, a string of the app's own; the
	// request's path never becomes a label.
	route := c.Route().Path
	if status == fiber.StatusNotFound && (route == "/" || route == "") && c.Path() != "/" {
		route = "unmatched"
	}
	s.metrics.latency.WithLabelValues(route, methodLabel(c.Method()), strconv.Itoa(status/100)+"xx").Observe(time.Since(start).Seconds())
	return err
}

// methodLabel maps a request method to a constant label. c.Method() is a
// view of fasthttp's reused request buffer: kept as a label it would change
// under the registry with the next request on the connection (series read
// "POS" or "GETT", duplicates fail every scrape). Constants also keep the
// label's values bounded whatever methods clients invent.
func methodLabel(m string) string {
	for _, known := range [...]string{
		fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodPatch, fiber.MethodDelete,
		fiber.MethodHead, fiber.MethodOptions, fiber.MethodConnect, fiber.MethodTrace,
	} {
		if m == known {
			return known
		}
	}
	return "other"
}
