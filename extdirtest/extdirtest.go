// Package extdirtest runs a real extdir server inside a Go test, as
// net/http/httptest runs an HTTP server: the same routes, the same token
// checks and the same store code as extdir serve, on an in-memory SQLite
// database (or PostgreSQL), over https on a loopback port with a
// certificate its Client trusts. The server stops when the test ends.
//
//	srv := extdirtest.Start(t)
//	tn := srv.Tenant(t) // a tenant of this test's own
//	req, _ := http.NewRequest("GET", srv.URL+"/beta/directory/pendingExternalUserProfiles", nil)
//	req.Header.Set("Authorization", "Bearer "+tn.AppToken(t))
//	resp, err := srv.Client().Do(req)
//
// A Tenant is the unit of isolation: parallel tests on one shared server
// each take their own (srv.Tenant(t)) and never see each other's profiles,
// journal entries or seeds. The Server's AppToken, UserToken and Seed act
// on its default tenant, the one `extdir serve --ephemeral` and
// `extdir token` use.
package extdirtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/graph"
	"github.com/extdir/extdir/internal/server"
	"github.com/extdir/extdir/store"
	"github.com/extdir/extdir/store/postgres"
	"github.com/extdir/extdir/store/sqlite"
)

// defaultTenant is the tenant of the Server's own methods, the one of
// extdir serve --ephemeral and extdir token.
const defaultTenant = "00000000-0000-0000-0000-0000000000e1"

// Request is one entry of the request journal: what a client sent, what
// it got, who it was.
type Request = graph.JournalEntry

// FaultRule makes a share of matching requests fail, wait or drop; see
// Server.Faults.
type FaultRule = graph.FaultRule

// TB is what the kit needs of a test: *testing.T and *testing.B are ones.
// Its methods report a failure of the kit's own calls with Fatalf.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Log(args ...any)
	Cleanup(func())
	TempDir() string
}

// Option changes how Start builds the server.
type Option func(*options)

type options struct {
	postgresURL string
	retention   time.Duration
	journalSize int
	log         bool
	throttle    bool
}

// WithPostgres stores the profiles in the PostgreSQL database at url
// instead of an in-memory SQLite one. Tests sharing the database stay apart
// by tenant; Server.Reset empties every tenant of it.
func WithPostgres(url string) Option { return func(o *options) { o.postgresURL = url } }

// WithRetention sets how long deleted profiles stay restorable (30 days).
func WithRetention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// WithJournalSize sets how many requests the journal keeps (1,000).
func WithJournalSize(n int) Option { return func(o *options) { o.journalSize = n } }

// WithThrottle throttles each (application, tenant) pair as Graph does.
func WithThrottle() Option { return func(o *options) { o.throttle = true } }

// WithLog sends the server's log lines to t.Log.
func WithLog() Option { return func(o *options) { o.log = true } }

// Server is a running extdir. Its methods fail the test given to them.
type Server struct {
	// URL is the server's origin, https://127.0.0.1:port: the Graph API is
	// at URL+"/beta", the admin API at URL+"/admin", the web console at
	// URL+"/console/" (users of Tenant.AddUser sign in to it), and each
	// tenant's token endpoint at URL+"/<tenant>/oauth2/v2.0/token".
	URL string

	def *Tenant // the default tenant

	ts      *httptest.Server
	built   *server.Server
	dataDir string
	mu      sync.Mutex
	users   map[string]*auth.User // by tenant and lowercased UPN
}

// Tenant is a directory of its own on the server.
type Tenant struct {
	// ID is the tenant id (the tid of its tokens).
	ID  string
	srv *Server
}

