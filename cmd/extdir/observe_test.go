package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// metricsURL finds the metrics listener's address in the server's log.
func (ts *testServer) metricsURL() string {
	for line := range strings.SplitSeq(ts.logText(), "\n") {
		var e struct{ Msg, URL string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "metrics listening" {
			return e.URL
		}
	}
	return ""
}

func (ts *testServer) get(url string) (int, string) {
	ts.t.Helper()
	resp, err := ts.client.Get(url)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsOnTheMainListenerByDefault(t *testing.T) {
	ts := startServer(t)
	ts.get(ts.base + "/healthz")
	status, body := ts.get(ts.base + "/metrics")
	if status != 200 || !strings.Contains(body, `extdir_http_requests_total{code="200",method="GET",route="/healthz"} 1`) {
		t.Fatalf("GET /metrics: %d %.500s", status, body)
	}
	if ts.metricsURL() != "" {
		t.Error("a metrics listener of its own without --metrics-listen")
	}
}

func TestMetricsListen(t *testing.T) {
	ts := startServer(t, "--metrics-listen", "127.0.0.1:0")
	u := ts.metricsURL()
	if !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Fatalf("metrics URL %q, want one on 127.0.0.1", u)
	}
	if status, _ := ts.get(ts.base + "/metrics"); status != 404 {
		t.Errorf("the main listener answers /metrics with %d, want 404 with --metrics-listen", status)
	}
	status, body := ts.get(u)
	if status != 200 || !strings.Contains(body, `extdir_http_requests_total{code="404",method="GET",route="/metrics"} 1`) {
		t.Fatalf("GET %s: %d %.500s", u, status, body)
	}
	// The listener of its own serves nothing else.
	if status, _ := ts.get(strings.TrimSuffix(u, "/metrics") + "/healthz"); status != 404 {
		t.Errorf("the metrics listener answers /healthz with %d", status)
	}
}

func TestMetricsOff(t *testing.T) {
	ts := startServer(t, "--metrics=false")
	if status, _ := ts.get(ts.base + "/metrics"); status != 404 {
		t.Errorf("GET /metrics with --metrics=false: %d, want 404", status)
	}
}

func TestObserveFlagsRefused(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"--metrics-listen without metrics", []string{"--metrics=false", "--metrics-listen", "127.0.0.1:9464"}, nil, "need --metrics"},
		{"--metrics-listen without a port", []string{"--metrics-listen", "127.0.0.1"}, nil, "host:port"},
		{"an exporter extdir does not have", nil, map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"}, "OTEL_TRACES_EXPORTER"},
		{"OTLP over gRPC", nil, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "http/protobuf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tt.args...)
			err := run(context.Background(), args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			var usage *usageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a usage error about %s", err, tt.want)
			}
		})
	}
}

// TestTracesFromTheEnvironment runs serve with OTEL_TRACES_EXPORTER=console,
// the one exporter that needs no collector: the spans of a request reach
// stderr by the time the server has stopped.
func TestTracesFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready.json")
	// In the process's environment: the SDK reads OTEL_SERVICE_NAME and
	// the exporter's settings there, not through run's getenv.
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_SERVICE_NAME", "extdir-under-test")
	otelOnly := func(k string) string {
		if strings.HasPrefix(k, "OTEL_") {
			return os.Getenv(k)
		}
		return ""
	}
	var stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--database", "memory", "--log-format", "json", "--ready-file", ready},
			otelOnly, io.Discard, &stderr)
	}()
	var line struct{ URL string }
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(ready); err == nil && json.Unmarshal(b, &line) == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ready file\n%s", stderr.String())
		}
	}
	req, _ := http.NewRequest("GET", strings.TrimSuffix(line.URL, "/beta")+"/healthz", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if tr := resp.Header.Get("traceresponse"); !strings.HasPrefix(tr, "00-4bf92f3577b34da6a3ce929d0e0e4736-") {
		t.Errorf("traceresponse %q, want one in the caller's trace", tr)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var found bool
	for l := range strings.SplitSeq(stderr.String(), "\n") {
		var span struct {
			Name        string
			SpanContext struct{ TraceID string }
			Resource    []struct {
				Key   string
				Value struct{ Value any }
			}
		}
		if json.Unmarshal([]byte(l), &span) != nil || span.Name != "GET /healthz" {
			continue
		}
		found = true
		if span.SpanContext.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("span in trace %s, want the caller's", span.SpanContext.TraceID)
		}
		service := ""
		for _, kv := range span.Resource {
			if kv.Key == "service.name" {
				service, _ = kv.Value.Value.(string)
			}
		}
		if service != "extdir-under-test" {
			t.Errorf("service.name %q, want OTEL_SERVICE_NAME's", service)
		}
	}
	if !found {
		t.Errorf("no span of GET /healthz on stderr:\n%s", stderr.String())
	}
}
