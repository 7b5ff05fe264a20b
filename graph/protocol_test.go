package graph_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/store/sqlite"
)

// protocolServer is the whole handler over an in-memory store, with real
// tokens and a clock the test moves.
type protocolServer struct {
	t       *testing.T
	srv     *graph.Server
	handler http.Handler
	issuer  *auth.Issuer
	mu      sync.Mutex
	now     time.Time
}

func newProtocolServer(t *testing.T, configure func(*graph.Server)) *protocolServer {
	t.Helper()
	st, err := sqlite.Open(context.Background(), "", sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	iss, err := auth.OpenIssuer(t.TempDir(), auth.IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ps := &protocolServer{t: t, issuer: iss, now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	ps.srv = &graph.Server{Store: st, Verifier: iss.Verifier(nil, time.Hour), Now: ps.clock, Admin: &graph.Admin{}}
	if configure != nil {
		configure(ps.srv)
	}
	ps.handler = ps.srv.Handler()
	return ps
}

func (ps *protocolServer) clock() time.Time {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.now
}

func (ps *protocolServer) advance(d time.Duration) {
	ps.mu.Lock()
	ps.now = ps.now.Add(d)
	ps.mu.Unlock()
}

// token mints an all-permissions app token of the application in the tenant.
func (ps *protocolServer) token(app, tenant string) string {
	ps.t.Helper()
	tok, err := ps.issuer.Mint(auth.Claims{Tenant: tenant, ObjectID: "oid-" + app, AppID: app,
		Roles: []string{extdir.KindPending.WritePermission(), extdir.KindExternal.WritePermission()}})
	if err != nil {
		ps.t.Fatal(err)
	}
	return tok
}

// do sends a request; headers come in name, value pairs. A body is JSON.
func (ps *protocolServer) do(method, path, token, body string, headers ...string) *http.Response {
	ps.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.RemoteAddr = "127.0.0.1:40000"
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	ps.handler.ServeHTTP(w, r)
	return w.Result()
}

func readJSON(t *testing.T, res *http.Response) map[string]any {
	t.Helper()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not JSON (%d): %v\n%s", res.StatusCode, err, raw)
	}
	return m
}

// assertThrottleBody checks Graph's documented 429 body.
func assertThrottleBody(t *testing.T, body map[string]any, requestID string) {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	inner, _ := e["innerError"].(map[string]any)
	if e["code"] != "TooManyRequests" || e["message"] != "Please retry again later." {
		t.Errorf("error = %v, want Graph's TooManyRequests / Please retry again later.", e)
	}
	if inner["code"] != "429" || inner["status"] != "429" || inner["message"] != "Please retry after" {
		t.Errorf("innerError = %v, want Graph's code/status \"429\" and message", inner)
	}
	if requestID != "" && inner["request-id"] != requestID {
		t.Errorf("innerError request-id %v, header %s", inner["request-id"], requestID)
	}
	if _, err := time.Parse("2006-01-02T15:04:05", inner["date"].(string)); err != nil {
		t.Errorf("innerError date %v: %v", inner["date"], err)
	}
}

const pending = "/beta/directory/pendingExternalUserProfiles"

func TestThrottleParseRate(t *testing.T) {
	for in, want := range map[string]graph.Rate{
		"3500/10s":     {N: 3500, Per: 10 * time.Second},
		" 3000/2m30s ": {N: 3000, Per: 150 * time.Second},
	} {
		if got, err := graph.ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "3500", "0/10s", "-1/10s", "x/10s", "10/0s", "10/-1s", "10/ten"} {
		if _, err := graph.ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) accepted", bad)
		}
	}
	if s := graph.DefaultThrottleUnits.String(); s != "3500/10s" {
		t.Errorf("default units print as %q", s)
	}
}

