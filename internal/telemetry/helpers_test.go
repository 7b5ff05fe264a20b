package telemetry_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/server"
	"github.com/extdir/extdir/internal/telemetry"
	"github.com/extdir/extdir/store/sqlite"
)

const (
	testTenant   = "00000000-0000-0000-0000-0000000000e1"
	testClient   = "11111111-0000-4000-8000-000000000001"
	testSecret   = "a-secret-of-the-test-client"
	pendingRoute = "/beta/directory/{collection}"
	pendingPath  = "/beta/directory/pendingExternalUserProfiles"
)

// testServer is extdir as internal/server builds it, with the given
// telemetry, over an in-memory SQLite store, on a loopback port.
type testServer struct {
	t     *testing.T
	url   string
	built *server.Server
}

type serverOption func(*server.Options)

func startServer(t *testing.T, tel *telemetry.Telemetry, opts ...serverOption) *testServer {
	t.Helper()
	st, err := sqlite.Open(t.Context(), sqlite.Memory, sqlite.Options{OnCommit: tel.OnCommit()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	origin := "http://" + ts.Listener.Addr().String()
	sum := sha256.Sum256([]byte(testSecret))
	o := server.Options{
		DataDir:       t.TempDir(),
		Store:         st,
		BuiltinIssuer: true,
		Issuer:        auth.IssuerTemplateFor(origin),
		TokenCache:    auth.DefaultCacheSize,
		Auth: &auth.Config{Clients: []auth.Client{{
			ID: testClient, Tenant: testTenant, SecretSHA256: hex.EncodeToString(sum[:]),
			Roles: []string{"PendingExternalUserProfile.ReadWrite.All", "ExternalUserProfile.ReadWrite.All"},
		}}},
		Telemetry: tel,
	}
	for _, opt := range opts {
		opt(&o)
	}
	built, err := server.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = built.Handler
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return &testServer{t: t, url: origin, built: built}
}

// withThrottle allows each app 3 writes a day: the fourth is refused.
func withThrottle(o *server.Options) {
	o.Throttle = graph.NewThrottle(graph.Rate{N: 1000, Per: time.Hour}, graph.Rate{N: 3, Per: 24 * time.Hour})
}

// tokenRequest posts a client-credentials request and returns the status
// and the access token, if any.
func (s *testServer) tokenRequest(grantType, secret string) (int, string) {
	s.t.Helper()
	form := url.Values{"grant_type": {grantType}, "client_id": {testClient}, "client_secret": {secret},
		"scope": {"https://graph.microsoft.com/.default"}}
	resp, err := http.PostForm(s.url+"/"+testTenant+"/oauth2/v2.0/token", form)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.AccessToken
}

func (s *testServer) token() string {
	s.t.Helper()
	status, tok := s.tokenRequest("client_credentials", testSecret)
	if status != 200 || tok == "" {
		s.t.Fatalf("token request: %d", status)
	}
	return tok
}

// do sends a request (headers in name, value pairs) and returns the answer
// with its body read.
func (s *testServer) do(method, path, token, body string, headers ...string) (*http.Response, string) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, string(b)
}

// create invites a profile and returns its id.
func (s *testServer) create(token string, n int) string {
	s.t.Helper()
	resp, body := s.do("POST", pendingPath, token, `{"displayName":"Guest","phoneNumber":"+1555000000`+string(rune('0'+n))+`"}`)
	if resp.StatusCode != 201 {
		s.t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var p struct{ ID string }
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		s.t.Fatal(err)
	}
	return p.ID
}
