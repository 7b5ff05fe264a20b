package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/store/sqlite"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu    sync.Mutex
	done  []RequestInfo
	spans []string
}

func (o *recorder) RequestStart(ctx context.Context, _ *http.Request, _ RequestInfo) context.Context {
	return ctx
}

func (o *recorder) RequestDone(_ context.Context, info RequestInfo) {
	o.mu.Lock()
	o.done = append(o.done, info)
	o.mu.Unlock()
}

func (o *recorder) StartSpan(ctx context.Context, name string) context.Context {
	o.mu.Lock()
	o.spans = append(o.spans, name)
	o.mu.Unlock()
	return ctx
}

func (o *recorder) EndSpan(context.Context, error) {}
func (o *recorder) TokenIssued(string)             {}
func (o *recorder) TokenRefused(string, string)    {}
func (o *recorder) Throttled(string)               {}
func (o *recorder) RequestShed()                   {}

func (o *recorder) last() RequestInfo {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.done[len(o.done)-1]
}

func (o *recorder) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.done)
}

func (o *recorder) spanNames() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.spans, ",")
}

func newObservedServer(t *testing.T) (*recorder, http.Handler) {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	iss, err := auth.OpenIssuer(t.TempDir(), auth.IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := &recorder{}
	srv := &Server{Store: st, Verifier: iss.Verifier(nil, 0), Observer: o, CORS: &CORS{Origins: []string{"*"}}}
	return o, srv.Handler()
}

// samplePath fills a route template with segments its placeholders accept.
func samplePath(pattern string) string {
	return strings.NewReplacer(
		"{collection}", "pendingExternalUserProfiles",
		"{cast}", "microsoft.graph.pendingExternalUserProfile",
		"{tenant}", "contoso.example",
		"{id}", "0D0E5C4B-0000-4000-8000-000000000001",
	).Replace(pattern)
}

// TestEveryRouteIsLabelledByItsTemplate sends a request to every route of
// the table and checks that the Observer is given the route's template,
// and that routeTemplate, which labels the requests answered before
// routing, agrees with the router.
func TestEveryRouteIsLabelledByItsTemplate(t *testing.T) {
	o, h := newObservedServer(t)
	for _, rt := range routes {
		path := samplePath(rt.pattern)
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(rt.method, path, nil))
		got := o.last()
		if got.Route != rt.pattern || got.Method != rt.method {
			t.Errorf("%s %s: labelled %s %s, want %s %s", rt.method, path, got.Method, got.Route, rt.method, rt.pattern)
		}
		if tmpl := routeTemplate(rt.method, path); tmpl != rt.pattern {
			t.Errorf("routeTemplate(%s, %s) = %s, want %s", rt.method, path, tmpl, rt.pattern)
		}
	}
}

func TestLabelsNeverCarryThePath(t *testing.T) {
	o, h := newObservedServer(t)
	tests := []struct {
		method, path, route, label string
		status                     int
	}{
		{"GET", "/beta/directory/nothingHere/0d0e5c4b", UnmatchedRoute, "GET", 401},
		{"GET", "/no/such/path/0d0e5c4b-0000-4000-8000-000000000001", UnmatchedRoute, "GET", 400},
		{"BREW", "/healthz", "/healthz", "other", 405},
		// A wrong method is labelled with the path's route.
		{"PUT", "/beta/directory/pendingExternalUserProfiles", "/beta/directory/{collection}", "PUT", 401},
		{"DELETE", "/healthz", "/healthz", "DELETE", 405},
		// Answered before routing: a CORS preflight.
		{"OPTIONS", "/beta/directory/pendingExternalUserProfiles('0d0e5c4b')", "/beta/directory/{collection}/{id}", "OPTIONS", 204},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.method == "OPTIONS" {
			r.Header.Set("Origin", "https://app.example")
			r.Header.Set("Access-Control-Request-Method", "GET")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		got := o.last()
		if got.Route != tt.route || got.Method != tt.label || got.Status != tt.status || w.Code != tt.status {
			t.Errorf("%s %s: labelled %s %s %d (answered %d), want %s %s %d", tt.method, tt.path, got.Method, got.Route, got.Status, w.Code, tt.label, tt.route, tt.status)
		}
		if got.RequestID == "" || got.RequestID != w.Header().Get("request-id") {
			t.Errorf("%s %s: request id %q, the answer's is %q", tt.method, tt.path, got.RequestID, w.Header().Get("request-id"))
		}
	}
}

func TestTokenVerificationIsASpan(t *testing.T) {
	o, h := newObservedServer(t)
	r := httptest.NewRequest("GET", "/beta/directory/pendingExternalUserProfiles", nil)
	r.Header.Set("Authorization", "Bearer not-a-token")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got := o.spanNames(); got != SpanAuth {
		t.Errorf("spans %q, want %q", got, SpanAuth)
	}
	if n := o.count(); n != 1 {
		t.Errorf("%d requests observed, want 1", n)
	}
}
