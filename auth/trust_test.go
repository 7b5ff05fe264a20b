package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/extdir/extdir"
)

// fakeIdP is an external issuer on loopback: a JWKS endpoint and a discovery
// document, both counting their hits, with keys a test can change.
type fakeIdP struct {
	srv       *httptest.Server
	jwksHits  atomic.Int64
	discHits  atomic.Int64
	mu        sync.Mutex
	keys      map[string]*rsa.PrivateKey
	issuer    string // what the discovery document names
	failJWKS  atomic.Bool
	extraKeys []map[string]any // published besides the RSA keys
}

func newFakeIdP(t *testing.T, issuer string) *fakeIdP {
	t.Helper()
	idp := &fakeIdP{keys: map[string]*rsa.PrivateKey{}, issuer: issuer}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		idp.jwksHits.Add(1)
		if idp.failJWKS.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		idp.mu.Lock()
		defer idp.mu.Unlock()
		var doc struct {
			Keys []any `json:"keys"`
		}
		for kid, k := range idp.keys {
			n, e := rsaComponents(&k.PublicKey)
			doc.Keys = append(doc.Keys, map[string]any{"kty": "RSA", "use": "sig", "kid": kid, "n": n, "e": e, "x5t": kid})
		}
		for _, k := range idp.extraKeys {
			doc.Keys = append(doc.Keys, k)
		}
		_ = json.NewEncoder(w).Encode(doc)
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		idp.discHits.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": idp.issuer, "jwks_uri": idp.srv.URL + "/keys"})
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

// addKey publishes a new key under kid and returns it.
func (idp *fakeIdP) addKey(t testing.TB, kid string) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	idp.mu.Lock()
	idp.keys[kid] = k
	idp.mu.Unlock()
	return k
}

func (idp *fakeIdP) removeKey(kid string) {
	idp.mu.Lock()
	delete(idp.keys, kid)
	idp.mu.Unlock()
}

// clock is a test clock that tests move forward.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	entraTemplate = "https://login.microsoftonline.com/{tenantid}/v2.0"
	extdirAPI     = "api://extdir"
	otherTenant   = "99999999-9999-9999-9999-999999999999"
)

// entraClaims is a valid payload of the fake Entra issuer for testTenant.
func entraClaims() map[string]any {
	return map[string]any{
		"iss":   "https://login.microsoftonline.com/" + testTenant + "/v2.0",
		"aud":   extdirAPI,
		"exp":   t0.Add(time.Hour).Unix(),
		"nbf":   t0.Unix(),
		"iat":   t0.Unix(),
		"tid":   testTenant,
		"oid":   testOID,
		"azp":   testApp,
		"roles": []string{"ExternalUserProfile.Read.All"},
		"ver":   "2.0",
	}
}

func signKid(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	return sign(t, jwt.SigningMethodRS256, key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}, claims)
}

