package telemetry_test

import (
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/telemetry"
)

// traced starts a server whose spans go to an in-memory exporter, as they
// end.
func traced(t *testing.T, metrics bool) (*testServer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	tel := telemetry.New(telemetry.Options{Metrics: metrics, Tracer: tp.Tracer(telemetry.ScopeName)})
	return startServer(t, tel), exp
}

func attr(s tracetest.SpanStub, key attribute.Key) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.String()
		}
	}
	return ""
}

// children are the spans whose parent is the span p.
func children(spans tracetest.SpanStubs, p tracetest.SpanStub) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Parent.SpanID() == p.SpanContext.SpanID() && s.Parent.TraceID() == p.SpanContext.TraceID() {
			out = append(out, s)
		}
	}
	return out
}

func names(spans []tracetest.SpanStub) string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return strings.Join(out, ",")
}

// only returns the one span with the name, failing without exactly one.
func only(t *testing.T, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d spans named %q, want 1; spans: %s", len(found), name, names(spans))
	}
	return found[0]
}

func TestARequestIsATraceUnderItsCaller(t *testing.T) {
	s, exp := traced(t, true)
	tok := s.token()
	id := s.create(tok, 1)
	exp.Reset()

	const (
		callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		callerSpan  = "00f067aa0ba902b7"
	)
	resp, _ := s.do("GET", pendingPath+"/"+id, tok, "",
		"traceparent", "00-"+callerTrace+"-"+callerSpan+"-01",
		"client-request-id", "my-client-request")
	if resp.StatusCode != 200 {
		t.Fatalf("get: %d", resp.StatusCode)
	}
	spans := exp.GetSpans()
	srv := only(t, spans, "GET "+pendingRoute+"/{id}")
	if srv.SpanKind != trace.SpanKindServer {
		t.Errorf("kind %v, want server", srv.SpanKind)
	}
	if got := srv.SpanContext.TraceID().String(); got != callerTrace {
		t.Errorf("trace %s, want the caller's %s", got, callerTrace)
	}
	if got := srv.Parent.SpanID().String(); got != callerSpan || !srv.Parent.IsRemote() {
		t.Errorf("parent %s (remote %v), want the caller's span %s", got, srv.Parent.IsRemote(), callerSpan)
	}
	if got, want := attr(srv, telemetry.AttrRequestID), resp.Header.Get("request-id"); got == "" || got != want {
		t.Errorf("graph.request_id %q, the answer's request-id is %q", got, want)
	}
	if got := attr(srv, telemetry.AttrClientRequestID); got != "my-client-request" {
		t.Errorf("graph.client_request_id %q, want the client's", got)
	}
	if got := attr(srv, "http.route"); got != pendingRoute+"/{id}" {
		t.Errorf("http.route %q", got)
	}
	if got := attr(srv, "http.response.status_code"); got != "200" {
		t.Errorf("http.response.status_code %q", got)
	}
	// The answer names the server's span, in traceparent's format.
	if got, want := resp.Header.Get("traceresponse"), "00-"+callerTrace+"-"+srv.SpanContext.SpanID().String()+"-01"; got != want {
		t.Errorf("traceresponse %q, want %q", got, want)
	}
	// Its children: the token check and the store's read.
	if got := names(children(spans, srv)); got != graph.SpanAuth+",store.get" {
		t.Errorf("children of the request's span: %s, want %s,store.get", got, graph.SpanAuth)
	}
	get := only(t, spans, "store.get")
	if attr(get, "db.system.name") != "sqlite" || attr(get, "db.operation.name") != "get" || get.SpanKind != trace.SpanKindClient {
		t.Errorf("store.get: %v %v", get.SpanKind, get.Attributes)
	}
	if len(spans) != 3 {
		t.Errorf("%d spans, want 3: %s", len(spans), names(spans))
	}
}

