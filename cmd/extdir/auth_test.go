package main

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
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/extdir/extdir/auth"
)

// Tenants of these tests, besides defaultTenant.
const (
	tenantA     = "aaaaaaaa-0000-0000-0000-00000000000a"
	tenantB     = "bbbbbbbb-0000-0000-0000-00000000000b"
	tenantNotOK = "cccccccc-0000-0000-0000-00000000000c"
	extdirAud   = "api://extdir"
	entraIssuer = "https://login.microsoftonline.com/{tenantid}/v2.0"
)

var allRoles = []string{"PendingExternalUserProfile.ReadWrite.All", "ExternalUserProfile.ReadWrite.All"}

// fakeEntra stands for Entra ID in these tests: a JWKS on loopback that
// counts its hits, and the key that signs its tokens.
type fakeEntra struct {
	srv  *httptest.Server
	hits atomic.Int64
	key  *rsa.PrivateKey
	kid  string
}

func newFakeEntra(t *testing.T) *fakeEntra {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeEntra{key: key, kid: "entra-key-1"}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		enc := base64.RawURLEncoding
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []any{map[string]any{
			"kty": "RSA", "use": "sig", "kid": f.kid,
			"n": enc.EncodeToString(key.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// config is the issuer entry of --auth-config for this fake.
func (f *fakeEntra) config(tenants ...string) map[string]any {
	return map[string]any{"issuer": entraIssuer, "jwks_uri": f.srv.URL + "/keys", "audiences": []string{extdirAud},
		"tenants": tenants, "min_refresh_interval": "1h"}
}

// entraToken is an app-only token of the fake Entra for tenant, with the
// given claims changed (nil removes one).
func (f *fakeEntra) token(t *testing.T, tenant string, changes map[string]any) string {
	t.Helper()
	now := time.Now()
	claims := map[string]any{
		"iss": strings.ReplaceAll(entraIssuer, "{tenantid}", tenant), "aud": extdirAud,
		"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Add(-time.Minute).Unix(),
		"tid": tenant, "oid": "0e000000-0000-0000-0000-0000000000e1", "azp": "0a000000-0000-0000-0000-0000000000a1",
		"roles": allRoles, "ver": "2.0",
	}
	return signJWT(t, f.key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": f.kid}, change(claims, changes))
}

func change(m, changes map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// signJWT signs header and claims with key, RS256 unless header says HS256
// (then key is the secret).
func signJWT(t *testing.T, key any, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	var method jwt.SigningMethod = jwt.SigningMethodRS256
	if header["alg"] == "HS256" {
		method = jwt.SigningMethodHS256
	}
	sig, err := method.Sign(signed, key)
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + enc.EncodeToString(sig)
}

// writeAuthConfig writes an --auth-config file and returns its path.
func writeAuthConfig(t *testing.T, cfg map[string]any) string {
	t.Helper()
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cli runs an extdir command and returns its standard output.
func cli(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, noEnv, &out, io.Discard)
	return out.String(), err
}

func mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cli(t, args...)
	if err != nil {
		t.Fatalf("extdir %v: %v", args, err)
	}
	return out
}

// addClient registers a client of the token endpoint with the CLI.
func (ts *testServer) addClient(tenant string, roles ...string) addedClient {
	ts.t.Helper()
	out := mustCLI(ts.t, "client", "add", "--data-dir", ts.dir, "--tenant", tenant, "--roles", strings.Join(roles, ","), "--name", "test")
	var c addedClient
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		ts.t.Fatalf("client add printed %q: %v", out, err)
	}
	return c
}

// credentials is the clientcredentials configuration of c on ts.
func (ts *testServer) credentials(c addedClient, style oauth2.AuthStyle) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		TokenURL:     ts.base + "/" + c.TenantID + "/oauth2/v2.0/token",
		Scopes:       []string{"https://graph.microsoft.com/.default"},
		AuthStyle:    style,
	}
}

// builtinKey is the built-in issuer's first signing key and its kid, read
// as an attacker with the data directory would; for tokens Mint refuses.
func (ts *testServer) builtinKey() (*rsa.PrivateKey, string) {
	ts.t.Helper()
	data, err := os.ReadFile(filepath.Join(ts.dir, "keys", "000001.pem"))
	if err != nil {
		ts.t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		ts.t.Fatal(err)
	}
	keys := ts.jwks(defaultTenant)
	return k.(*rsa.PrivateKey), keys[len(keys)-1]["kid"].(string)
}

// jwks is the key set the server publishes.
func (ts *testServer) jwks(tenant string) []map[string]any {
	ts.t.Helper()
	r := ts.req("GET", "/"+tenant+"/discovery/v2.0/keys", "", nil)
	if r.status != 200 {
		ts.t.Fatalf("keys: %d %s", r.status, r.body)
	}
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		ts.t.Fatal(err)
	}
	return doc.Keys
}

// builtinClaims is a valid payload of the built-in issuer.
func builtinClaims(tenant string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": strings.ReplaceAll(auth.LegacyIssuerTemplate, "{tenantid}", tenant), "aud": auth.DefaultAudiences[0],
		"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Add(-time.Minute).Unix(),
		"tid": tenant, "oid": defaultOID, "roles": allRoles, "ver": "2.0",
	}
}

// headerKID returns the kid in a JWT's header.
func headerKID(t *testing.T, raw string) string {
	t.Helper()
	var h struct {
		Kid string `json:"kid"`
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("bad token header %q", raw)
	}
	return h.Kid
}

