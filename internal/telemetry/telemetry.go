// Package telemetry is extdir's metrics and traces: Prometheus metrics on a
// registry of its own, and OpenTelemetry spans when the standard OTEL_*
// variables ask for them. A Telemetry is the graph.Observer of the API, the
// wrapper of its store (Store) and the group commit's hook (OnCommit);
// internal/server wires it into every server it builds.
//
// Either half may be off. With both off there is no Telemetry at all, and
// the API pays nothing; with metrics on and traces off a request costs a
// few atomic additions and one map lookup, and no allocation; only traces
// allocate, a span per request and per store call.
package telemetry

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/extdir/extdir/graph"
)

// Options says what a Telemetry measures.
type Options struct {
	// Metrics turns the Prometheus metrics on.
	Metrics bool
	// PerTenant labels the profile gauge by tenant as well as by kind and
	// state: one series per tenant and kind, which a directory of many
	// tenants pays for in Prometheus' memory.
	PerTenant bool
	// StatsMaxAge is how long the profile counts and the database size of
	// one scrape are reused by the next, so that frequent scrapes (or
	// several Prometheus servers) do not each count the table; 0 counts on
	// every scrape.
	StatsMaxAge time.Duration
	// Tracer, when set, turns the traces on: the tracer of a provider from
	// TracerProviderFromEnv, or of a test's in-memory one.
	Tracer trace.Tracer
}

// Telemetry measures one server. Its methods are safe for concurrent use.
type Telemetry struct {
	m      *metrics     // nil: metrics off
	tracer trace.Tracer // nil: traces off
	opts   Options
}

var _ graph.Observer = (*Telemetry)(nil)

// New returns the Telemetry the options ask for, or nil when they ask for
// nothing: a nil *Telemetry must not be set as an Observer (the interface
// would not be nil), which Observer takes care of.
func New(o Options) *Telemetry {
	if !o.Metrics && o.Tracer == nil {
		return nil
	}
	t := &Telemetry{tracer: o.Tracer, opts: o}
	if o.Metrics {
		t.m = newMetrics()
	}
	return t
}

// Observer is t as the API's graph.Observer, nil when t is nil.
func (t *Telemetry) Observer() graph.Observer {
	if t == nil {
		return nil
	}
	return t
}

// MetricsEnabled reports whether t keeps metrics.
func (t *Telemetry) MetricsEnabled() bool { return t != nil && t.m != nil }

// TracingEnabled reports whether t makes spans.
func (t *Telemetry) TracingEnabled() bool { return t != nil && t.tracer != nil }

// Handler serves the metrics in the Prometheus exposition formats; nil
// when metrics are off.
func (t *Telemetry) Handler() http.Handler {
	if !t.MetricsEnabled() {
		return nil
	}
	return t.m.handler()
}

// OnCommit is the hook for sqlite.Options.OnCommit: it records the writes
// of each group-committed transaction. nil when metrics are off, so that
// the committer does not even call it.
func (t *Telemetry) OnCommit() func(writes int) {
	if !t.MetricsEnabled() {
		return nil
	}
	h := t.m.commitWrites
	return func(writes int) { h.Observe(float64(writes)) }
}

// RequestStart implements graph.Observer.
func (t *Telemetry) RequestStart(ctx context.Context, r *http.Request, info graph.RequestInfo) context.Context {
	if t.m != nil && info.BatchStep == "" {
		t.m.inFlight.Inc()
	}
	if t.tracer != nil {
		ctx = t.startRequestSpan(ctx, r, info)
	}
	return ctx
}

// RequestDone implements graph.Observer.
func (t *Telemetry) RequestDone(ctx context.Context, info graph.RequestInfo) {
	if t.m != nil {
		t.m.requestDone(info)
	}
	if t.tracer != nil {
		endRequestSpan(ctx, info)
	}
}

// StartSpan implements graph.Observer.
func (t *Telemetry) StartSpan(ctx context.Context, name string) context.Context {
	if t.tracer == nil {
		return ctx
	}
	ctx, _ = t.tracer.Start(ctx, name)
	return ctx
}

// EndSpan implements graph.Observer.
func (t *Telemetry) EndSpan(ctx context.Context, err error) {
	if t.tracer == nil {
		return
	}
	endSpan(trace.SpanFromContext(ctx), err)
}

// TokenIssued implements graph.Observer.
func (t *Telemetry) TokenIssued(grantType string) {
	if t.m != nil {
		t.m.tokensIssued.WithLabelValues(grantType).Inc()
	}
}

// TokenRefused implements graph.Observer.
func (t *Telemetry) TokenRefused(grantType, reason string) {
	if t.m != nil {
		t.m.tokensRefused.WithLabelValues(grantType, reason).Inc()
	}
}

// Throttled implements graph.Observer.
func (t *Telemetry) Throttled(limit string) {
	if t.m != nil {
		t.m.throttled.WithLabelValues(limit).Inc()
	}
}

// RequestShed implements graph.Observer: the load shedding calls it (through
// graph.Server.RequestShed) for each request it refuses with 503.
func (t *Telemetry) RequestShed() {
	if t.m != nil {
		t.m.shed.Inc()
	}
}
