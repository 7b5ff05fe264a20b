package telemetry

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/extdir/extdir/graph"
)

// Metric names. Every one starts with extdir_, counts end in _total,
// durations are in seconds and sizes in bytes, as Prometheus' naming
// conventions ask.
const (
	nameRequests        = "extdir_http_requests_total"
	nameRequestDuration = "extdir_http_request_duration_seconds"
	nameInFlight        = "extdir_http_requests_in_flight"
	nameBatchInner      = "extdir_batch_inner_requests_total"
	nameTokensIssued    = "extdir_oauth_tokens_issued_total"
	nameTokensRefused   = "extdir_oauth_tokens_refused_total"
	nameThrottled       = "extdir_throttled_requests_total"
	nameShed            = "extdir_shed_requests_total"
	nameStoreDuration   = "extdir_store_operation_duration_seconds"
	nameCommitWrites    = "extdir_sqlite_group_commit_writes"
	nameProfiles        = "extdir_profiles"
	nameStoreSize       = "extdir_store_size_bytes"
)

// latencyBuckets suit extdir's requests, most of which take well under a
// millisecond: Prometheus' default buckets start at 5 ms and would put
// nearly every read in the first.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// metrics is the registry and every metric on it.
type metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	inFlight        prometheus.Gauge
	batchInner      *prometheus.CounterVec
	tokensIssued    *prometheus.CounterVec
	tokensRefused   *prometheus.CounterVec
	throttled       *prometheus.CounterVec
	shed            prometheus.Counter
	storeDuration   *prometheus.HistogramVec
	commitWrites    prometheus.Histogram

	// series caches the children of requests, requestDuration and
	// batchInner by their labels: the label values are few (the route
	// table times a few methods and statuses), and a map lookup of them
	// neither formats the status nor hashes three strings into a vector.
	mu     sync.RWMutex
	series map[seriesKey]*requestSeries
}

type seriesKey struct {
	route, method string
	code          int
	inner         bool
}

type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer // nil for an inner request
}

func newMetrics() *metrics {
	httpLabels := []string{"route", "method", "code"}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: nameRequests,
			Help: "HTTP requests answered, by route template, method and status code; the requests inside a $batch are in " + nameBatchInner + ".",
		}, httpLabels),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    nameRequestDuration,
			Help:    "Time from a request's arrival to its answer, by route template, method and status code.",
			Buckets: latencyBuckets,
		}, httpLabels),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: nameInFlight,
			Help: "HTTP requests being served (a $batch counts once).",
		}),
		batchInner: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: nameBatchInner,
			Help: "Requests inside $batch requests, by route template, method and the status code each got (424 for one not run because a request it depends on failed).",
		}, httpLabels),
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: nameTokensIssued,
			Help: "Access tokens issued by the built-in issuer's token endpoint, by grant type.",
		}, []string{"grant_type"}),
		tokensRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: nameTokensRefused,
			Help: "Token requests refused, by grant type and reason (the OAuth error code; server_error for the server's own failures).",
		}, []string{"grant_type", "reason"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: nameThrottled,
			Help: "Requests the throttle refused with 429 (inner $batch requests included), by the bucket that refused them: units or writes.",
		}, []string{"limit"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: nameShed,
			Help: "Requests refused with 503 because the server was overloaded.",
		}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    nameStoreDuration,
			Help:    "Time a store call took, by operation and backend, errors included.",
			Buckets: latencyBuckets,
		}, []string{"operation", "backend"}),
		commitWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    nameCommitWrites,
			Help:    "Writes per transaction of the SQLite group commit: each transaction costs one fsync, shared by its writes.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 9), // 1 to 256, the largest batch
		}),
		series: make(map[seriesKey]*requestSeries),
	}
	// The throttle's two buckets exist from the start, so that a rate of
	// them reads 0, not "no data", until the first refusal.
	m.throttled.WithLabelValues("units")
	m.throttled.WithLabelValues("writes")
	m.reg.MustRegister(m.requests, m.requestDuration, m.inFlight, m.batchInner,
		m.tokensIssued, m.tokensRefused, m.throttled, m.shed, m.storeDuration, m.commitWrites,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	// ContinueOnError: a failing collector (the store's statistics while
	// the database is down) costs its own series, not the whole scrape.
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// requestDone counts a request (or an inner request of a batch) and, for a
// request on its own, its duration.
func (m *metrics) requestDone(info graph.RequestInfo) {
	inner := info.BatchStep != ""
	if !inner {
		m.inFlight.Dec()
	}
	key := seriesKey{route: info.Route, method: info.Method, code: info.Status, inner: inner}
	m.mu.RLock()
	s := m.series[key]
	m.mu.RUnlock()
	if s == nil {
		s = m.newSeries(key)
	}
	s.count.Inc()
	if s.duration != nil {
		s.duration.Observe(info.Duration.Seconds())
	}
}

func (m *metrics) newSeries(key seriesKey) *requestSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.series[key]; s != nil {
		return s
	}
	code := strconv.Itoa(key.code)
	s := &requestSeries{}
	if key.inner {
		s.count = m.batchInner.WithLabelValues(key.route, key.method, code)
	} else {
		s.count = m.requests.WithLabelValues(key.route, key.method, code)
		s.duration = m.requestDuration.WithLabelValues(key.route, key.method, code)
	}
	m.series[key] = s
	return s
}
