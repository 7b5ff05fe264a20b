package graph_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir/graph"
)

func rate(r float64) *float64 { return &r }

func withFaults(t *testing.T, cfg graph.FaultConfig) func(*graph.Server) {
	t.Helper()
	f, err := graph.NewFaults(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return func(s *graph.Server) { s.Faults = f }
}

func TestFaultRulesAreChecked(t *testing.T) {
	tests := []struct {
		name string
		rule graph.FaultRule
		want string
	}{
		{"a relative path is refused", graph.FaultRule{Path: "beta/**", Status: 503}, "must start with /"},
		{"** before the end is refused", graph.FaultRule{Path: "/**/x", Status: 503}, "** must be the last segment"},
		{"a bad wildcard is refused", graph.FaultRule{Path: "/beta/[", Status: 503}, "syntax error in pattern"},
		{"an unknown method is refused", graph.FaultRule{Method: "TRACE", Path: "/**", Status: 503}, "method \"TRACE\""},
		{"a rate above 1 is refused", graph.FaultRule{Path: "/**", Status: 503, Rate: rate(50)}, "rate 50 must be between 0 and 1"},
		{"a negative rate is refused", graph.FaultRule{Path: "/**", Status: 503, Rate: rate(-0.1)}, "between 0 and 1"},
		{"status 404 is refused", graph.FaultRule{Path: "/**", Status: 404}, "status 404 is not 429, 500, 502, 503 or 504"},
		{"a rule with no effect is refused", graph.FaultRule{Path: "/**"}, "give a status, a latency, drop"},
		{"a bad latency is refused", graph.FaultRule{Path: "/**", Latency: "soon"}, "latency \"soon\""},
		{"a latency over a minute is refused", graph.FaultRule{Path: "/**", Latency: "2m"}, "between 0 and 1m"},
		{"retryAfter on a 500 is refused", graph.FaultRule{Path: "/**", Status: 500, RetryAfter: 2}, "retryAfter goes with status 429 or 503"},
		{"negative times are refused", graph.FaultRule{Path: "/**", Status: 500, Times: -1}, "times must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := graph.NewFaults(graph.FaultConfig{Rules: []graph.FaultRule{tt.rule}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewFaults: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestFaultPathPatterns(t *testing.T) {
	tests := []struct {
		pattern, method, path string
		hit                   bool
	}{
		{"/beta/directory/pendingExternalUserProfiles", "GET", pending, true},
		{"/BETA/Directory/PendingExternalUserProfiles", "GET", pending, true},
		{"/beta/directory/pendingExternalUserProfiles", "GET", pending + "/abc", false},
		{"/beta/directory/*", "GET", pending, true},
		{"/beta/directory/*/abc", "DELETE", pending + "/abc", true},
		{"/beta/directory/*/abc", "DELETE", pending + "('abc')", true},
		{"/beta/directory/pending*", "GET", pending, true},
		{"/beta/directory/pending*", "GET", "/beta/directory/externalUserProfiles", false},
		{"/beta/**", "PATCH", pending + "/abc", true},
		{"/beta/directory/pendingExternalUserProfiles/**", "GET", pending, true},
		{"/**", "GET", "/healthz", true},
	}
	for _, tt := range tests {
		ps := newProtocolServer(t, withFaults(t, graph.FaultConfig{Rules: []graph.FaultRule{{Path: tt.pattern, Status: 503}}}))
		res := ps.do(tt.method, tt.path, "", "")
		if hit := res.StatusCode == 503; hit != tt.hit {
			t.Errorf("pattern %s, %s %s: injected %v, want %v", tt.pattern, tt.method, tt.path, hit, tt.hit)
		}
	}
	// Method: one, or any.
	ps := newProtocolServer(t, withFaults(t, graph.FaultConfig{Rules: []graph.FaultRule{{Method: "post", Path: "/**", Status: 503}}}))
	if res := ps.do("GET", pending, "", ""); res.StatusCode == 503 {
		t.Error("a POST rule injected into a GET")
	}
	if res := ps.do("POST", pending, "", "{}"); res.StatusCode != 503 {
		t.Errorf("a POST rule did not inject into a POST: %d", res.StatusCode)
	}
}

func TestFaultInjectedFailuresAreMarkedAndShapedLikeGraphs(t *testing.T) {
	ps := newProtocolServer(t, withFaults(t, graph.FaultConfig{Rules: []graph.FaultRule{
		{Name: "gw", Method: "GET", Path: "/beta/directory/externalUserProfiles", Status: 504},
		{Name: "busy", Method: "GET", Path: pending, Status: 429, RetryAfter: 3},
		{Name: "down", Method: "DELETE", Path: "/beta/**", Status: 503, RetryAfter: 7},
	}}))
	tok := ps.token("app", "tenant")

	res := ps.do("GET", "/beta/directory/externalUserProfiles", tok, "")
	body := readJSON(t, res)
	e := body["error"].(map[string]any)
	if res.StatusCode != 504 || e["code"] != "GatewayTimeout" || !strings.Contains(e["message"].(string), "rule 'gw'") {
		t.Errorf("504 rule: %d %v", res.StatusCode, body)
	}
	if got := res.Header.Get(graph.FaultHeader); got != "status=504; rule=gw" {
		t.Errorf("%s = %q", graph.FaultHeader, got)
	}
	if inner := e["innerError"].(map[string]any); inner["request-id"] != res.Header.Get("request-id") {
		t.Errorf("innerError %v does not carry the request id %s", inner, res.Header.Get("request-id"))
	}

	res = ps.do("GET", pending, tok, "")
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "3" || res.Header.Get(graph.FaultHeader) != "status=429; rule=busy" {
		t.Errorf("429 rule: %d %v", res.StatusCode, res.Header)
	}
	assertThrottleBody(t, readJSON(t, res), res.Header.Get("request-id"))

	res = ps.do("DELETE", pending+"/x", tok, "")
	if res.StatusCode != 503 || res.Header.Get("Retry-After") != "7" || readJSON(t, res)["error"].(map[string]any)["code"] != "ServiceUnavailable" {
		t.Errorf("503 rule: %d %v", res.StatusCode, res.Header)
	}

	// Requests no rule matches are served as usual, unmarked.
	res = ps.do("GET", pending+"/x", tok, "")
	if res.StatusCode != 404 || res.Header.Get(graph.FaultHeader) != "" {
		t.Errorf("unmatched request: %d, marker %q", res.StatusCode, res.Header.Get(graph.FaultHeader))
	}
}

func TestFaultLatencyDelaysThenServes(t *testing.T) {
	ps := newProtocolServer(t, withFaults(t, graph.FaultConfig{Rules: []graph.FaultRule{{Name: "slow", Path: pending, Latency: "60ms"}}}))
	tok := ps.token("app", "tenant")
	start := time.Now()
	res := ps.do("POST", pending, tok, `{"displayName":"Slow","phoneNumber":"+15550000009"}`)
	if took := time.Since(start); took < 60*time.Millisecond {
		t.Errorf("took %v, want at least the 60ms latency", took)
	}
	if res.StatusCode != 201 || res.Header.Get(graph.FaultHeader) != "latency=60ms; rule=slow" {
		t.Errorf("delayed request: %d, marker %q", res.StatusCode, res.Header.Get(graph.FaultHeader))
	}
}

func TestFaultsAreReproducibleFromTheSeed(t *testing.T) {
	run := func(seed uint64) string {
		ps := newProtocolServer(t, withFaults(t, graph.FaultConfig{Seed: seed, Rules: []graph.FaultRule{{Path: "/**", Status: 500, Rate: rate(0.3)}}}))
		var b strings.Builder
		for range 200 {
			if ps.do("GET", "/healthz", "", "").StatusCode == 500 {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, again, other := run(7), run(7), run(8)
	if a != again {
		t.Errorf("seed 7 gave two sequences:\n%s\n%s", a, again)
	}
	if a == other {
		t.Error("seeds 7 and 8 gave the same sequence")
	}
	if n := strings.Count(a, "x"); n < 35 || n > 85 {
		t.Errorf("rate 0.3 injected %d of 200", n)
	}
}

func TestFaultRuleStopsAfterTimes(t *testing.T) {
	ps := newProtocolServer(t, withFaults(t, graph.FaultConfig{Rules: []graph.FaultRule{{Path: "/healthz", Status: 502, Times: 2}}}))
	var got []int
	for range 4 {
		got = append(got, ps.do("GET", "/healthz", "", "").StatusCode)
	}
	if want := []int{502, 502, 200, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
}

func TestFaultInjectedFailureStoresNothing(t *testing.T) {
	ps := newProtocolServer(t, withFaults(t, graph.FaultConfig{Rules: []graph.FaultRule{{Method: "POST", Path: pending, Status: 500}}}))
	tok := ps.token("app", "tenant")
	if res := ps.do("POST", pending, tok, `{"displayName":"Lost","phoneNumber":"+15550000003"}`); res.StatusCode != 500 {
		t.Fatalf("create under a 500 rule: %d", res.StatusCode)
	}
	if n := len(readJSON(t, ps.do("GET", pending, tok, ""))["value"].([]any)); n != 0 {
		t.Errorf("%d profiles after an injected failure, want 0", n)
	}
}

func TestFaultAdminEndpoint(t *testing.T) {
	ps := newProtocolServer(t, withFaults(t, graph.FaultConfig{Seed: 3, Rules: []graph.FaultRule{{Name: "all", Path: "/**", Status: 503}}}))

	// The admin endpoint is never faulted, even by a rule on every path.
	res := ps.do("GET", "/admin/faults", "", "")
	if res.StatusCode != 200 {
		t.Fatalf("GET /admin/faults: %d", res.StatusCode)
	}
	var cfg graph.FaultConfig
	if err := json.NewDecoder(res.Body).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Seed != 3 || len(cfg.Rules) != 1 || cfg.Rules[0].Name != "all" {
		t.Errorf("GET /admin/faults = %+v", cfg)
	}
	ps.do("GET", "/healthz", "", "")
	res = ps.do("GET", "/admin/faults", "", "")
	if err := json.NewDecoder(res.Body).Decode(&cfg); err != nil || cfg.Rules[0].Injected != 1 {
		t.Errorf("injected count after one fault: %+v %v", cfg.Rules, err)
	}

	// PUT replaces the rules; a bad rule is a 400 that keeps the old ones.
	res = ps.do("PUT", "/admin/faults", "", `{"rules":[{"path":"/healthz","status":404}]}`)
	if res.StatusCode != 400 || !strings.Contains(readJSON(t, res)["error"].(map[string]any)["message"].(string), "status 404") {
		t.Errorf("PUT of a bad rule: %d", res.StatusCode)
	}
	if res := ps.do("PUT", "/admin/faults", "", `{"rules":[{"path":"/healthz","status":503}],"extra":1}`); res.StatusCode != 400 {
		t.Errorf("PUT with an unknown member: %d, want 400", res.StatusCode)
	}
	if res := ps.do("GET", "/readyz", "", ""); res.StatusCode != 503 {
		t.Errorf("after refused PUTs the old rule is gone: %d", res.StatusCode)
	}
	if res := ps.do("PUT", "/admin/faults", "", `{"rules":[{"path":"/healthz","status":502}]}`); res.StatusCode != 200 {
		t.Fatalf("PUT: %d", res.StatusCode)
	}
	if res := ps.do("GET", "/readyz", "", ""); res.StatusCode != 200 {
		t.Errorf("/readyz after PUT: %d, want 200 (no rule)", res.StatusCode)
	}
	if res := ps.do("GET", "/healthz", "", ""); res.StatusCode != 502 {
		t.Errorf("/healthz after PUT: %d, want 502", res.StatusCode)
	}

	// DELETE removes every rule.
	if res := ps.do("DELETE", "/admin/faults", "", ""); res.StatusCode != 204 {
		t.Fatalf("DELETE: %d", res.StatusCode)
	}
	if res := ps.do("GET", "/healthz", "", ""); res.StatusCode != 200 {
		t.Errorf("/healthz after DELETE: %d", res.StatusCode)
	}

	// Only loopback clients.
	r := httptest.NewRequest("PUT", "/admin/faults", strings.NewReader(`{"rules":[]}`))
	r.RemoteAddr = "192.0.2.10:5000"
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	ps.handler.ServeHTTP(w, r)
	if w.Code != http.StatusForbidden {
		t.Errorf("PUT from 192.0.2.10: %d, want 403", w.Code)
	}
}

func TestFaultAdminIsAbsentWhileFaultsAreOff(t *testing.T) {
	ps := newProtocolServer(t, nil)
	res := ps.do("GET", "/admin/faults", "", "")
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 404 || !strings.Contains(string(raw), "--faults") {
		t.Errorf("GET /admin/faults with faults off: %d %s", res.StatusCode, raw)
	}
}
