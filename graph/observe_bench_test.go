package graph_test

import (
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/telemetry"
)

// observed measures the server as extdir serve builds it by default
// (metrics on) and, with traces, as it does with an OTLP exporter: every
// span batched and handed to an exporter that drops it. Against
// BenchmarkGetByID (nothing observed), the difference is what each costs
// a read.
func observed(tel *telemetry.Telemetry) func(*graph.Server) {
	return func(srv *graph.Server) {
		srv.Observer = tel.Observer()
		srv.Metrics = tel.Handler()
		srv.Store = tel.Store(srv.Store)
	}
}

func BenchmarkGetByIDWithMetrics(b *testing.B) {
	s := newBenchServer(b, observed(telemetry.New(telemetry.Options{Metrics: true})))
	id := s.create(b)
	path := "/beta/directory/pendingExternalUserProfiles/" + id
	for b.Loop() {
		s.do(b, "GET", path, "", 200)
	}
}

func BenchmarkGetByIDWithMetricsAndTraces(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(b.Context()) })
	s := newBenchServer(b, observed(telemetry.New(telemetry.Options{Metrics: true, Tracer: tp.Tracer(telemetry.ScopeName)})))
	id := s.create(b)
	path := "/beta/directory/pendingExternalUserProfiles/" + id
	for b.Loop() {
		s.do(b, "GET", path, "", 200)
	}
}