func TestThrottleRefusesAPairOverItsUnitsUntilTheyRefill(t *testing.T) {
	ps := newProtocolServer(t, func(s *graph.Server) {
		s.Throttle = graph.NewThrottle(graph.Rate{N: 2, Per: 10 * time.Second}, graph.Rate{N: 100, Per: time.Minute})
	})
	tok := ps.token("app-1", "tenant-1")
	for i := range 2 {
		res := ps.do("GET", pending, tok, "")
		if res.StatusCode != 200 || res.Header.Get("x-ms-resource-unit") != "1" {
			t.Fatalf("request %d: %d, x-ms-resource-unit %q", i+1, res.StatusCode, res.Header.Get("x-ms-resource-unit"))
		}
	}
	res := ps.do("GET", pending, tok, "")
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third request in 10 s: %d, want 429", res.StatusCode)
	}
	// One unit refills in 5 s.
	if ra := res.Header.Get("Retry-After"); ra != "5" {
		t.Errorf("Retry-After = %q, want 5", ra)
	}
	if scope := res.Header.Get("x-ms-throttle-scope"); scope != "Tenant_Application/ReadWrite/app-1/tenant-1" {
		t.Errorf("x-ms-throttle-scope = %q", scope)
	}
	if info := res.Header.Get("x-ms-throttle-information"); info != "ResourceUnitLimitExceeded" {
		t.Errorf("x-ms-throttle-information = %q", info)
	}
	assertThrottleBody(t, readJSON(t, res), res.Header.Get("request-id"))

	// Other pairs have buckets of their own.
	if res := ps.do("GET", pending, ps.token("app-2", "tenant-1"), ""); res.StatusCode != 200 {
		t.Errorf("another application in the same tenant: %d", res.StatusCode)
	}
	if res := ps.do("GET", pending, ps.token("app-1", "tenant-2"), ""); res.StatusCode != 200 {
		t.Errorf("the same application in another tenant: %d", res.StatusCode)
	}
	// A refused request draws nothing: after Retry-After it passes.
	ps.advance(4 * time.Second)
	if res := ps.do("GET", pending, tok, ""); res.StatusCode != 429 || res.Header.Get("Retry-After") != "1" {
		t.Errorf("after 4 s: %d Retry-After %q, want 429 and 1", res.StatusCode, res.Header.Get("Retry-After"))
	}
	ps.advance(time.Second)
	if res := ps.do("GET", pending, tok, ""); res.StatusCode != 200 {
		t.Errorf("after Retry-After: %d, want 200", res.StatusCode)
	}
}

func TestThrottleLimitsWritesApartFromReads(t *testing.T) {
	ps := newProtocolServer(t, func(s *graph.Server) {
		s.Throttle = graph.NewThrottle(graph.Rate{N: 100, Per: 10 * time.Second}, graph.Rate{N: 1, Per: time.Minute})
	})
	tok := ps.token("app", "tenant")
	if res := ps.do("POST", pending, tok, `{"displayName":"A","phoneNumber":"+15550000001"}`); res.StatusCode != 201 {
		t.Fatalf("first write: %d", res.StatusCode)
	}
	res := ps.do("POST", pending, tok, `{"displayName":"B","phoneNumber":"+15550000002"}`)
	if res.StatusCode != 429 || res.Header.Get("x-ms-throttle-information") != "WriteLimitExceeded" ||
		res.Header.Get("x-ms-throttle-scope") != "Tenant_Application/Write/app/tenant" || res.Header.Get("Retry-After") != "60" {
		t.Fatalf("second write: %d %v", res.StatusCode, res.Header)
	}
	list := readJSON(t, ps.do("GET", pending, tok, ""))
	if n := len(list["value"].([]any)); n != 1 {
		t.Errorf("reads still pass and show %d profiles, want 1: the throttled write stored nothing", n)
	}
}

func TestThrottleWarnsPastEightyPercent(t *testing.T) {
	ps := newProtocolServer(t, func(s *graph.Server) {
		s.Throttle = graph.NewThrottle(graph.Rate{N: 10, Per: time.Hour}, graph.Rate{N: 10, Per: time.Hour})
	})
	tok := ps.token("app", "tenant")
	var got []string
	for range 10 {
		got = append(got, ps.do("GET", pending, tok, "").Header.Get("x-ms-throttle-limit-percentage"))
	}
	want := []string{"", "", "", "", "", "", "", "", "0.9", "1.0"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("x-ms-throttle-limit-percentage = %q, want %q", got, want)
	}
}

func TestThrottleChargesTheRequestsOfABatchNotTheBatch(t *testing.T) {
	ps := newProtocolServer(t, func(s *graph.Server) {
		s.Throttle = graph.NewThrottle(graph.Rate{N: 2, Per: 10 * time.Second}, graph.Rate{N: 100, Per: time.Minute})
	})
	tok := ps.token("app", "tenant")
	res := ps.do("POST", "/beta/$batch", tok, `{"requests":[
		{"id":"1","method":"GET","url":"/directory/pendingExternalUserProfiles"},
		{"id":"2","method":"GET","url":"/directory/pendingExternalUserProfiles"},
		{"id":"3","method":"GET","url":"/directory/pendingExternalUserProfiles"}]}`)
	if res.StatusCode != 200 {
		t.Fatalf("batch: %d", res.StatusCode)
	}
	var out struct {
		Responses []struct {
			ID      string            `json:"id"`
			Status  int               `json:"status"`
			Headers map[string]string `json:"headers"`
			Body    map[string]any    `json:"body"`
		} `json:"responses"`
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	statuses := []int{out.Responses[0].Status, out.Responses[1].Status, out.Responses[2].Status}
	if statuses[0] != 200 || statuses[1] != 200 || statuses[2] != 429 {
		t.Fatalf("statuses %v, want [200 200 429]: two units, the batch itself free\n%s", statuses, raw)
	}
	throttled := out.Responses[2]
	if throttled.Headers["Retry-After"] != "5" || throttled.Headers["x-ms-throttle-information"] != "ResourceUnitLimitExceeded" {
		t.Errorf("throttled step headers %v", throttled.Headers)
	}
	assertThrottleBody(t, throttled.Body, "")
}