type testVerifier struct {
	Verifier
	clock *clock
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestVerifier builds a verifier of the built-in issuer iss (when not
// nil) and the external issuers, on a clock that starts at t0.
func newTestVerifier(t *testing.T, iss *Issuer, graphTokens bool, issuers ...IssuerConfig) testVerifier {
	t.Helper()
	c := &clock{t: t0}
	logs := &syncBuffer{}
	v, err := NewVerifier(VerifierOptions{
		Builtin:                   iss,
		Issuers:                   issuers,
		Leeway:                    testLeeway,
		InsecureAcceptGraphTokens: graphTokens,
		Logger:                    slog.New(slog.NewTextHandler(logs, nil)),
		Now:                       c.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return testVerifier{Verifier: v, clock: c, logs: logs}
}

func wantCode(t *testing.T, err error, want *extdir.Error) {
	t.Helper()
	var e *extdir.Error
	if !errors.As(err, &e) || e.Code != extdir.EUnauthenticated {
		t.Fatalf("error %v, want a 401", err)
	}
	if want != nil && e.Message != want.Message {
		t.Errorf("message %q, want %q", e.Message, want.Message)
	}
}

func TestNewVerifierBothIssuers(t *testing.T) {
	iss := openTestIssuer(t)
	idp := newFakeIdP(t, entraTemplate)
	entraKey := idp.addKey(t, "entra-1")
	v := newTestVerifier(t, iss, false, IssuerConfig{Issuer: entraTemplate, JWKSURI: idp.srv.URL + "/keys", Audiences: []string{extdirAPI}})

	builtin, err := iss.Mint(Claims{Tenant: testTenant, ObjectID: testOID, Roles: []string{"PendingExternalUserProfile.Read.All"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		raw   string
		roles []string
	}{
		{"built-in token is accepted", builtin, []string{"PendingExternalUserProfile.Read.All"}},
		{"external token is accepted", signKid(t, entraKey, "entra-1", entraClaims()), []string{"ExternalUserProfile.Read.All"}},
		{"external v1 appid claim is read", signKid(t, entraKey, "entra-1", with(with(entraClaims(), "azp", nil), "appid", testApp)), []string{"ExternalUserProfile.Read.All"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if p.Tenant != testTenant || p.ObjectID != testOID || strings.Join(p.Roles, ",") != strings.Join(tt.roles, ",") {
				t.Errorf("principal %+v", *p)
			}
		})
	}
	if n := idp.jwksHits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want once", n)
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	iss := openTestIssuer(t)
	idp := newFakeIdP(t, entraTemplate)
	entraKey := idp.addKey(t, "entra-1")
	v := newTestVerifier(t, iss, false, IssuerConfig{
		Issuer: entraTemplate, JWKSURI: idp.srv.URL + "/keys", Audiences: []string{extdirAPI},
		Tenants: []string{testTenant}, MinRefreshInterval: Duration(time.Hour),
	})
	valid := entraClaims()
	builtinKey := iss.keys.Load().current
	good := signKid(t, entraKey, "entra-1", valid)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + encodeJSON(t, with(valid, "roles", []string{"ExternalUserProfile.ReadWrite.All"})) + "." + parts[2]
	publicPEM := publicKeyPEM(t, &entraKey.PublicKey)

	tests := []struct {
		name string
		raw  string
		want *extdir.Error
	}{
		{"alg none is 401", sign(t, jwt.SigningMethodHS256, []byte("k"), map[string]any{"alg": "none", "kid": "entra-1"}, valid), errSignature},
		{"HS256 with the external issuer's public key is 401", sign(t, jwt.SigningMethodHS256, publicPEM, map[string]any{"alg": "HS256", "kid": "entra-1"}, valid), errSignature},
		{"RS256 from an unknown key is 401", signKid(t, otherKey(), "entra-9", valid), errSignature},
		{"RS256 from another key under a known kid is 401", signKid(t, otherKey(), "entra-1", valid), errSignature},
		{"the built-in key signing an external iss is 401", signKid(t, builtinKey.private, builtinKey.kid, valid), errSignature},
		{"tampered payload is 401", tampered, errSignature},
		{"expired is 401", signKid(t, entraKey, "entra-1", with(valid, "exp", t0.Add(-time.Hour).Unix())), errExpired},
		{"nbf beyond the leeway is 401", signKid(t, entraKey, "entra-1", with(valid, "nbf", t0.Add(testLeeway+time.Second).Unix())), errNotYetValid},
		{"wrong aud is 401", signKid(t, entraKey, "entra-1", with(valid, "aud", DefaultAudiences[0])), errAudience},
		{"untrusted iss is 401", signKid(t, entraKey, "entra-1", with(valid, "iss", "https://evil.example.com/"+testTenant+"/v2.0")), errIssuer},
		{"iss of another tenant than tid is 401", signKid(t, entraKey, "entra-1", with(valid, "iss", "https://login.microsoftonline.com/"+otherTenant+"/v2.0")), errIssuer},
		{"iss with a path for a tenant is 401", signKid(t, entraKey, "entra-1", with(with(valid, "iss", "https://login.microsoftonline.com/a/b/v2.0"), "tid", "a/b")), errIssuer},
		{"tenant not allowed is 401", signKid(t, entraKey, "entra-1", with(with(valid, "tid", otherTenant), "iss", "https://login.microsoftonline.com/"+otherTenant+"/v2.0")), errTenantNotAllowed},
		{"missing tid is 401", signKid(t, entraKey, "entra-1", with(valid, "tid", nil)), errNoTenant},
		{"missing oid is 401", signKid(t, entraKey, "entra-1", with(valid, "oid", nil)), errNoObjectID},
		{"oversized token is 401", signKid(t, entraKey, "entra-1", with(valid, "pad", strings.Repeat("x", MaxTokenSize))), errTooLarge},
		{"garbage is 401", "garbage", errMalformed},
		{"undecodable payload is 401", parts[0] + ".!!!." + parts[2], errMalformed},
		{"iss as a number is 401", parts[0] + "." + encodeJSON(t, with(valid, "iss", 7)) + "." + parts[2], errMalformed},
		{"a Graph token is 401 when the insecure mode is off", sign(t, jwt.SigningMethodRS256, entraKey, map[string]any{"alg": "RS256", "kid": "entra-1", "nonce": "abc"}, with(valid, "aud", DefaultAudiences[0])), errGraphToken},
		{"a nonce on a built-in token is 401", sign(t, jwt.SigningMethodRS256, builtinKey.private, map[string]any{"alg": "RS256", "kid": builtinKey.kid, "nonce": "abc"}, validClaims(iss)), errSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.raw)
			if err == nil {
				t.Fatalf("accepted as %+v", *p)
			}
			wantCode(t, err, tt.want)
		})
	}
}

func encodeJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64URL(b)
}

func TestIssuerTemplates(t *testing.T) {
	tests := []struct {
		name, template, iss, tenant string
		ok                          bool
	}{
		{"v2.0 issuer names the tenant", entraTemplate, "https://login.microsoftonline.com/" + testTenant + "/v2.0", testTenant, true},
		{"v1.0 issuer names the tenant", "https://sts.windows.net/{tenantid}/", "https://sts.windows.net/" + testTenant + "/", testTenant, true},
		{"v1.0 issuer without the trailing slash does not match", "https://sts.windows.net/{tenantid}/", "https://sts.windows.net/" + testTenant, "", false},
		{"an empty tenant does not match", entraTemplate, "https://login.microsoftonline.com//v2.0", "", false},
		{"two segments for a tenant do not match", entraTemplate, "https://login.microsoftonline.com/a/b/v2.0", "", false},
		{"a literal issuer matches itself", "https://idp.example.com", "https://idp.example.com", "", true},
		{"a literal issuer matches nothing else", "https://idp.example.com", "https://idp.example.com/", "", false},
		{"a literal template does not match the empty iss", "https://idp.example.com", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tenant, ok := parseTemplate(tt.template).match(tt.iss)
			if ok != tt.ok || tenant != tt.tenant {
				t.Errorf("match = %q, %v; want %q, %v", tenant, ok, tt.tenant, tt.ok)
			}
		})
	}
}

func TestUnknownKidRefreshIsRateLimited(t *testing.T) {
	idp := newFakeIdP(t, entraTemplate)
	first := idp.addKey(t, "entra-1")
	v := newTestVerifier(t, nil, false, IssuerConfig{
		Issuer: entraTemplate, JWKSURI: idp.srv.URL + "/keys", Audiences: []string{extdirAPI},
		MinRefreshInterval: Duration(time.Minute),
	})
	ctx := context.Background()
	if _, err := v.Verify(ctx, signKid(t, first, "entra-1", entraClaims())); err != nil {
		t.Fatal(err)
	}
	// An attacker's flood of made-up kids, from many goroutines at once,
	// once the limit allows a refresh: it gets exactly one.
	v.clock.advance(time.Minute)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 25 {
				raw := signKid(t, otherKey(), "made-up-"+string(rune('a'+g))+string(rune('a'+n)), entraClaims())
				if _, err := v.Verify(ctx, raw); err == nil {
					t.Error("made-up kid accepted")
				}
			}
		})
	}
	wg.Wait()
	if n := idp.jwksHits.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times for 200 unknown kids, want 2 (the first use, one refresh)", n)
	}

	// The issuer rotates: its new key is found at the next refresh the
	// limit allows, not before.
	second := idp.addKey(t, "entra-2")
	rotated := signKid(t, second, "entra-2", entraClaims())
	if _, err := v.Verify(ctx, rotated); err == nil {
		t.Fatal("new key accepted within the rate limit: the limit was not applied")
	}
	v.clock.advance(time.Minute)
	if _, err := v.Verify(ctx, rotated); err != nil {
		t.Fatalf("new key after the limit: %v", err)
	}
	if n := idp.jwksHits.Load(); n != 3 {
		t.Errorf("JWKS fetched %d times, want 3", n)
	}
}