func TestARequestWithoutTraceparentStartsATrace(t *testing.T) {
	s, exp := traced(t, false)
	resp, _ := s.do("GET", "/healthz", "", "")
	srv := only(t, exp.GetSpans(), "GET /healthz")
	if srv.Parent.IsValid() {
		t.Errorf("parent %v, want none", srv.Parent)
	}
	if got := resp.Header.Get("traceresponse"); !strings.Contains(got, srv.SpanContext.TraceID().String()) {
		t.Errorf("traceresponse %q does not name the trace %s", got, srv.SpanContext.TraceID())
	}
	// A failing token check is marked on its span, not on the request's,
	// whose 401 is the client's mistake.
	exp.Reset()
	s.do("GET", pendingPath, "not-a-token", "")
	spans := exp.GetSpans()
	if a := only(t, spans, graph.SpanAuth); a.Status.Code.String() != "Error" {
		t.Errorf("auth span status %v, want Error", a.Status)
	}
	if r := only(t, spans, "GET "+pendingRoute); r.Status.Code.String() == "Error" {
		t.Errorf("a 401's span is an error: %v", r.Status)
	}
}

func TestEveryBatchStepIsAChildSpan(t *testing.T) {
	s, exp := traced(t, true)
	tok := s.token()
	id := s.create(tok, 1)
	exp.Reset()
	const missing = "0d0e5c4b-dead-4000-8000-000000000000"
	batch := `{"requests":[
		{"id":"a","method":"GET","url":"/directory/pendingExternalUserProfiles/` + id + `"},
		{"id":"b","method":"GET","url":"/directory/pendingExternalUserProfiles/` + missing + `"},
		{"id":"c","method":"GET","url":"/directory/pendingExternalUserProfiles/` + id + `","dependsOn":["b"]}]}`
	resp, body := s.do("POST", "/beta/$batch", tok, batch)
	if resp.StatusCode != 200 {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}
	spans := exp.GetSpans()
	top := only(t, spans, "POST /beta/$batch")
	var steps []string
	for _, c := range children(spans, top) {
		if c.Name == graph.SpanAuth {
			continue
		}
		if c.SpanKind != trace.SpanKindInternal || c.Name != "GET "+pendingRoute+"/{id}" {
			t.Errorf("child %q of kind %v, want an internal span per step", c.Name, c.SpanKind)
		}
		step := attr(c, telemetry.AttrBatchStep) + "=" + attr(c, "http.response.status_code")
		steps = append(steps, step)
		// A step that ran read the store under its own span; the one
		// that did not run has no child at all.
		want := graph.SpanAuth + ",store.get"
		if step == "c=424" {
			want = ""
		}
		if got := names(children(spans, c)); got != want {
			t.Errorf("children of step %s: %q, want %q", step, got, want)
		}
		if attr(c, telemetry.AttrRequestID) == "" || attr(c, telemetry.AttrRequestID) == attr(top, telemetry.AttrRequestID) {
			t.Errorf("step %s has the request id %q, want one of its own", step, attr(c, telemetry.AttrRequestID))
		}
	}
	if got := strings.Join(steps, " "); got != "a=200 b=404 c=424" {
		t.Errorf("steps %q, want a=200 b=404 c=424", got)
	}
	if strings.Contains(body, "traceresponse") || strings.Contains(body, "Traceresponse") {
		t.Errorf("a step's answer inside the batch carries a traceresponse: %s", body)
	}
}

func TestTracingFromEnv(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
		fail bool
	}{
		{map[string]string{}, "", false},
		{map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, "otlp", false},
		{map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, "otlp", false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, "otlp", false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "console"}, "console", false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}, "", false},
		{map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, "", false},
		{map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, "", true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "", true},
		{map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}, "otlp", false},
	}
	for _, tt := range tests {
		cfg, err := telemetry.TracingFromEnv(func(k string) string { return tt.env[k] })
		if (err != nil) != tt.fail || cfg.Exporter != tt.want {
			t.Errorf("%v: exporter %q, error %v; want %q, failure %v", tt.env, cfg.Exporter, err, tt.want, tt.fail)
		}
	}
}