func TestClientCredentialsEndToEnd(t *testing.T) {
	configSecretOut := mustCLI(t, "client", "secret")
	var configSecret struct {
		Secret string `json:"client_secret"`
		Hash   string `json:"secret_sha256"`
	}
	if err := json.Unmarshal([]byte(configSecretOut), &configSecret); err != nil {
		t.Fatal(err)
	}
	conf := writeAuthConfig(t, map[string]any{"clients": []any{map[string]any{
		"client_id": "ci-pipeline", "tenant": tenantA, "object_id": "0b000000-0000-0000-0000-000000000001",
		"roles": []string{"PendingExternalUserProfile.Read.All"}, "secret_sha256": configSecret.Hash,
	}}})
	ts := startServer(t, "--auth-config", conf)
	registered := ts.addClient(tenantA, allRoles...)
	if !guidRE.MatchString(registered.ClientID) || len(registered.ClientSecret) < 40 || registered.TokenEndpoint != "/"+tenantA+"/oauth2/v2.0/token" {
		t.Fatalf("client add printed %+v", registered)
	}
	ctx := context.Background()

	for _, style := range []struct {
		name  string
		style oauth2.AuthStyle
	}{{"client_secret_basic", oauth2.AuthStyleInHeader}, {"client_secret_post", oauth2.AuthStyleInParams}} {
		t.Run("a token got with "+style.name+" works on the API", func(t *testing.T) {
			cc := ts.credentials(registered, style.style)
			httpClient := cc.Client(ctx)
			body := strings.NewReader(`{"displayName":"From OAuth","phoneNumber":"+1555000` + map[string]string{"client_secret_basic": "0001", "client_secret_post": "0002"}[style.name] + `"}`)
			resp, err := httpClient.Post(ts.base+pendingPath, "application/json", body)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Fatalf("create: %d %s", resp.StatusCode, raw)
			}
			var created map[string]any
			if err := json.Unmarshal(raw, &created); err != nil {
				t.Fatal(err)
			}
			if created["createdBy"] != registered.ObjectID {
				t.Errorf("createdBy = %v, want the client's object id %s", created["createdBy"], registered.ObjectID)
			}
			tok, err := cc.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || time.Until(tok.Expiry) < 59*time.Minute || time.Until(tok.Expiry) > time.Hour {
				t.Errorf("token type %q expiring in %v", tok.TokenType, time.Until(tok.Expiry))
			}
		})
	}

	t.Run("the token verifies with the published discovery document and keys", func(t *testing.T) {
		tok, err := ts.credentials(registered, oauth2.AuthStyleInParams).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := ts.req("GET", "/"+tenantA+"/v2.0/.well-known/openid-configuration", "", nil)
		if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Fatalf("discovery: %d %s", r.status, r.body)
		}
		doc := r.json(t)
		if doc["token_endpoint"] != ts.base+"/"+tenantA+"/oauth2/v2.0/token" || doc["jwks_uri"] != ts.base+"/"+tenantA+"/discovery/v2.0/keys" {
			t.Errorf("discovery endpoints: %s", r.body)
		}
		// What a relying party does: the token's iss is the document's
		// issuer, and its signature checks with a key of jwks_uri.
		var claims jwt.MapClaims
		parsed, err := jwt.ParseWithClaims(tok.AccessToken, &claims, func(tk *jwt.Token) (any, error) {
			for _, k := range ts.jwks(tenantA) {
				if k["kid"] == tk.Header["kid"] {
					n, _ := base64.RawURLEncoding.DecodeString(k["n"].(string))
					return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}, nil
				}
			}
			return nil, errors.New("kid not published")
		}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(doc["issuer"].(string)), jwt.WithAudience("https://graph.microsoft.com"))
		if err != nil || !parsed.Valid {
			t.Fatalf("token does not verify with the published document: %v", err)
		}
		for _, c := range []string{"iss", "aud", "exp", "nbf", "iat", "tid", "oid", "azp", "appid", "roles", "ver"} {
			if _, ok := claims[c]; !ok {
				t.Errorf("claim %s missing", c)
			}
		}
		if claims["tid"] != tenantA || claims["appid"] != registered.ClientID || claims["azp"] != registered.ClientID {
			t.Errorf("claims %v", claims)
		}
	})

	t.Run("a client of the configuration file gets a token", func(t *testing.T) {
		cc := ts.credentials(addedClient{ClientID: "ci-pipeline", ClientSecret: configSecret.Secret, TenantID: tenantA}, oauth2.AuthStyleInHeader)
		tok, err := cc.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r := ts.req("GET", pendingPath, tok.AccessToken, nil); r.status != 200 {
			t.Errorf("list with a read-only configured client: %d %s", r.status, r.body)
		}
		if r := ts.req("POST", pendingPath, tok.AccessToken, map[string]any{"displayName": "x", "phoneNumber": "+15550000009"}); r.status != 403 {
			t.Errorf("create with a read-only configured client: %d", r.status)
		}
	})

	t.Run("OAuth errors", func(t *testing.T) {
		wrong := registered
		wrong.ClientSecret = "not-the-secret"
		otherTenant := registered
		otherTenant.TenantID = tenantB
		tests := []struct {
			name   string
			cc     *clientcredentials.Config
			code   string
			status int
		}{
			{"a wrong secret is invalid_client", ts.credentials(wrong, oauth2.AuthStyleInParams), "invalid_client", 401},
			{"a wrong secret in the header is invalid_client", ts.credentials(wrong, oauth2.AuthStyleInHeader), "invalid_client", 401},
			{"another tenant's endpoint is invalid_client", ts.credentials(otherTenant, oauth2.AuthStyleInParams), "invalid_client", 401},
			{"another resource is invalid_scope", func() *clientcredentials.Config {
				c := ts.credentials(registered, oauth2.AuthStyleInParams)
				c.Scopes = []string{"api://someone-else/.default"}
				return c
			}(), "invalid_scope", 400},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := tt.cc.Token(ctx)
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) {
					t.Fatalf("err = %v, want a RetrieveError", err)
				}
				if re.ErrorCode != tt.code || re.Response.StatusCode != tt.status || !strings.HasPrefix(re.ErrorDescription, "AADSTS") {
					t.Errorf("got %d %s %q", re.Response.StatusCode, re.ErrorCode, re.ErrorDescription)
				}
				if re.Response.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("Cache-Control = %q", re.Response.Header.Get("Cache-Control"))
				}
			})
		}

		form := func(v ...string) string {
			q := url.Values{}
			for i := 0; i+1 < len(v); i += 2 {
				q.Add(v[i], v[i+1])
			}
			return q.Encode()
		}
		good := []string{"grant_type", "client_credentials", "client_id", registered.ClientID, "client_secret", registered.ClientSecret, "scope", "https://graph.microsoft.com/.default"}
		basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(registered.ClientID+":"+registered.ClientSecret))
		formType := "application/x-www-form-urlencoded"
		raw := []struct {
			name    string
			body    string
			headers []string
			status  int
			code    string
		}{
			{"a well-formed raw request gets a token", form(good...), []string{"Content-Type", formType}, 200, ""},
			{"an unknown grant is unsupported_grant_type", form(append(slices.Clone(good[2:]), "grant_type", "implicit")...), []string{"Content-Type", formType}, 400, "unsupported_grant_type"},
			{"the password grant without a username is invalid_request", form(append(slices.Clone(good[2:]), "grant_type", "password")...), []string{"Content-Type", formType}, 400, "invalid_request"},
			{"a JSON body is invalid_request", `{"grant_type":"client_credentials"}`, []string{"Content-Type", "application/json"}, 400, "invalid_request"},
			{"a repeated parameter is invalid_request", form(append(slices.Clone(good), "scope", "x")...), []string{"Content-Type", formType}, 400, "invalid_request"},
			{"a secret in the header and the body is invalid_request", form(good...), []string{"Content-Type", formType, "Authorization", basic}, 400, "invalid_request"},
			{"no secret at all is invalid_client", form(append(slices.Clone(good[:4]), good[6:]...)...), []string{"Content-Type", formType}, 401, "invalid_client"},
			{"a body over 64 KiB is invalid_request", form(append(slices.Clone(good), "pad", strings.Repeat("x", 70<<10))...), []string{"Content-Type", formType}, 400, "invalid_request"},
		}
		for _, tt := range raw {
			t.Run(tt.name, func(t *testing.T) {
				r := ts.req("POST", "/"+tenantA+"/oauth2/v2.0/token", "", tt.body, tt.headers...)
				if r.status != tt.status {
					t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
				}
				m := r.json(t)
				if tt.code == "" {
					if m["token_type"] != "Bearer" || m["expires_in"] != 3599.0 || m["ext_expires_in"] != 3599.0 || m["access_token"] == "" {
						t.Errorf("token response %s", r.body)
					}
					return
				}
				if m["error"] != tt.code || m["trace_id"] != r.header.Get("request-id") || m["error_description"] == "" {
					t.Errorf("error response %s", r.body)
				}
				if tt.status == 401 && r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				if strings.Contains(string(r.body), registered.ClientSecret) {
					t.Error("the secret is echoed")
				}
			})
		}
	})

	t.Run("a removed client gets no token, its tokens run out on their own", func(t *testing.T) {
		other := ts.addClient(tenantA, "PendingExternalUserProfile.Read.All")
		tok, err := ts.credentials(other, oauth2.AuthStyleInParams).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		list := mustCLI(t, "client", "list", "--data-dir", ts.dir)
		if !strings.Contains(list, other.ClientID) || !strings.Contains(list, registered.ClientID) {
			t.Errorf("client list:\n%s", list)
		}
		mustCLI(t, "client", "remove", "--data-dir", ts.dir, "--client-id", other.ClientID)
		_, err = ts.credentials(other, oauth2.AuthStyleInParams).Token(ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
			t.Errorf("token for a removed client: %v", err)
		}
		if r := ts.req("GET", pendingPath, tok.AccessToken, nil); r.status != 200 {
			t.Errorf("a token issued before the removal: %d", r.status)
		}
		if _, err := cli(t, "client", "remove", "--data-dir", ts.dir, "--client-id", other.ClientID); err == nil {
			t.Error("removing twice succeeded")
		}
	})
}

