package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/extdir/extdir/graph"
)

// heldPath is where a fault rule parks a request for a minute, or until its
// context ends: a request that holds its place for as long as a test needs.
const heldPath = pending + "/held"

func withLimit(t *testing.T, l *graph.Limiter, timeout time.Duration) func(*graph.Server) {
	t.Helper()
	faults := withFaults(t, graph.FaultConfig{Rules: []graph.FaultRule{{Method: "GET", Path: heldPath, Latency: "1m"}}})
	return func(s *graph.Server) {
		faults(s)
		s.Limiter, s.RequestTimeout = l, timeout
	}
}

// hold starts a request that waits in the fault rule, and returns once the
// limiter counts it in flight (or the test's own request waits, for
// waiting). release hangs it up and waits for the handler to return.
func (ps *protocolServer) hold(tok string, until func() bool) (release func()) {
	ps.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := httptest.NewRequestWithContext(ctx, "GET", heldPath, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		ps.handler.ServeHTTP(w, r)
	}()
	for !until() {
		time.Sleep(time.Millisecond)
	}
	return func() {
		cancel()
		<-done
	}
}

func TestOverloadShedsWithGraphs503(t *testing.T) {
	l := graph.NewLimiter(1, 0)
	var hooked atomic.Int64
	l.OnShed = func() { hooked.Add(1) }
	ps := newProtocolServer(t, withLimit(t, l, 0))
	tok := ps.token("app", "tenant")
	release := ps.hold(tok, func() bool { return l.InFlight() == 1 })

	res := ps.do("GET", pending, tok, "", "client-request-id", "mine")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("a request beyond the limit: %d, Retry-After %q; want 503 with Retry-After 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	body := readJSON(t, res)
	e, _ := body["error"].(map[string]any)
	inner, _ := e["innerError"].(map[string]any)
	if e["code"] != "ServiceUnavailable" || inner["request-id"] != res.Header.Get("request-id") || inner["client-request-id"] != "mine" ||
		res.Header.Get("client-request-id") != "mine" || res.Header.Get("request-id") == "" {
		t.Errorf("shed answer: headers %v, body %v; want Graph's envelope with the request ids", res.Header, body)
	}
	if hooked.Load() != 1 || l.Shed() != 1 {
		t.Errorf("OnShed called %d times, Shed() = %d; want 1 and 1", hooked.Load(), l.Shed())
	}

	// The operational endpoints answer however busy the server is.
	for _, path := range []string{"/healthz", "/readyz", "/admin/clock", "/HEALTHZ"} {
		if res := ps.do("GET", path, "", ""); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s while the limit is reached: %d, want 200", path, res.StatusCode)
		}
	}
	release()
	if res := ps.do("GET", pending, tok, ""); res.StatusCode != http.StatusOK {
		t.Fatalf("once the place is free: %d, want 200", res.StatusCode)
	}
	if hooked.Load() != 1 {
		t.Errorf("OnShed called %d times after an admitted request, want still 1", hooked.Load())
	}
}

func TestOverloadWaitsBrieflyInABoundedQueue(t *testing.T) {
	l := graph.NewLimiter(1, time.Minute)
	ps := newProtocolServer(t, withLimit(t, l, 0))
	tok := ps.token("app", "tenant")
	release := ps.hold(tok, func() bool { return l.InFlight() == 1 })

	waited := make(chan int, 1)
	go func() { waited <- ps.do("GET", pending, tok, "").StatusCode }()
	for l.Waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	release()
	if got := <-waited; got != http.StatusOK {
		t.Fatalf("the waiting request, once the place was free: %d, want 200", got)
	}
}

func TestBatchStepsShareTheirBatchPlace(t *testing.T) {
	l := graph.NewLimiter(1, 0)
	ps := newProtocolServer(t, withLimit(t, l, 0))
	tok := ps.token("app", "tenant")
	batch := `{"requests":[{"id":"1","method":"GET","url":"/directory/pendingExternalUserProfiles"},{"id":"2","method":"GET","url":"/directory/externalUserProfiles"}]}`
	res := ps.do("POST", "/beta/$batch", tok, batch)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("batch under a limit of 1: %d", res.StatusCode)
	}
	var out struct{ Responses []struct{ Status int } }
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Responses) != 2 {
		t.Fatalf("batch answer %s: %v", raw, err)
	}
	for _, r := range out.Responses {
		if r.Status != http.StatusOK {
			t.Errorf("a step of a batch under a limit of 1: %d, want 200 (it shares its batch's place)\n%s", r.Status, raw)
		}
	}
	if l.Shed() != 0 {
		t.Errorf("%d requests shed", l.Shed())
	}
}

func TestRequestTimeoutAnswers504AndReachesTheStore(t *testing.T) {
	// The held request's rule ends with its context, here the deadline;
	// the handler then calls the store with the expired context.
	ps := newProtocolServer(t, withLimit(t, graph.NewLimiter(4, 0), 20*time.Millisecond))
	tok := ps.token("app", "tenant")
	r := httptest.NewRequest("GET", heldPath, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	ps.handler.ServeHTTP(w, r)
	res := w.Result()
	if res.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("a request past its deadline: %d, want 504", res.StatusCode)
	}
	e, _ := readJSON(t, res)["error"].(map[string]any)
	if e["code"] != "GatewayTimeout" || !strings.Contains(e["message"].(string), "time limit") {
		t.Errorf("error %v, want GatewayTimeout and the time limit", e)
	}
	// The operational endpoints have no deadline of the requests'.
	if res := ps.do("GET", "/readyz", "", ""); res.StatusCode != http.StatusOK {
		t.Errorf("readyz: %d", res.StatusCode)
	}
}