// Start runs a server for the test and stops it when the test ends.
func Start(t TB, opts ...Option) *Server {
	t.Helper()
	o := options{journalSize: graph.DefaultJournalSize}
	for _, opt := range opts {
		opt(&o)
	}
	ctx := context.Background()
	var st store.Store
	var err error
	if o.postgresURL != "" {
		st, err = postgres.Open(ctx, o.postgresURL, postgres.Options{})
	} else {
		st, err = sqlite.Open(ctx, sqlite.Memory, sqlite.Options{})
	}
	if err != nil {
		t.Fatalf("extdirtest: open store: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	if o.log {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	// The listener first: the issuer's name is the server's own address.
	ts := httptest.NewUnstartedServer(nil)
	origin := "https://" + ts.Listener.Addr().String()
	so := server.Options{
		DataDir:       t.TempDir(),
		Store:         st,
		BuiltinIssuer: true,
		Issuer:        auth.IssuerTemplateFor(origin),
		Leeway:        30 * time.Second,
		TokenCache:    auth.DefaultCacheSize,
		Retention:     o.retention,
		JournalSize:   o.journalSize,
		Admin:         &graph.Admin{Tenant: defaultTenant, CreatedBy: seedCreator},
		Console:       &graph.Console{Tenant: defaultTenant, RedirectURI: origin + graph.ConsolePath},
		Logger:        log,
	}
	so.JournalBodyBytes = graph.DefaultJournalBodyBytes
	if o.throttle {
		so.Throttle = graph.NewThrottle(graph.DefaultThrottleUnits, graph.DefaultThrottleWrites)
	}
	built, err := server.Build(so)
	if err != nil {
		ts.Listener.Close()
		_ = st.Close()
		t.Fatalf("extdirtest: %v", err)
	}
	ts.Config.Handler = built.Handler
	ts.StartTLS()
	sweepCtx, stopSweep := context.WithCancel(ctx)
	sweepDone := make(chan struct{})
	go func() {
		defer close(sweepDone)
		built.ExpireLoop(sweepCtx, log)
	}()
	s := &Server{URL: origin, ts: ts, built: built, dataDir: so.DataDir, users: map[string]*auth.User{}}
	s.def = &Tenant{ID: defaultTenant, srv: s}
	t.Cleanup(func() {
		ts.Close()
		stopSweep()
		<-sweepDone
		if err := st.Close(); err != nil {
			t.Errorf("extdirtest: close store: %v", err)
		}
	})
	return s
}

// seedCreator is the createdBy of seeded profiles.
const seedCreator = "00000000-0000-0000-0000-0000000000a1"

// Client returns an HTTP client that trusts the server's certificate.
func (s *Server) Client() *http.Client { return s.ts.Client() }

// Tenant returns a new tenant for the test, with nothing in it.
func (s *Server) Tenant(t TB) *Tenant {
	t.Helper()
	return &Tenant{ID: uuid.NewString(), srv: s}
}

// DefaultTenant is the tenant of the Server's own AppToken, UserToken,
// Seed and Requests.
func (s *Server) DefaultTenant() *Tenant { return s.def }

// AppToken is DefaultTenant().AppToken.
func (s *Server) AppToken(t TB, roles ...string) string {
	t.Helper()
	return s.def.AppToken(t, roles...)
}

// UserToken is DefaultTenant().UserToken.
func (s *Server) UserToken(t TB, upn string, scopes ...string) string {
	t.Helper()
	return s.def.UserToken(t, upn, scopes...)
}

// Seed is DefaultTenant().Seed.
func (s *Server) Seed(t TB, data string) []string {
	t.Helper()
	return s.def.Seed(t, data)
}

// Requests returns the whole journal, every tenant's requests, oldest
// first; Tenant.Requests keeps one tenant's.
func (s *Server) Requests(t TB) []Request {
	t.Helper()
	return requests(t, s, "")
}

// Reset empties the whole server: every tenant's profiles and deleted
// items, the journal, the clock's offset and the fault rules' counters.
func (s *Server) Reset(t TB) {
	t.Helper()
	s.admin(t, "POST", "/admin/reset", "", nil, nil)
}

// Faults replaces the fault rules (none removes them all); seed makes the
// draws of rules with a rate reproducible.
func (s *Server) Faults(t TB, seed uint64, rules ...FaultRule) {
	t.Helper()
	if rules == nil {
		rules = []FaultRule{}
	}
	b, err := json.Marshal(graph.FaultConfig{Seed: seed, Rules: rules})
	if err != nil {
		t.Fatalf("extdirtest: fault rules: %v", err)
	}
	s.admin(t, "PUT", "/admin/faults", "application/json", b, nil)
}

// Clock is the server's one clock: profile timestamps, the deleted items'
// retention, token lifetimes, throttling windows, the journal.
func (s *Server) Clock() *Clock { return &Clock{srv: s} }

// Clock moves the server's time.
type Clock struct{ srv *Server }

// Now is the server's time.
func (c *Clock) Now() time.Time { return c.srv.built.Clock.Now() }

// Advance moves the server's time d forward and runs what is then due: the
// deleted items older than the retention are purged, and tokens past their
// exp are refused.
func (c *Clock) Advance(t TB, d time.Duration) time.Time {
	t.Helper()
	c.srv.admin(t, "PUT", "/admin/clock", "application/json", fmt.Appendf(nil, `{"advance":%q}`, d.String()), nil)
	return c.Now()
}

// Set moves the server's time to at (and on from there), then runs what is
// due as Advance does.
func (c *Clock) Set(t TB, at time.Time) {
	t.Helper()
	c.srv.admin(t, "PUT", "/admin/clock", "application/json", fmt.Appendf(nil, `{"now":%q}`, at.UTC().Format(time.RFC3339Nano)), nil)
}

// Reset puts the server back on the wall clock.
func (c *Clock) Reset(t TB) {
	t.Helper()
	c.srv.admin(t, "DELETE", "/admin/clock", "", nil, nil)
}

// admin calls the admin API as a test would with curl, so that the kit
// and the docs' examples take the same path; out, if not nil, receives the
// decoded JSON answer.
func (s *Server) admin(t TB, method, path, contentType string, body []byte, out any) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("extdirtest: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("extdirtest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("extdirtest: %s %s: %v", method, path, err)
	}
	if resp.StatusCode >= 300 {
		t.Fatalf("extdirtest: %s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("extdirtest: %s %s: decode %s: %v", method, path, raw, err)
		}
	}
}

// AppToken returns an app-only access token of the tenant with the given
// application permissions, by default every permission of the API
// (PendingExternalUserProfile.ReadWrite.All, ExternalUserProfile.ReadWrite.All,
// AuditLog.Read.All).
func (tn *Tenant) AppToken(t TB, roles ...string) string {
	t.Helper()
	if len(roles) == 0 {
		roles = allPermissions()
	}
	return tn.mint(t, auth.Claims{Tenant: tn.ID, ObjectID: uuid.NewString(), AppID: testAppID, Roles: roles})
}

// UserToken returns a delegated access token of the tenant's test user
// upn (added on first use, with the Extended Directory User Administrator
// and Reports Reader roles) holding the given delegated scopes, by default
// every permission of the API and the audit log. It is the token an app gets when that user signs in to it.
func (tn *Tenant) UserToken(t TB, upn string, scopes ...string) string {
	t.Helper()
	if len(scopes) == 0 {
		scopes = allPermissions()
	}
	u := tn.user(t, upn)
	return tn.mint(t, auth.Claims{
		Tenant: tn.ID, ObjectID: u.ObjectID, AppID: testAppID, Scopes: scopes,
		RoleIDs: u.RoleIDs, Name: u.DisplayName, PreferredUsername: u.UPN,
	})
}

// testAppID is the appid of the kit's tokens.
const testAppID = "00000000-0000-0000-0000-0000000000c1"

func allPermissions() []string { return auth.AllGrants() }

func (tn *Tenant) mint(t TB, c auth.Claims) string {
	t.Helper()
	tok, err := tn.srv.built.Issuer.Mint(c)
	if err != nil {
		t.Fatalf("extdirtest: mint token: %v", err)
	}
	return tok
}

// user finds or adds the tenant's test user.
func (tn *Tenant) user(t TB, upn string) *auth.User {
	t.Helper()
	s := tn.srv
	key := tn.ID + "/" + strings.ToLower(upn)
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.users[key]; ok {
		return u
	}
	u, _, err := auth.AddUser(s.dataDir, auth.UserRegistration{
		Tenant: tn.ID, UPN: upn, DisplayName: upn,
		RoleIDs: []string{auth.RoleExtendedDirectoryUserAdministrator, auth.RoleReportsReader},
	})
	if err != nil {
		t.Fatalf("extdirtest: add user %s: %v", upn, err)
	}
	s.users[key] = u
	return u
}

// AddUser adds a test user to the tenant who signs in with password
// through the issuer's sign-in page (the web console, an app's
// authorization code flow) and its other delegated flows, holding exactly
// the directory roles roleIDs (auth.RoleExtendedDirectoryUserAdministrator,
// ...; none: a user whom every call refuses). UserToken for the same upn
// then mints that user's tokens.
func (tn *Tenant) AddUser(t TB, upn, password string, roleIDs ...string) {
	t.Helper()
	s := tn.srv
	key := tn.ID + "/" + strings.ToLower(upn)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[key]; ok {
		t.Fatalf("extdirtest: user %s is already in tenant %s", upn, tn.ID)
	}
	u, _, err := auth.AddUser(s.dataDir, auth.UserRegistration{Tenant: tn.ID, UPN: upn, DisplayName: upn, Password: password, RoleIDs: roleIDs})
	if err != nil {
		t.Fatalf("extdirtest: add user %s: %v", upn, err)
	}
	s.users[key] = u
}

// Credentials registers a client of the tenant's token endpoint with the
// given application permissions (default: all) and returns its id and
// secret, for code that gets its own tokens (client credentials, as
// azidentity's ClientSecretCredential does).
func (tn *Tenant) Credentials(t TB, roles ...string) (clientID, secret string) {
	t.Helper()
	if len(roles) == 0 {
		roles = allPermissions()
	}
	c, secret, err := auth.RegisterClient(tn.srv.dataDir, "extdirtest", tn.ID, roles)
	if err != nil {
		t.Fatalf("extdirtest: register client: %v", err)
	}
	return c.ID, secret
}

// TokenURL is the tenant's token endpoint.
func (tn *Tenant) TokenURL() string { return tn.srv.URL + "/" + tn.ID + "/oauth2/v2.0/token" }

// Seed loads profiles into the tenant through the same rules as the API
// (a seeded external profile is invited, then redeemed) and returns their
// ids in order. data is JSON in the API's shape (an array of profiles,
// "@odata.type" choosing the kind, "id" optional) or CSV with a header row
// of property names and an optional kind column. A bad row fails the test
// and stores nothing.
func (tn *Tenant) Seed(t TB, data string) []string {
	t.Helper()
	var out struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	ct := "text/csv"
	if d := strings.TrimSpace(data); strings.HasPrefix(d, "[") || strings.HasPrefix(d, "{") {
		ct = "application/json"
	}
	tn.srv.admin(t, "POST", "/admin/seed?tenant="+tn.ID, ct, []byte(data), &out)
	ids := make([]string, len(out.Value))
	for i, v := range out.Value {
		ids[i] = v.ID
	}
	return ids
}

// Reset empties the tenant: its profiles, deleted items and journal
// entries. Other tenants and the clock stay as they are.
func (tn *Tenant) Reset(t TB) {
	t.Helper()
	tn.srv.admin(t, "POST", "/admin/reset?tenant="+tn.ID, "", nil, nil)
}

// Requests returns the journal's entries of the tenant, oldest first: one
// per request, and one per request inside a $batch (BatchRequestID names
// its batch). Bodies are kept up to 4 KiB; headers, tokens and secrets are
// never kept.
func (tn *Tenant) Requests(t TB) []Request {
	t.Helper()
	return requests(t, tn.srv, tn.ID)
}

func requests(t TB, s *Server, tenant string) []Request {
	t.Helper()
	var out struct {
		Value []Request `json:"value"`
	}
	path := "/admin/requests"
	if tenant != "" {
		path += "?tenant=" + tenant
	}
	s.admin(t, "GET", path, "", nil, &out)
	return out.Value
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