func TestDiscoveryUnderPublicURL(t *testing.T) {
	ts := startServer(t, "--public-url", "https://extdir.example.com", "--issuer", "https://extdir.example.com/{tenantid}/v2.0")
	doc := ts.req("GET", "/"+tenantA+"/v2.0/.well-known/openid-configuration", "", nil).json(t)
	want := map[string]any{
		"issuer":                 "https://extdir.example.com/" + tenantA + "/v2.0",
		"token_endpoint":         "https://extdir.example.com/" + tenantA + "/oauth2/v2.0/token",
		"jwks_uri":               "https://extdir.example.com/" + tenantA + "/discovery/v2.0/keys",
		"authorization_endpoint": "https://extdir.example.com/" + tenantA + "/oauth2/v2.0/authorize",
	}
	assertFields(t, doc, want)
	// OpenID Discovery: the issuer is the prefix of the document's own URL.
	if !strings.HasPrefix("https://extdir.example.com/"+tenantA+"/v2.0/.well-known/openid-configuration", doc["issuer"].(string)) {
		t.Errorf("issuer %v is not the prefix of the discovery URL", doc["issuer"])
	}
	tok := ts.token("--issuer", "https://extdir.example.com/{tenantid}/v2.0", "--tenant", tenantA)
	if r := ts.req("GET", pendingPath, tok, nil); r.status != 200 {
		t.Errorf("token of the configured issuer: %d %s", r.status, r.body)
	}
	// An unknown client is shown on the sign-in page, never redirected.
	r := ts.req("GET", "/"+tenantA+"/oauth2/v2.0/authorize?client_id=x&response_type=code", "", nil)
	if r.status != 400 || r.header.Get("Location") != "" || !strings.Contains(string(r.body), "AADSTS700016") {
		t.Errorf("authorize: %d %s", r.status, r.body)
	}
	if r := ts.req("GET", "/beta/v2.0/.well-known/openid-configuration", "", nil); r.status != 401 {
		t.Errorf("/beta is not a tenant: %d %s", r.status, r.body)
	}
}