func TestKeysRefreshAndRetire(t *testing.T) {
	idp := newFakeIdP(t, entraTemplate)
	first := idp.addKey(t, "entra-1")
	v := newTestVerifier(t, nil, false, IssuerConfig{
		Issuer: entraTemplate, JWKSURI: idp.srv.URL + "/keys", Audiences: []string{extdirAPI},
		RefreshInterval: Duration(time.Hour), MinRefreshInterval: Duration(time.Minute),
	})
	ctx := context.Background()
	claims := with(entraClaims(), "exp", t0.Add(24*time.Hour).Unix())
	raw := signKid(t, first, "entra-1", claims)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	// The issuer retires the key; within the refresh interval it is still
	// trusted, after it no longer.
	idp.removeKey("entra-1")
	idp.addKey(t, "entra-2")
	v.clock.advance(59 * time.Minute)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatalf("within the refresh interval: %v", err)
	}
	v.clock.advance(2 * time.Minute)
	if _, err := v.Verify(ctx, raw); err == nil {
		t.Fatal("a retired key still accepted after the refresh interval")
	}
	if n := idp.jwksHits.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
}

func TestKeyServerDown(t *testing.T) {
	idp := newFakeIdP(t, entraTemplate)
	key := idp.addKey(t, "entra-1")
	v := newTestVerifier(t, nil, false, IssuerConfig{
		Issuer: entraTemplate, JWKSURI: idp.srv.URL + "/keys", Audiences: []string{extdirAPI},
		RefreshInterval: Duration(time.Hour), MinRefreshInterval: Duration(10 * time.Minute),
	})
	ctx := context.Background()
	claims := with(entraClaims(), "exp", t0.Add(24*time.Hour).Unix())
	raw := signKid(t, key, "entra-1", claims)

	idp.failJWKS.Store(true)
	for range 5 {
		if _, err := v.Verify(ctx, raw); err == nil {
			t.Fatal("accepted without keys")
		}
	}
	if n := idp.jwksHits.Load(); n != 1 {
		t.Errorf("key server hit %d times while down, want 1", n)
	}
	if !strings.Contains(v.logs.String(), "fetching signing keys failed") {
		t.Errorf("failure not logged:\n%s", v.logs)
	}
	// Failures are retried sooner than the minimum interval.
	v.clock.advance(failureRetry)
	idp.failJWKS.Store(false)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatalf("after the key server came back: %v", err)
	}
	// Stale keys beat no keys: past the refresh interval with the server
	// down again, the keys held are still used.
	idp.failJWKS.Store(true)
	v.clock.advance(2 * time.Hour)
	if _, err := v.Verify(ctx, raw); err != nil {
		t.Fatalf("stale keys while the key server is down: %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name     string
		docIss   string
		template string
		ok       bool
	}{
		{"multi-tenant document naming the template is used", entraTemplate, entraTemplate, true},
		{"tenant document naming an instance is used", "https://login.microsoftonline.com/" + testTenant + "/v2.0", entraTemplate, true},
		{"document of another issuer is refused", "https://evil.example.com/{tenantid}/v2.0", entraTemplate, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := newFakeIdP(t, tt.docIss)
			key := idp.addKey(t, "entra-1")
			v := newTestVerifier(t, nil, false, IssuerConfig{Issuer: tt.template, DiscoveryURL: idp.srv.URL + "/.well-known/openid-configuration", Audiences: []string{extdirAPI}})
			_, err := v.Verify(context.Background(), signKid(t, key, "entra-1", entraClaims()))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok %v", err, tt.ok)
			}
			if idp.discHits.Load() != 1 {
				t.Errorf("discovery fetched %d times", idp.discHits.Load())
			}
		})
	}
}

