package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTokenEndpoint(t *testing.T) {
	dir := t.TempDir()
	iss, err := OpenIssuer(dir, IssuerOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	registered, secret, err := RegisterClient(dir, "ci", testTenant, []string{"PendingExternalUserProfile.ReadWrite.All"})
	if err != nil {
		t.Fatal(err)
	}
	configSecret, configHash, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	configured := Client{ID: "configured-app", Tenant: testTenant, ObjectID: testOID, Roles: []string{"ExternalUserProfile.Read.All"}, SecretSHA256: configHash}
	clients, err := NewClients(dir, []Client{configured})
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{Issuer: iss, Clients: clients}
	v := iss.Verifier(nil, 0)
	graph := "https://graph.microsoft.com/.default"

	ok := func(id, secret string) TokenRequest {
		return TokenRequest{Tenant: testTenant, GrantType: "client_credentials", ClientID: id, ClientSecret: secret, Scope: graph}
	}
	t.Run("a registered client gets a token carrying its roles", func(t *testing.T) {
		resp, err := p.Token(ok(registered.ID, secret))
		if err != nil {
			t.Fatal(err)
		}
		if resp.TokenType != "Bearer" || resp.ExpiresIn != 3599 || resp.ExtExpiresIn != 3599 {
			t.Errorf("response %+v", resp)
		}
		pr, err := v.Verify(context.Background(), resp.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if pr.Tenant != testTenant || pr.ObjectID != registered.ObjectID || pr.AppID != registered.ID ||
			strings.Join(pr.Roles, ",") != "PendingExternalUserProfile.ReadWrite.All" || pr.Delegated() {
			t.Errorf("principal %+v", *pr)
		}
	})
	t.Run("a configured client gets a token", func(t *testing.T) {
		resp, err := p.Token(ok("configured-app", configSecret))
		if err != nil {
			t.Fatal(err)
		}
		pr, err := v.Verify(context.Background(), resp.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if pr.ObjectID != testOID || pr.AppID != "configured-app" {
			t.Errorf("principal %+v", *pr)
		}
	})
	t.Run("client ids match in any case", func(t *testing.T) {
		if _, err := p.Token(ok(strings.ToUpper(registered.ID), secret)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("OpenID scopes beside .default are ignored, a trailing slash too", func(t *testing.T) {
		req := ok(registered.ID, secret)
		req.Scope = "openid https://graph.microsoft.com//.default offline_access profile"
		if _, err := p.Token(req); err != nil {
			t.Fatal(err)
		}
	})

	with := func(mod func(*TokenRequest)) TokenRequest {
		r := ok(registered.ID, secret)
		mod(&r)
		return r
	}
	tests := []struct {
		name   string
		req    TokenRequest
		code   string
		status int
		aadsts int
	}{
		{"missing grant_type is invalid_request", with(func(r *TokenRequest) { r.GrantType = "" }), "invalid_request", 400, 900144},
		{"password grant is unsupported_grant_type", with(func(r *TokenRequest) { r.GrantType = "password" }), "unsupported_grant_type", 400, 70003},
		{"missing client_id is invalid_request", with(func(r *TokenRequest) { r.ClientID = "" }), "invalid_request", 400, 900144},
		{"missing scope is invalid_request", with(func(r *TokenRequest) { r.Scope = "" }), "invalid_request", 400, 900144},
		{"unknown client is invalid_client", with(func(r *TokenRequest) { r.ClientID = "00000000-0000-0000-0000-000000000000" }), "invalid_client", 401, 700016},
		{"a client id reaching out of the folder is invalid_client", with(func(r *TokenRequest) { r.ClientID = "../keys/000001" }), "invalid_client", 401, 700016},
		{"a client of another tenant is invalid_client", with(func(r *TokenRequest) { r.Tenant = otherTenant }), "invalid_client", 401, 700016},
		{"missing secret is invalid_client", with(func(r *TokenRequest) { r.ClientSecret = "" }), "invalid_client", 401, 7000218},
		{"wrong secret is invalid_client", with(func(r *TokenRequest) { r.ClientSecret = secret + "x" }), "invalid_client", 401, 7000215},
		{"the secret's hash as secret is invalid_client", with(func(r *TokenRequest) { r.ClientSecret = registered.SecretSHA256 }), "invalid_client", 401, 7000215},
		{"a delegated scope is invalid_scope", with(func(r *TokenRequest) { r.Scope = "PendingExternalUserProfile.ReadWrite.All" }), "invalid_scope", 400, 1002012},
		{"two resources are invalid_scope", with(func(r *TokenRequest) { r.Scope = graph + " api://other/.default" }), "invalid_scope", 400, 70011},
		{"openid alone is invalid_scope", with(func(r *TokenRequest) { r.Scope = "openid" }), "invalid_scope", 400, 70011},
		{"an unknown resource is invalid_scope", with(func(r *TokenRequest) { r.Scope = "api://other/.default" }), "invalid_scope", 400, 500011},
		{"a bare /.default is invalid_scope", with(func(r *TokenRequest) { r.Scope = "/.default" }), "invalid_scope", 400, 1002012},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := p.Token(tt.req)
			var oe *OAuthError
			if !errors.As(err, &oe) {
				t.Fatalf("got %+v, %v; want an OAuthError", resp, err)
			}
			if oe.Code != tt.code || oe.Status != tt.status || oe.AADSTS != tt.aadsts {
				t.Errorf("got %s %d AADSTS%d, want %s %d AADSTS%d (%s)", oe.Code, oe.Status, oe.AADSTS, tt.code, tt.status, tt.aadsts, oe.Description)
			}
		})
	}

	t.Run("a removed client gets no token", func(t *testing.T) {
		if err := RemoveClient(dir, registered.ID); err != nil {
			t.Fatal(err)
		}
		_, err := p.Token(ok(registered.ID, secret))
		var oe *OAuthError
		if !errors.As(err, &oe) || oe.Code != "invalid_client" {
			t.Fatalf("err = %v", err)
		}
		if err := RemoveClient(dir, registered.ID); !errors.Is(err, ErrNoClient) {
			t.Errorf("second removal: %v", err)
		}
	})
}

func TestClientFiles(t *testing.T) {
	dir := t.TempDir()
	a, secretA, err := RegisterClient(dir, "a", testTenant, []string{"ExternalUserProfile.Read.All"})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := RegisterClient(dir, "b", otherTenant, []string{"ExternalUserProfile.ReadWrite.All"})
	if err != nil {
		t.Fatal(err)
	}
	if len(secretA) != 43 {
		t.Errorf("secret %q is not 256 bits of base64url", secretA)
	}
	fi, err := os.Stat(filepath.Join(dir, clientsFolder, a.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("client file mode %v, want 0600", fi.Mode().Perm())
	}
	data, err := os.ReadFile(filepath.Join(dir, clientsFolder, a.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secretA) {
		t.Error("the secret is stored in the clear")
	}
	list, err := ListClients(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !slices.ContainsFunc(list, func(c *Client) bool { return c.ID == a.ID && c.Name == "a" }) ||
		!slices.ContainsFunc(list, func(c *Client) bool { return c.ID == b.ID && c.Tenant == otherTenant }) {
		t.Errorf("list = %+v", list)
	}

	// A client file copied under another client's name does not let its
	// secret stand for that client.
	if err := os.Remove(filepath.Join(dir, clientsFolder, b.ID+".json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, clientsFolder, b.ID+".json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	cs, err := NewClients(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := cs.lookup(b.ID); err == nil || c != nil {
		t.Errorf("lookup of a file naming another client: %v, %v", c, err)
	}

	tests := []struct {
		name   string
		tenant string
		roles  []string
	}{
		{"no roles is an error", testTenant, nil},
		{"an unknown role is an error", testTenant, []string{"User.Read.All"}},
		{"an empty tenant is an error", "", []string{"ExternalUserProfile.Read.All"}},
		{"a tenant with a slash is an error", "a/b", []string{"ExternalUserProfile.Read.All"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, _, err := RegisterClient(dir, "", tt.tenant, tt.roles); err == nil {
				t.Fatalf("registered %+v", c)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		doc  string
		ok   bool
	}{
		{"a full configuration is read", `{"issuers":[{"issuer":"https://login.microsoftonline.com/{tenantid}/v2.0","discovery_url":"https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration","audiences":["api://extdir"],"tenants":["` + testTenant + `"],"refresh_interval":"2h","min_refresh_interval":"1m"},{"issuer":"https://sts.windows.net/{tenantid}/","jwks_uri":"https://login.microsoftonline.com/common/discovery/keys","audiences":["api://extdir"]}],"clients":[{"client_id":"app","tenant":"t","roles":["ExternalUserProfile.Read.All"],"secret_sha256":"` + hash + `"}]}`, true},
		{"an empty object is read", `{}`, true},
		{"a loopback http jwks_uri is read", `{"issuers":[{"issuer":"https://x/{tenantid}","jwks_uri":"http://127.0.0.1:8081/keys","audiences":["a"]}]}`, true},
		{"an unknown member is an error", `{"issuers":[{"issuer":"https://x","jwks_url":"https://x/keys","audiences":["a"]}]}`, false},
		{"http to another host is an error", `{"issuers":[{"issuer":"https://x","jwks_uri":"http://idp.example.com/keys","audiences":["a"]}]}`, false},
		{"both jwks_uri and discovery_url is an error", `{"issuers":[{"issuer":"https://x","jwks_uri":"https://x/k","discovery_url":"https://x/d","audiences":["a"]}]}`, false},
		{"neither is an error", `{"issuers":[{"issuer":"https://x","audiences":["a"]}]}`, false},
		{"no audiences is an error", `{"issuers":[{"issuer":"https://x","jwks_uri":"https://x/k"}]}`, false},
		{"two placeholders is an error", `{"issuers":[{"issuer":"https://x/{tenantid}/{tenantid}","jwks_uri":"https://x/k","audiences":["a"]}]}`, false},
		{"a bare placeholder is an error", `{"issuers":[{"issuer":"{tenantid}","jwks_uri":"https://x/k","audiences":["a"]}]}`, false},
		{"a tiny min_refresh_interval is an error", `{"issuers":[{"issuer":"https://x","jwks_uri":"https://x/k","audiences":["a"],"min_refresh_interval":"10ms"}]}`, false},
		{"a duration as a number is an error", `{"issuers":[{"issuer":"https://x","jwks_uri":"https://x/k","audiences":["a"],"refresh_interval":60}]}`, false},
		{"the same issuer twice is an error", `{"issuers":[{"issuer":"https://x","jwks_uri":"https://x/k","audiences":["a"]},{"issuer":"https://x","jwks_uri":"https://x/k","audiences":["b"]}]}`, false},
		{"a client with a short hash is an error", `{"clients":[{"client_id":"app","tenant":"t","roles":["ExternalUserProfile.Read.All"],"secret_sha256":"abcd"}]}`, false},
		{"a client without roles is an error", `{"clients":[{"client_id":"app","tenant":"t","roles":[],"secret_sha256":"` + hash + `"}]}`, false},
		{"a client id twice is an error", `{"clients":[{"client_id":"app","tenant":"t","roles":["ExternalUserProfile.Read.All"],"secret_sha256":"` + hash + `"},{"client_id":"app","tenant":"u","roles":["ExternalUserProfile.Read.All"],"secret_sha256":"` + hash + `"}]}`, false},
		{"trailing data is an error", `{} {}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.doc))
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