func TestKeyRotationEndToEnd(t *testing.T) {
	ts := startServer(t)
	c := ts.addClient(defaultTenant, allRoles...)
	ctx := context.Background()
	before, err := ts.credentials(c, oauth2.AuthStyleInParams).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldKID := headerKID(t, before.AccessToken)

	newKID := strings.TrimSpace(mustCLI(t, "keys", "rotate", "--data-dir", ts.dir))
	if newKID == oldKID || newKID == "" {
		t.Fatalf("rotate printed %q (old %q)", newKID, oldKID)
	}
	// The CLI signs with the new key at once, and the running server
	// accepts it at once.
	cliToken := ts.token()
	if headerKID(t, cliToken) != newKID {
		t.Fatalf("extdir token signs with %s, want %s", headerKID(t, cliToken), newKID)
	}
	if r := ts.req("GET", pendingPath, cliToken, nil); r.status != 200 {
		t.Fatalf("token of the new key right after the rotation: %d %s", r.status, r.body)
	}
	// The token endpoint moves to the new key; the old one is still accepted.
	waitUntil(t, "the token endpoint signs with the new key", func() bool {
		tok, err := ts.credentials(c, oauth2.AuthStyleInParams).Token(ctx)
		return err == nil && headerKID(t, tok.AccessToken) == newKID
	})
	if r := ts.req("GET", pendingPath, before.AccessToken, nil); r.status != 200 {
		t.Fatalf("token of the old key before its retirement: %d", r.status)
	}
	kids := func() []string {
		var out []string
		for _, k := range ts.jwks(defaultTenant) {
			out = append(out, k["kid"].(string))
		}
		return out
	}
	if got := kids(); !slices.Equal(got, []string{newKID, oldKID}) {
		t.Errorf("JWKS kids %v, want new then old", got)
	}
	list := mustCLI(t, "keys", "list", "--data-dir", ts.dir)
	if !strings.Contains(list, oldKID) || !regexp.MustCompile(`(?m)^2\s+`+regexp.QuoteMeta(newKID)+`\s+\S+\s+yes$`).MatchString(list) {
		t.Errorf("keys list:\n%s", list)
	}

	if _, err := cli(t, "keys", "retire", "--data-dir", ts.dir, "--kid", newKID); err == nil {
		t.Error("retiring the signing key succeeded")
	}
	mustCLI(t, "keys", "retire", "--data-dir", ts.dir, "--kid", oldKID)
	waitUntil(t, "the retired key is refused", func() bool {
		return ts.req("GET", pendingPath, before.AccessToken, nil).status == 401
	})
	if got := kids(); !slices.Equal(got, []string{newKID}) {
		t.Errorf("JWKS kids after retirement %v", got)
	}
	if r := ts.req("GET", pendingPath, cliToken, nil); r.status != 200 {
		t.Errorf("token of the new key after the retirement: %d", r.status)
	}
	if !strings.Contains(ts.logText(), "signing keys reloaded") {
		t.Error("no log line for the reload")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestHostileTokens(t *testing.T) {
	entra := newFakeEntra(t)
	conf := writeAuthConfig(t, map[string]any{"issuers": []any{entra.config(defaultTenant)}})
	ts := startServer(t, "--auth-config", conf, "--clock-skew", "10s")
	tok := ts.token()
	existing := ts.create(tok, map[string]any{"displayName": "Existing", "phoneNumber": "+15550000001"})["id"].(string)
	before := ts.snapshot(tok)

	// Positive controls: what the hostile cases alter is accepted as is.
	if r := ts.req("GET", pendingPath, entra.token(t, defaultTenant, nil), nil); r.status != 200 {
		t.Fatalf("valid external token: %d %s", r.status, r.body)
	}
	within := mintAt(t, ts.dir, time.Now().Add(5*time.Second), auth.Claims{})
	if r := ts.req("GET", pendingPath, within, nil); r.status != 200 {
		t.Fatalf("nbf 5s ahead, within the 10s leeway: %d %s", r.status, r.body)
	}

	key, kid := ts.builtinKey()
	valid := builtinClaims(defaultTenant)
	signed := func(changes map[string]any) string {
		return signJWT(t, key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}, change(valid, changes))
	}
	good := signed(nil)
	parts := strings.Split(good, ".")
	tamperedPayload, _ := json.Marshal(change(valid, map[string]any{"tid": tenantA}))
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(tamperedPayload) + "." + parts[2]
	expired, forged, algNone := hostileTokens(t, ts.dir)

	// The public key as an attacker gets it, from the JWKS endpoint.
	jwk := ts.jwks(defaultTenant)[0]
	n, _ := base64.RawURLEncoding.DecodeString(jwk["n"].(string))
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
	hs256 := func(secret []byte) string {
		return signJWT(t, secret, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}, valid)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	entraClaimsFor := func(changes map[string]any) map[string]any {
		now := time.Now()
		return change(map[string]any{
			"iss": strings.ReplaceAll(entraIssuer, "{tenantid}", defaultTenant), "aud": extdirAud,
			"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(), "tid": defaultTenant, "oid": defaultOID, "roles": allRoles,
		}, changes)
	}
	unknownEntraKid := signJWT(t, other, map[string]any{"alg": "RS256", "kid": "made-up"}, entraClaimsFor(nil))

	tests := []struct {
		name          string
		authorization string
	}{
		{"alg none is 401", "Bearer " + algNone},
		{"HS256 with the issuer's public key (PKIX PEM) as secret is 401", "Bearer " + hs256(publicPEM)},
		{"HS256 with the issuer's public key (PKCS #1 PEM) as secret is 401", "Bearer " + hs256(pkcs1PEM)},
		{"HS256 with the JWK's modulus as secret is 401", "Bearer " + hs256(n)},
		{"RS256 from an unknown key is 401", "Bearer " + forged},
		{"RS256 from an unknown key under the issuer's kid is 401", "Bearer " + signJWT(t, other, map[string]any{"alg": "RS256", "kid": kid}, valid)},
		{"RS256 from an unknown key of the external issuer is 401", "Bearer " + unknownEntraKid},
		{"the built-in key signing for the external issuer is 401", "Bearer " + signJWT(t, key, map[string]any{"alg": "RS256", "kid": kid}, entraClaimsFor(nil))},
		{"a tampered payload is 401", "Bearer " + tampered},
		{"an expired token is 401", "Bearer " + expired},
		{"a token expired just beyond the leeway is 401", "Bearer " + signed(map[string]any{"exp": time.Now().Add(-15 * time.Second).Unix()})},
		{"nbf beyond the leeway is 401", "Bearer " + mintAt(t, ts.dir, time.Now().Add(2*time.Minute), auth.Claims{})},
		{"a wrong aud is 401", "Bearer " + mintAt(t, ts.dir, time.Now(), auth.Claims{Audience: "api://someone-else"})},
		{"a wrong aud from the external issuer is 401", "Bearer " + entra.token(t, defaultTenant, map[string]any{"aud": "https://graph.microsoft.com"})},
		{"a wrong iss is 401", "Bearer " + signed(map[string]any{"iss": "https://evil.example.com/" + defaultTenant + "/v2.0"})},
		{"the iss of another tenant than tid is 401", "Bearer " + signed(map[string]any{"iss": strings.ReplaceAll(auth.LegacyIssuerTemplate, "{tenantid}", tenantA)})},
		{"a trusted issuer but a tenant not allowed is 401", "Bearer " + entra.token(t, tenantNotOK, nil)},
		{"a missing tid is 401", "Bearer " + signed(map[string]any{"tid": nil})},
		{"a missing oid is 401", "Bearer " + signed(map[string]any{"oid": nil})},
		{"a missing tid from the external issuer is 401", "Bearer " + entra.token(t, defaultTenant, map[string]any{"tid": nil})},
		{"a missing oid from the external issuer is 401", "Bearer " + entra.token(t, defaultTenant, map[string]any{"oid": nil})},
		{"an oversized token is 401", "Bearer " + signed(map[string]any{"pad": strings.Repeat("x", auth.MaxTokenSize)})},
		{"a Graph token (nonce header) is 401 by default", "Bearer " + signJWT(t, entra.key, map[string]any{"alg": "RS256", "kid": entra.kid, "nonce": "abc"}, entraClaimsFor(map[string]any{"aud": "https://graph.microsoft.com"}))},
		{"Bearer alone is 401", "Bearer"},
		{"Bearer and spaces is 401", "Bearer    "},
		{"garbage is 401", "Bearer garbage"},
		{"three garbage segments are 401", "Bearer a.b.c"},
		{"a valid token under another scheme is 401", "Token " + good},
		{"a valid token without a scheme is 401", good},
		{"Basic credentials are 401", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:admin"))},
		{"a valid token twice is 401", "Bearer " + good + " " + good},
		{"binary junk is 401", "Bearer " + strings.Repeat("\xff\xfe", 50)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, probe := range []struct {
				method, path string
				body         any
			}{
				{"POST", pendingPath, map[string]any{"displayName": "Intruder", "phoneNumber": "+15550000666"}},
				{"DELETE", pendingPath + "/" + existing, nil},
				{"PATCH", pendingPath + "/" + existing, map[string]any{"displayName": "Defaced"}},
			} {
				r := ts.req(probe.method, probe.path, "", probe.body, "Authorization", tt.authorization)
				if r.status != 401 || r.errorCode(t) != "InvalidAuthenticationToken" {
					t.Fatalf("%s: %d %s, want 401 InvalidAuthenticationToken", probe.method, r.status, r.body)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				assertGraphError(t, r)
			}
			if after := ts.snapshot(tok); after != before {
				t.Fatalf("the hostile request changed the directory:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	// Made-up kids cannot make extdir hammer the issuer's key server: one
	// fetch for the first token, none for all these within the limit.
	for i := range 50 {
		ts.req("GET", pendingPath, signJWT(t, other, map[string]any{"alg": "RS256", "kid": "flood-" + string(rune('a'+i%26)) + string(rune('a'+i/26))}, entraClaimsFor(nil)), nil)
	}
	if n := entra.hits.Load(); n != 1 {
		t.Errorf("the key server was hit %d times, want 1", n)
	}
}

// mintAt mints a default-tenant token with the server's key on a clock set
// to at; c's zero fields take extdir token's defaults.
func mintAt(t *testing.T, dir string, at time.Time, c auth.Claims) string {
	t.Helper()
	iss, err := auth.OpenIssuer(dir, auth.IssuerOptions{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	c.Tenant, c.ObjectID, c.AppID, c.Roles = defaultTenant, defaultOID, defaultAppID, allRoles
	raw, err := iss.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestTenantIsolationEveryEndpoint(t *testing.T) {
	entra := newFakeEntra(t)
	conf := writeAuthConfig(t, map[string]any{"issuers": []any{entra.config(tenantA, tenantB)}})
	ts := startServer(t, "--auth-config", conf)
	ctx := context.Background()

	// Tenant A: one profile in each state.
	tokA := ts.token("--tenant", tenantA)
	newProfile := func(phone string) string {
		return ts.create(tokA, map[string]any{"displayName": "A " + phone, "phoneNumber": phone})["id"].(string)
	}
	pending := newProfile("+15551110001")
	external := newProfile("+15551110002")
	ts.req("POST", pendingPath+"/"+external+"/redeem", tokA, nil)
	deletedPending := newProfile("+15551110003")
	ts.req("DELETE", pendingPath+"/"+deletedPending, tokA, nil)
	deletedExternal := newProfile("+15551110004")
	ts.req("POST", pendingPath+"/"+deletedExternal+"/redeem", tokA, nil)
	ts.req("DELETE", externalPath+"/"+deletedExternal, tokA, nil)
	idsOfA := []string{pending, external, deletedPending, deletedExternal}
	before := ts.snapshot(tokA)
	if strings.Count(before, `"id"`) != 4 {
		t.Fatalf("tenant A's setup: %s", before)
	}

	client := ts.addClient(tenantB, allRoles...)
	fromEndpoint, err := ts.credentials(client, oauth2.AuthStyleInHeader).Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tokensOfB := []struct{ name, token string }{
		{"an app-only CLI token", ts.token("--tenant", tenantB)},
		{"a delegated CLI token", ts.token("--tenant", tenantB, "--scp", strings.Join(allRoles, " "), "--wids", auth.RoleGlobalAdministrator)},
		{"a token of the token endpoint", fromEndpoint.AccessToken},
		{"an external issuer's token", entra.token(t, tenantB, nil)},
	}
	// Every route of graph/routes.go under /beta with each of A's ids:
	// all are 404 to B.
	byID := []struct{ method, path string }{
		{"GET", pendingPath + "/" + pending},
		{"GET", pendingPath + "('" + pending + "')"},
		{"PATCH", pendingPath + "/" + pending},
		{"DELETE", pendingPath + "/" + pending},
		{"POST", pendingPath + "/" + pending + "/redeem"},
		{"POST", pendingPath + "/" + pending + "/microsoft.graph.redeem"},
		{"GET", externalPath + "/" + external},
		{"PATCH", externalPath + "/" + external},
		{"DELETE", externalPath + "/" + external},
		{"GET", externalPath + "/" + pending},
		{"GET", pendingPath + "/" + external},
		{"GET", deletedPath + "/" + deletedPending},
		{"GET", deletedPath + "/" + deletedExternal},
		{"POST", deletedPath + "/" + deletedPending + "/restore"},
		{"POST", deletedPath + "/" + deletedExternal + "/microsoft.graph.restore"},
		{"DELETE", deletedPath + "/" + deletedPending},
		{"DELETE", deletedPath + "/" + deletedExternal},
		{"GET", deletedPath + "/" + pending},
	}
	// The collections: B sees none of A's ids, by listing, counting or
	// filtering.
	lists := []string{
		pendingPath, externalPath,
		deletedPath + "/microsoft.graph.pendingExternalUserProfile",
		deletedPath + "/microsoft.graph.externalUserProfile",
		pendingPath + "?$filter=" + url.QueryEscape("phoneNumber eq '+15551110001'"),
		pendingPath + "?$filter=" + url.QueryEscape("id eq '"+pending+"'"),
	}
	counts := []string{pendingPath + "/$count", externalPath + "/$count",
		deletedPath + "/microsoft.graph.pendingExternalUserProfile/$count",
		deletedPath + "/microsoft.graph.externalUserProfile/$count"}

	for n, b := range tokensOfB {
		t.Run(b.name+" neither sees nor touches tenant A", func(t *testing.T) {
			for _, e := range byID {
				var body any
				if e.method == "PATCH" {
					body = map[string]any{"displayName": "Defaced"}
				}
				r := ts.req(e.method, e.path, b.token, body)
				if r.status != 404 || r.errorCode(t) != "Request_ResourceNotFound" {
					t.Errorf("%s %s: %d %s, want 404", e.method, e.path, r.status, r.body)
				}
			}
			for _, p := range lists {
				r := ts.req("GET", p, b.token, nil)
				if r.status != 200 {
					t.Fatalf("GET %s: %d %s", p, r.status, r.body)
				}
				for _, id := range idsOfA {
					if strings.Contains(string(r.body), id) {
						t.Errorf("GET %s shows tenant A's %s", p, id)
					}
				}
			}
			for _, p := range counts {
				if r := ts.req("GET", p, b.token, nil, "ConsistencyLevel", "eventual"); r.status != 200 || string(r.body) != "0" {
					t.Errorf("GET %s: %d %s, want 0", p, r.status, r.body)
				}
			}
			// A's phone number is free in B: uniqueness is per tenant, and
			// a clash would tell B that A holds the number.
			r := ts.req("POST", pendingPath, b.token, map[string]any{"displayName": "B", "phoneNumber": "+15551110001"})
			if r.status != 201 {
				t.Fatalf("create in B with A's number: %d %s", r.status, r.body)
			}
			created := r.json(t)["id"].(string)
			ts.req("DELETE", pendingPath+"/"+created, b.token, nil)
			if r := ts.req("DELETE", deletedPath+"/"+created, b.token, nil); r.status != 204 {
				t.Fatalf("purge B's profile: %d %s", r.status, r.body)
			}
			if after := ts.snapshot(tokA); after != before {
				t.Fatalf("token %d of B changed tenant A:\nbefore %s\nafter  %s", n, before, after)
			}
		})
	}
}

func TestDevNoAuth(t *testing.T) {
	const devTenant, devOID = "dddddddd-0000-0000-0000-00000000000d", "dddddddd-0000-0000-0000-0000000000d1"
	ts := startServer(t, "--dev-no-auth", "--dev-tenant", devTenant, "--dev-oid", devOID)
	if !strings.Contains(ts.logText(), "--dev-no-auth is on") {
		t.Errorf("no warning at start:\n%s", ts.logText())
	}
	r := ts.req("POST", pendingPath, "", map[string]any{"displayName": "Dev", "phoneNumber": "+15552220001"})
	if r.status != 201 || r.json(t)["createdBy"] != devOID {
		t.Fatalf("create without a token: %d %s", r.status, r.body)
	}
	id := r.json(t)["id"].(string)
	if r := ts.req("GET", pendingPath+"/"+id, "", nil); r.status != 200 {
		t.Errorf("get without a token: %d", r.status)
	}
	// A token, when sent, is still verified and decides the caller.
	if r := ts.req("GET", pendingPath+"/"+id, "garbage", nil); r.status != 401 {
		t.Errorf("a garbage token in dev mode: %d", r.status)
	}
	if r := ts.req("GET", pendingPath+"/"+id, ts.token("--tenant", tenantA), nil); r.status != 404 {
		t.Errorf("another tenant's token in dev mode: %d", r.status)
	}
	if r := ts.req("GET", pendingPath+"/"+id, ts.token("--tenant", devTenant), nil); r.status != 200 {
		t.Errorf("the dev tenant's token: %d", r.status)
	}
}

func TestInsecureGraphTokensEndToEnd(t *testing.T) {
	entra := newFakeEntra(t)
	conf := writeAuthConfig(t, map[string]any{"issuers": []any{entra.config(tenantA)}})
	graphToken := func(changes map[string]any) string {
		now := time.Now()
		claims := change(map[string]any{
			"iss": strings.ReplaceAll(entraIssuer, "{tenantid}", tenantA), "aud": "00000003-0000-0000-c000-000000000000",
			"exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix(), "tid": tenantA, "oid": defaultOID,
			"scp": strings.Join(allRoles, " "), "wids": []string{auth.RoleGlobalAdministrator},
		}, changes)
		// Signed by no key anyone here has: as unverifiable as the real thing.
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return signJWT(t, other, map[string]any{"alg": "RS256", "typ": "JWT", "kid": "graph-kid", "nonce": "n0nce"}, claims)
	}
	good := graphToken(nil)

	secure := startServer(t, "--auth-config", conf)
	r := secure.req("GET", pendingPath, good, nil)
	if r.status != 401 || !strings.Contains(r.errorMessage(t), "Microsoft Graph") {
		t.Fatalf("Graph token on a secure server: %d %s", r.status, r.body)
	}
	secure.stop()

	ts := startServer(t, "--auth-config", conf, "--insecure-accept-graph-tokens")
	if !strings.Contains(ts.logText(), "INSECURE: --insecure-accept-graph-tokens is on") {
		t.Errorf("no warning at start:\n%s", ts.logText())
	}
	r = ts.req("POST", pendingPath, good, map[string]any{"displayName": "Via Graph token", "phoneNumber": "+15553330001"})
	if r.status != 201 {
		t.Fatalf("Graph token in insecure mode: %d %s", r.status, r.body)
	}
	if !strings.Contains(ts.logText(), "WITHOUT verifying its signature") {
		t.Error("no warning on use")
	}
	for _, tt := range []struct{ name, token string }{
		{"expired", graphToken(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})},
		{"a tenant not allowed", graphToken(map[string]any{"tid": tenantNotOK, "iss": strings.ReplaceAll(entraIssuer, "{tenantid}", tenantNotOK)})},
		{"not Graph's audience", graphToken(map[string]any{"aud": "api://someone-else"})},
		{"an issuer not configured", graphToken(map[string]any{"iss": "https://sts.windows.net/" + tenantA + "/"})},
	} {
		if r := ts.req("GET", pendingPath, tt.token, nil); r.status != 401 {
			t.Errorf("Graph token %s: %d", tt.name, r.status)
		}
	}
	if entra.hits.Load() != 0 {
		t.Error("keys fetched for Graph tokens, which no key verifies")
	}
}

func TestServeAuthFlagErrors(t *testing.T) {
	entra := newFakeEntra(t)
	conf := writeAuthConfig(t, map[string]any{"issuers": []any{entra.config()}})
	bad := writeAuthConfig(t, map[string]any{"issuers": []any{map[string]any{"issuer": entraIssuer, "jwks_url": "https://x/keys", "audiences": []string{"a"}}}})
	tests := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"Graph tokens without an auth config are refused", []string{"--insecure-accept-graph-tokens"}, true, "needs --auth-config"},
		{"Graph tokens on a public URL are refused", []string{"--auth-config", conf, "--insecure-accept-graph-tokens", "--public-url", "https://extdir.example.com"}, true, "--insecure-allow-exposed"},
		{"dev mode on every interface is refused", []string{"--dev-no-auth", "--listen", "0.0.0.0:0"}, true, "--insecure-allow-exposed"},
		{"dev mode with a real certificate is refused", []string{"--dev-no-auth", "--tls-cert", "c.pem", "--tls-key", "k.pem"}, true, "--insecure-allow-exposed"},
		{"dev mode on a shared PostgreSQL database is refused", []string{"--dev-no-auth", "--database", "postgres://extdir@127.0.0.1:1/extdir"}, true, "--insecure-allow-exposed"},
		{"no issuer at all is refused", []string{"--builtin-issuer=false"}, true, "no token issuer"},
		{"a missing auth config is an error", []string{"--auth-config", filepath.Join(t.TempDir(), "none.json")}, false, "no such file"},
		{"an unknown member in the auth config is an error", []string{"--auth-config", bad}, false, "jwks_url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tt.args...)
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // should it start after all, stop at once
			err := run(ctx, args, noEnv, io.Discard, &stderr)
			var ue *usageError
			if err == nil || errors.As(err, &ue) != tt.usage || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v (usage %v), want one containing %q (usage %v)", err, errors.As(err, &ue), tt.want, tt.usage)
			}
		})
	}

	t.Run("the exposure check gives way to the explicit acknowledgement", func(t *testing.T) {
		ts := startServer(t, "--dev-no-auth", "--public-url", "https://extdir.example.com", "--insecure-allow-exposed")
		if r := ts.req("GET", pendingPath, "", nil); r.status != 200 {
			t.Errorf("dev mode acknowledged: %d", r.status)
		}
	})
}

func TestBuiltinIssuerDisabled(t *testing.T) {
	entra := newFakeEntra(t)
	conf := writeAuthConfig(t, map[string]any{"issuers": []any{entra.config()}})
	ts := startServer(t, "--auth-config", conf, "--builtin-issuer=false")
	if r := ts.req("GET", pendingPath, entra.token(t, tenantA, nil), nil); r.status != 200 {
		t.Errorf("external token: %d %s", r.status, r.body)
	}
	if r := ts.req("GET", pendingPath, ts.token(), nil); r.status != 401 {
		t.Errorf("built-in token with the built-in issuer off: %d", r.status)
	}
	if r := ts.req("POST", "/"+tenantA+"/oauth2/v2.0/token", "", "grant_type=client_credentials", "Content-Type", "application/x-www-form-urlencoded"); r.status != 404 {
		t.Errorf("token endpoint with the built-in issuer off: %d %s", r.status, r.body)
	}
}

func TestClientAndKeysCommandErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
	}{
		{"client without a subcommand is a usage error", []string{"client"}},
		{"an unknown client subcommand is a usage error", []string{"client", "frobnicate"}},
		{"client add without roles is a usage error", []string{"client", "add", "--data-dir", dir}},
		{"client remove without an id is a usage error", []string{"client", "remove", "--data-dir", dir}},
		{"keys without a subcommand is a usage error", []string{"keys"}},
		{"keys retire without a kid is a usage error", []string{"keys", "retire", "--data-dir", dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ue *usageError
			if _, err := cli(t, tt.args...); !errors.As(err, &ue) {
				t.Errorf("err = %v, want a usage error", err)
			}
		})
	}
	if _, err := cli(t, "client", "add", "--data-dir", dir, "--roles", "User.Read.All"); err == nil || !strings.Contains(err.Error(), "unknown role") {
		t.Errorf("an unknown role: %v", err)
	}
	if _, err := cli(t, "keys", "retire", "--data-dir", dir, "--kid", "nope"); err == nil {
		t.Error("retiring an unknown kid succeeded")
	}
}