func TestJWKSKeysSkipped(t *testing.T) {
	idp := newFakeIdP(t, entraTemplate)
	key := idp.addKey(t, "entra-1")
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	n, e := rsaComponents(&small.PublicKey)
	idp.extraKeys = []map[string]any{
		{"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": "AA", "y": "AA"},
		{"kty": "RSA", "kid": "small", "n": n, "e": e},
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": n, "e": e},
	}
	v := newTestVerifier(t, nil, false, IssuerConfig{Issuer: entraTemplate, JWKSURI: idp.srv.URL + "/keys", Audiences: []string{extdirAPI}})
	ctx := context.Background()
	if _, err := v.Verify(ctx, signKid(t, key, "entra-1", entraClaims())); err != nil {
		t.Fatalf("the usable key beside unusable ones: %v", err)
	}
	if _, err := v.Verify(ctx, signKid(t, small, "small", entraClaims())); err == nil {
		t.Error("a 1024-bit key was trusted")
	}
}

func TestGraphTokensInsecureMode(t *testing.T) {
	idp := newFakeIdP(t, entraTemplate)
	idp.addKey(t, "entra-1")
	v := newTestVerifier(t, nil, true, IssuerConfig{Issuer: entraTemplate, JWKSURI: idp.srv.URL + "/keys", Audiences: []string{extdirAPI}, Tenants: []string{testTenant}})
	// The signature of a real Graph token is over a hashed nonce: no key
	// here verifies it, and none needs to.
	graphHeader := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "entra-1", "nonce": "n0nce"}
	graph := with(entraClaims(), "aud", DefaultAudiences[1])
	ok := sign(t, jwt.SigningMethodRS256, otherKey(), graphHeader, graph)
	p, err := v.Verify(context.Background(), ok)
	if err != nil {
		t.Fatalf("Graph token in insecure mode: %v", err)
	}
	if p.Tenant != testTenant || p.ObjectID != testOID {
		t.Errorf("principal %+v", *p)
	}
	if !strings.Contains(v.logs.String(), "WITHOUT verifying its signature") {
		t.Errorf("use not logged:\n%s", v.logs)
	}
	if idp.jwksHits.Load() != 0 {
		t.Errorf("keys fetched for an unverifiable token")
	}

	tests := []struct {
		name string
		raw  string
		want *extdir.Error
	}{
		{"alg none is 401", sign(t, jwt.SigningMethodHS256, []byte("k"), with(graphHeader, "alg", "none"), graph), errSignature},
		{"HS256 is 401", sign(t, jwt.SigningMethodHS256, []byte("k"), with(graphHeader, "alg", "HS256"), graph), errSignature},
		{"expired is 401", sign(t, jwt.SigningMethodRS256, otherKey(), graphHeader, with(graph, "exp", t0.Add(-time.Hour).Unix())), errExpired},
		{"nbf in the future is 401", sign(t, jwt.SigningMethodRS256, otherKey(), graphHeader, with(graph, "nbf", t0.Add(time.Hour).Unix())), errNotYetValid},
		{"extdir's own audience is 401", sign(t, jwt.SigningMethodRS256, otherKey(), graphHeader, with(graph, "aud", extdirAPI)), errAudience},
		{"another tenant is 401", sign(t, jwt.SigningMethodRS256, otherKey(), graphHeader, with(with(graph, "tid", otherTenant), "iss", "https://login.microsoftonline.com/"+otherTenant+"/v2.0")), errTenantNotAllowed},
		{"an unconfigured issuer is 401", sign(t, jwt.SigningMethodRS256, otherKey(), graphHeader, with(graph, "iss", "https://sts.windows.net/"+testTenant+"/")), errIssuer},
		{"missing oid is 401", sign(t, jwt.SigningMethodRS256, otherKey(), graphHeader, with(graph, "oid", nil)), errNoObjectID},
		{"crit header is 401", sign(t, jwt.SigningMethodRS256, otherKey(), with(graphHeader, "crit", []string{"x"}), graph), errSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if p, err := v.Verify(context.Background(), tt.raw); err == nil {
				t.Fatalf("accepted as %+v", *p)
			} else {
				wantCode(t, err, tt.want)
			}
		})
	}
}

