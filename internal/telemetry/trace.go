package telemetry

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/extdir/extdir/graph"
)

// ScopeName is the instrumentation scope of extdir's spans.
const ScopeName = "github.com/extdir/extdir"

// Span attributes of extdir's own, beside OpenTelemetry's semantic
// conventions: the Graph ids of the request, which the client sees in the
// answer's headers and in every error body, and the id of an inner
// request in its $batch.
const (
	AttrRequestID       = attribute.Key("graph.request_id")
	AttrClientRequestID = attribute.Key("graph.client_request_id")
	AttrBatchStep       = attribute.Key("graph.batch.step_id")
)

// TraceResponseHeader is the response header that tells a client the trace
// and the span of its request: "traceresponse", from the W3C's Trace
// Context Level 3 draft (Levels 1 and 2 define request headers only), in
// the format of traceparent: 00-<trace-id>-<span-id>-<flags>.
const TraceResponseHeader = "Traceresponse"

// propagator reads W3C traceparent and tracestate from requests.
var propagator = propagation.TraceContext{}

// startRequestSpan opens the span of a request: a server span that
// continues the caller's traceparent, or for an inner request of a $batch
// an internal span under the batch's.
func (t *Telemetry) startRequestSpan(ctx context.Context, r *http.Request, info graph.RequestInfo) context.Context {
	kind := trace.SpanKindServer
	if info.BatchStep == "" {
		ctx = propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	} else {
		// The step's own headers are the client's words inside the batch;
		// its parent is the batch, already in ctx.
		kind = trace.SpanKindInternal
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(r.Method),
		semconv.URLPath(r.URL.Path),
		AttrRequestID.String(info.RequestID),
		AttrClientRequestID.String(info.ClientRequestID),
	}
	if info.BatchStep != "" {
		attrs = append(attrs, AttrBatchStep.String(info.BatchStep))
	}
	// The name is the method until the route is known (endRequestSpan).
	ctx, span := t.tracer.Start(ctx, r.Method, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	if info.BatchStep == "" && info.Header != nil {
		if sc := span.SpanContext(); sc.IsValid() {
			info.Header[TraceResponseHeader] = []string{traceResponse(sc)}
		}
	}
	return ctx
}

// traceResponse formats sc as a traceresponse (and traceparent) value,
// into one buffer: it is written on every traced request.
func traceResponse(sc trace.SpanContext) string {
	tid, sid := sc.TraceID(), sc.SpanID()
	b := make([]byte, 0, 55)
	b = append(b, "00-"...)
	b = hex.AppendEncode(b, tid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, sid[:])
	b = append(b, '-')
	b = hex.AppendEncode(b, []byte{byte(sc.TraceFlags())})
	return string(b)
}

// endRequestSpan names the request's span by its route template, as
// OpenTelemetry's HTTP conventions do ("GET /beta/directory/{collection}"),
// records the status and ends it. A 5xx (or a dropped connection) is an
// error of the server; a 4xx is the client's, and leaves the span unset.
func endRequestSpan(ctx context.Context, info graph.RequestInfo) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetName(info.Method + " " + info.Route)
	span.SetAttributes(semconv.HTTPRoute(info.Route), semconv.HTTPResponseStatusCode(info.Status))
	switch {
	case info.Status == 0:
		span.SetStatus(codes.Error, "connection dropped without an answer")
	case info.Status >= 500:
		span.SetStatus(codes.Error, http.StatusText(info.Status))
	}
	span.End()
}

// endSpan ends a child span, with its error if it failed.
func endSpan(span trace.Span, err error) {
	if err != nil {
		recordError(span, err)
	}
	span.End()
}

func recordError(span trace.Span, err error) {
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
}

// TracingConfig is what the standard OpenTelemetry variables ask of
// traces, as TracerProviderFromEnv reads them.
type TracingConfig struct {
	// Exporter is "otlp", "console" or "" (traces off).
	Exporter string
}

// TracingFromEnv reads whether and where to send traces from the standard
// variables: OTEL_TRACES_EXPORTER (otlp, console or none), or, without
// it, the presence of OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTEL_SDK_DISABLED=true turns them
// off. Unlike OpenTelemetry's SDK default (otlp to localhost), nothing set
// means no traces: a server that nobody asked to trace must not pay for it
// nor send anything anywhere.
func TracingFromEnv(getenv func(string) string) (TracingConfig, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return TracingConfig{}, nil
	}
	exporter := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")))
	switch exporter {
	case "none":
		return TracingConfig{}, nil
	case "":
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
			return TracingConfig{}, nil
		}
		exporter = "otlp"
	case "otlp", "console":
	default:
		return TracingConfig{}, fmt.Errorf("OTEL_TRACES_EXPORTER=%s: extdir exports traces with otlp or console, or none", exporter)
	}
	if exporter == "otlp" {
		protocol := getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
		if protocol == "" {
			protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
		}
		if protocol != "" && protocol != "http/protobuf" {
			return TracingConfig{}, fmt.Errorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: extdir sends OTLP over HTTP only (http/protobuf, the default); a collector's OTLP/HTTP port is 4318", protocol)
		}
	}
	return TracingConfig{Exporter: exporter}, nil
}

// TracerProvider builds the provider cfg asks for, nil when traces are off:
// spans batched to the exporter (OTEL_BSP_* tune the batching), sampled
// as OTEL_TRACES_SAMPLER says (default: every trace, or as the caller's
// traceparent decided), described by OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES over service.name=extdir. The otlp exporter
// reads its endpoint, headers, timeout, compression and certificates from
// the OTEL_EXPORTER_OTLP_* variables; console writes one JSON object per
// span to console (stderr: stdout carries --ephemeral's ready line). Shut
// the provider down at exit to flush the last spans.
func TracerProvider(ctx context.Context, cfg TracingConfig, version string, console io.Writer) (*sdktrace.TracerProvider, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch cfg.Exporter {
	case "":
		return nil, nil
	case "otlp":
		exp, err = otlptracehttp.New(ctx)
	case "console":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(console))
	default:
		err = errors.New("unknown exporter " + cfg.Exporter)
	}
	if err != nil {
		return nil, fmt.Errorf("traces: %w", err)
	}
	env, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("traces: OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	// The environment's attributes win over extdir's defaults.
	res, err := resource.Merge(resource.NewSchemaless(semconv.ServiceName("extdir"), semconv.ServiceVersion(version)), env)
	if err != nil {
		return nil, fmt.Errorf("traces: resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}
