package telemetry_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/server"
	"github.com/extdir/extdir/internal/telemetry"
)

// scrape reads /metrics as Prometheus would and parses the text format.
func (s *testServer) scrape() map[string]*dto.MetricFamily {
	s.t.Helper()
	resp, body := s.do("GET", "/metrics", "", "", "Accept", "text/plain")
	if resp.StatusCode != 200 {
		s.t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		s.t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// value is the value of the family's series with exactly these labels (a
// counter, a gauge, or a histogram's count), and whether there is one.
func value(families map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := families[name]
	if f == nil {
		return 0, false
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.Metric {
		if len(m.Label) != len(want) {
			continue
		}
		match := true
		for _, l := range m.Label {
			if want[l.GetName()] != l.GetValue() || l.GetName() == "" {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetricsAfterKnownTraffic sends a known set of requests and checks the
// series they leave, count for count.
func TestMetricsAfterKnownTraffic(t *testing.T) {
	tel := telemetry.New(telemetry.Options{Metrics: true})
	s := startServer(t, tel, withThrottle)

	// Tokens: two issued, two refused for different reasons.
	tok := s.token()
	s.token()
	if status, _ := s.tokenRequest("client_credentials", "wrong"); status != 401 {
		t.Fatalf("wrong secret: %d", status)
	}
	if status, _ := s.tokenRequest("urn:example:made-up", testSecret); status != 400 {
		t.Fatalf("unknown grant: %d", status)
	}

	// Three creates (the throttle's three writes), then one throttled.
	ids := []string{s.create(tok, 1), s.create(tok, 2), s.create(tok, 3)}
	if resp, body := s.do("POST", pendingPath, tok, `{"displayName":"Guest","phoneNumber":"+15550000009"}`); resp.StatusCode != 429 {
		t.Fatalf("fourth create: %d %s, want 429", resp.StatusCode, body)
	}
	// Three reads of different ids, one of an id that is not there, one
	// of a path no route has.
	for _, id := range ids {
		if resp, _ := s.do("GET", pendingPath+"/"+id, tok, ""); resp.StatusCode != 200 {
			t.Fatalf("get %s: %d", id, resp.StatusCode)
		}
	}
	const missing = "0d0e5c4b-dead-4000-8000-000000000000"
	if resp, _ := s.do("GET", pendingPath+"/"+missing, tok, ""); resp.StatusCode != 404 {
		t.Fatalf("get missing: %d", resp.StatusCode)
	}
	if resp, _ := s.do("GET", "/nowhere/"+missing, tok, ""); resp.StatusCode != 400 {
		t.Fatalf("get nowhere: %d", resp.StatusCode)
	}
	// A batch of four: two reads, a read of a missing id, and a read that
	// depends on it and so does not run (424).
	batch := `{"requests":[
		{"id":"1","method":"GET","url":"/directory/pendingExternalUserProfiles/` + ids[0] + `"},
		{"id":"2","method":"GET","url":"/directory/pendingExternalUserProfiles/` + ids[1] + `"},
		{"id":"3","method":"GET","url":"/directory/pendingExternalUserProfiles/` + missing + `"},
		{"id":"4","method":"GET","url":"/directory/pendingExternalUserProfiles/` + ids[2] + `","dependsOn":["3"]}]}`
	if resp, body := s.do("POST", "/beta/$batch", tok, batch); resp.StatusCode != 200 || !strings.Contains(body, `"status":424`) {
		t.Fatalf("batch: %d %s", resp.StatusCode, body)
	}

	m := s.scrape()
	const token = "/{tenant}/oauth2/v2.0/token"
	const byID = pendingRoute + "/{id}"
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"extdir_http_requests_total", []string{"route", token, "method", "POST", "code", "200"}, 2},
		{"extdir_http_requests_total", []string{"route", token, "method", "POST", "code", "401"}, 1},
		{"extdir_http_requests_total", []string{"route", token, "method", "POST", "code", "400"}, 1},
		{"extdir_http_requests_total", []string{"route", pendingRoute, "method", "POST", "code", "201"}, 3},
		{"extdir_http_requests_total", []string{"route", pendingRoute, "method", "POST", "code", "429"}, 1},
		{"extdir_http_requests_total", []string{"route", byID, "method", "GET", "code", "200"}, 3},
		{"extdir_http_requests_total", []string{"route", byID, "method", "GET", "code", "404"}, 1},
		{"extdir_http_requests_total", []string{"route", "unmatched", "method", "GET", "code", "400"}, 1},
		{"extdir_http_requests_total", []string{"route", "/beta/$batch", "method", "POST", "code", "200"}, 1},
		{"extdir_http_request_duration_seconds", []string{"route", byID, "method", "GET", "code", "200"}, 3},
		{"extdir_http_request_duration_seconds", []string{"route", "/beta/$batch", "method", "POST", "code", "200"}, 1},
		{"extdir_batch_inner_requests_total", []string{"route", byID, "method", "GET", "code", "200"}, 2},
		{"extdir_batch_inner_requests_total", []string{"route", byID, "method", "GET", "code", "404"}, 1},
		{"extdir_batch_inner_requests_total", []string{"route", byID, "method", "GET", "code", "424"}, 1},
		{"extdir_http_requests_in_flight", nil, 1}, // the scrape itself
		{"extdir_oauth_tokens_issued_total", []string{"grant_type", "client_credentials"}, 2},
		{"extdir_oauth_tokens_refused_total", []string{"grant_type", "client_credentials", "reason", "invalid_client"}, 1},
		{"extdir_oauth_tokens_refused_total", []string{"grant_type", "other", "reason", "unsupported_grant_type"}, 1},
		{"extdir_throttled_requests_total", []string{"limit", "writes"}, 1},
		{"extdir_throttled_requests_total", []string{"limit", "units"}, 0},
		{"extdir_shed_requests_total", nil, 0},
		// Reads: 3 + 1 on their own, 3 inside the batch (the 424 never ran).
		{"extdir_store_operation_duration_seconds", []string{"operation", "get", "backend", "sqlite"}, 7},
		{"extdir_store_operation_duration_seconds", []string{"operation", "create", "backend", "sqlite"}, 3},
		{"extdir_profiles", []string{"kind", "pendingExternalUserProfile", "state", "live"}, 3},
		{"extdir_profiles", []string{"kind", "pendingExternalUserProfile", "state", "deleted"}, 0},
		{"extdir_profiles", []string{"kind", "externalUserProfile", "state", "live"}, 0},
	}
	for _, w := range want {
		got, ok := value(m, w.name, w.labels...)
		if !ok || got != w.value {
			t.Errorf("%s%v = %v (present: %v), want %v", w.name, w.labels, got, ok, w.value)
		}
	}
	// The group commit committed the three creates, in one to three
	// transactions.
	if h := m["extdir_sqlite_group_commit_writes"]; h == nil || h.Metric[0].Histogram.GetSampleSum() != 3 {
		t.Errorf("extdir_sqlite_group_commit_writes: %v, want a sum of 3 writes", h)
	}
	if v, ok := value(m, "extdir_store_size_bytes", "backend", "sqlite"); !ok || v <= 0 {
		t.Errorf("extdir_store_size_bytes = %v (present: %v), want a size", v, ok)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if m[name] == nil {
			t.Errorf("%s missing: the Go and process collectors are registered", name)
		}
	}
	checkLabelsBounded(t, m, append(ids, missing, "nowhere", "made-up"))
}

// checkLabelsBounded fails on any route label that is not a template of the
// route table, and on any label value that carries one of the raw strings.
func checkLabelsBounded(t *testing.T, m map[string]*dto.MetricFamily, raw []string) {
	t.Helper()
	var routes []string
	for name, f := range m {
		for _, metric := range f.Metric {
			for _, l := range metric.Label {
				for _, r := range raw {
					if strings.Contains(l.GetValue(), r) {
						t.Errorf("%s has the label %s=%q, which carries %q from a request", name, l.GetName(), l.GetValue(), r)
					}
				}
				if l.GetName() == "route" && !slices.Contains(routes, l.GetValue()) {
					routes = append(routes, l.GetValue())
				}
			}
		}
	}
	sort.Strings(routes)
	for _, r := range routes {
		if r != "unmatched" && !strings.Contains(r, "{") && r != "/beta/$batch" && r != "/metrics" {
			t.Errorf("route label %q is neither a template nor a literal route", r)
		}
	}
}

func TestMetricsAreRefusedToClientsElsewhere(t *testing.T) {
	tel := telemetry.New(telemetry.Options{Metrics: true})
	s := startServer(t, tel)
	tests := []struct {
		name       string
		remoteAddr string
		header     string
		want       int
	}{
		{"a loopback client", "127.0.0.1:40000", "", 200},
		{"an IPv6 loopback client", "[::1]:40000", "", 200},
		{"a client elsewhere", "192.0.2.7:40000", "", 403},
		{"a request a proxy on this host forwarded", "127.0.0.1:40000", "X-Forwarded-For", 403},
		{"a request with Forwarded", "127.0.0.1:40000", "Forwarded", 403},
		{"a request with X-Real-IP", "127.0.0.1:40000", "X-Real-IP", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/metrics", nil)
			r.RemoteAddr = tt.remoteAddr
			if tt.header != "" {
				r.Header.Set(tt.header, "198.51.100.1")
			}
			w := httptest.NewRecorder()
			s.built.Handler.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
			if tt.want == 200 && !strings.Contains(w.Body.String(), "extdir_http_requests_in_flight 1") {
				t.Errorf("no metrics in the answer: %.200s", w.Body)
			}
		})
	}
}

func TestMetricsElsewhereAreNotOnTheMainListener(t *testing.T) {
	tel := telemetry.New(telemetry.Options{Metrics: true})
	s := startServer(t, tel, func(o *server.Options) { o.MetricsElsewhere = true })
	if resp, _ := s.do("GET", "/metrics", "", ""); resp.StatusCode != 404 {
		t.Errorf("GET /metrics on the main listener: %d, want 404", resp.StatusCode)
	}
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `extdir_http_requests_total{code="404",method="GET",route="/metrics"} 1`) {
		t.Errorf("the handler for the listener of its own: %d %.300s", rec.Code, rec.Body)
	}
}

func TestProfilesPerTenant(t *testing.T) {
	tel := telemetry.New(telemetry.Options{Metrics: true, PerTenant: true})
	s := startServer(t, tel)
	tok := s.token()
	s.create(tok, 1)
	m := s.scrape()
	if v, ok := value(m, "extdir_profiles", "tenant", testTenant, "kind", "pendingExternalUserProfile", "state", "live"); !ok || v != 1 {
		t.Errorf("extdir_profiles of the tenant = %v (present: %v), want 1", v, ok)
	}
	if _, ok := value(m, "extdir_profiles", "kind", "pendingExternalUserProfile", "state", "live"); ok {
		t.Error("with PerTenant, a series without the tenant label is there too")
	}
}

func TestNothingAskedIsNoTelemetry(t *testing.T) {
	tel := telemetry.New(telemetry.Options{})
	if tel != nil || tel.Observer() != nil || tel.Handler() != nil || tel.OnCommit() != nil {
		t.Fatal("Options{} built a Telemetry, an Observer, a handler or a commit hook")
	}
	s := startServer(t, tel)
	if resp, _ := s.do("GET", "/metrics", "", ""); resp.StatusCode != 404 {
		t.Errorf("GET /metrics without metrics: %d, want 404", resp.StatusCode)
	}
}

// A request the limiter sheds counts in extdir_shed_requests_total.
func TestShedRequestsAreCounted(t *testing.T) {
	tel := telemetry.New(telemetry.Options{Metrics: true})
	faults, err := graph.NewFaults(graph.FaultConfig{Rules: []graph.FaultRule{{Method: "GET", Path: pendingPath, Latency: "400ms", Times: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, tel, func(o *server.Options) {
		o.Limiter = graph.NewLimiter(1, 0)
		o.Faults = faults
	})
	tok := s.token()
	slow := make(chan struct{})
	go func() {
		defer close(slow)
		s.do("GET", pendingPath, tok, "")
	}()
	// The slow request holds the one place for 400 ms; wait until it has
	// it, then the next is shed.
	for s.built.API.Limiter.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	if resp, _ := s.do("GET", pendingPath, tok, ""); resp.StatusCode != 503 {
		t.Fatalf("a request beyond the limit: %d, want 503", resp.StatusCode)
	}
	<-slow
	if n, _ := value(s.scrape(), "extdir_shed_requests_total"); n != 1 {
		t.Fatalf("extdir_shed_requests_total = %v, want 1", n)
	}
}