func TestNewVerifierConfigErrors(t *testing.T) {
	iss := openTestIssuer(t)
	good := IssuerConfig{Issuer: entraTemplate, JWKSURI: "https://login.microsoftonline.com/common/discovery/v2.0/keys", Audiences: []string{extdirAPI}}
	tests := []struct {
		name string
		o    VerifierOptions
	}{
		{"no issuer at all is an error", VerifierOptions{}},
		{"Graph tokens without an external issuer is an error", VerifierOptions{Builtin: iss, InsecureAcceptGraphTokens: true}},
		{"an external issuer equal to the built-in one is an error", VerifierOptions{Builtin: iss, Issuers: []IssuerConfig{{Issuer: LegacyIssuerTemplate, JWKSURI: good.JWKSURI, Audiences: good.Audiences}}}},
		{"the same issuer twice is an error", VerifierOptions{Issuers: []IssuerConfig{good, good}}},
		{"an issuer without audiences is an error", VerifierOptions{Issuers: []IssuerConfig{{Issuer: entraTemplate, JWKSURI: good.JWKSURI}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewVerifier(tt.o); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func base64URL(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// publicKeyPEM is what an attacker can take from the JWKS: the public key,
// here as the PEM an HS256 "secret" confusion attack would use.
func publicKeyPEM(t *testing.T, pub *rsa.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}
