package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The built-in client of the web console: a public client of every tenant,
// kept in memory, whose one redirect URI is compared exactly.

const (
	consoleRedirect = "https://127.0.0.1:8443/console/"
	secondTenant    = "44444444-4444-4444-4444-444444444444"
)

// consoleFixture is a Provider with sign-in, the console's built-in client
// and one user in each of two tenants, sharing a password.
func consoleFixture(t *testing.T) *Provider {
	t.Helper()
	dir := t.TempDir()
	iss, err := OpenIssuer(dir, IssuerOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tenant := range []string{testTenant, secondTenant} {
		if _, _, err := AddUser(dir, UserRegistration{Tenant: tenant, UPN: expiryUPN, Password: expiryPassword, RoleIDs: []string{RoleExtendedDirectoryUserAdministrator}}); err != nil {
			t.Fatal(err)
		}
	}
	clients, err := NewClients(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := clients.AddBuiltin(Client{ID: ConsoleClientID, Name: "extdir console", Public: true, RedirectURIs: []string{consoleRedirect}}); err != nil {
		t.Fatal(err)
	}
	users, err := NewUsers(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{Issuer: iss, Clients: clients}
	if err := p.EnableSignIn(dir, users, SignInOptions{Now: fixedClock(t0)}); err != nil {
		t.Fatal(err)
	}
	return p
}

func consoleRequest(tenant, redirect string) AuthorizeRequest {
	return AuthorizeRequest{
		Tenant: tenant, ClientID: ConsoleClientID, RedirectURI: redirect, ResponseType: "code", ResponseMode: "fragment",
		Scope: expiryScope, State: "s", CodeChallenge: pkceChallenge(expiryVerifier), CodeChallengeMethod: "S256",
	}
}

func TestBuiltinClientSignsInUsersOfEveryTenant(t *testing.T) {
	p := consoleFixture(t)
	for _, tenant := range []string{testTenant, secondTenant} {
		req := consoleRequest(tenant, consoleRedirect)
		client, err := p.AuthorizeClient(req)
		if err != nil {
			t.Fatalf("tenant %s: %v", tenant, err)
		}
		if err := p.CheckAuthorizeRequest(client, req); err != nil {
			t.Fatal(err)
		}
		code, err := p.AuthorizeSignIn(client, req, expiryUPN, expiryPassword, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		// A code of one tenant is redeemed at that tenant's endpoint only.
		other := map[string]string{testTenant: secondTenant, secondTenant: testTenant}[tenant]
		_, err = p.Token(TokenRequest{Tenant: other, GrantType: GrantAuthorizationCode, ClientID: ConsoleClientID, Code: code, RedirectURI: consoleRedirect, CodeVerifier: expiryVerifier})
		var oe *OAuthError
		if !errors.As(err, &oe) || oe.AADSTS != 70000 {
			t.Fatalf("tenant %s's code redeemed at %s: %v, want AADSTS70000", tenant, other, err)
		}
		code, err = p.AuthorizeSignIn(client, req, expiryUPN, expiryPassword, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		resp, err := p.Token(TokenRequest{Tenant: tenant, GrantType: GrantAuthorizationCode, ClientID: ConsoleClientID, Code: code, RedirectURI: consoleRedirect, CodeVerifier: expiryVerifier})
		wantTokens(t, resp, err)
		var claims struct {
			Tid, Azp, Scp string
		}
		raw, err := base64.RawURLEncoding.DecodeString(splitJWT(t, resp.AccessToken)[1])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &claims); err != nil {
			t.Fatal(err)
		}
		if claims.Tid != tenant || claims.Azp != ConsoleClientID || !strings.Contains(claims.Scp, "PendingExternalUserProfile.ReadWrite.All") {
			t.Errorf("tenant %s: token claims %+v", tenant, claims)
		}
		// The refresh token works for the tenant that issued it.
		if _, err := p.Token(TokenRequest{Tenant: tenant, GrantType: GrantRefreshToken, ClientID: ConsoleClientID, RefreshToken: resp.RefreshToken}); err != nil {
			t.Errorf("tenant %s: refresh: %v", tenant, err)
		}
	}
}

func TestBuiltinClientRedirectIsExact(t *testing.T) {
	p := consoleFixture(t)
	for _, uri := range []string{
		"https://127.0.0.1:8443/console",           // no trailing slash
		"https://127.0.0.1:8443/console/callback",  // another path
		"https://127.0.0.1:9443/console/",          // another port: https is not a loopback listener's
		"https://localhost:8443/console/",          // another host
		"http://127.0.0.1:8443/console/",           // another scheme
		"https://127.0.0.1:8443/console/?x=1",      // a query
		"https://evil.example/console/",            // elsewhere
		"https://127.0.0.1:8443/console/#fragment", // a fragment
	} {
		_, err := p.AuthorizeClient(consoleRequest(testTenant, uri))
		var oe *OAuthError
		if !errors.As(err, &oe) || oe.AADSTS != 50011 {
			t.Errorf("redirect %s: %v, want AADSTS50011", uri, err)
		}
	}
}

func TestBuiltinClientIsPublicOnly(t *testing.T) {
	p := consoleFixture(t)
	_, err := p.Token(TokenRequest{Tenant: testTenant, GrantType: "client_credentials", ClientID: ConsoleClientID, Scope: "https://graph.microsoft.com/.default"})
	var oe *OAuthError
	if !errors.As(err, &oe) || oe.Code != "invalid_client" {
		t.Errorf("client credentials of the console: %v, want invalid_client", err)
	}
	// PKCE is required of a public client.
	req := consoleRequest(testTenant, consoleRedirect)
	req.CodeChallenge, req.CodeChallengeMethod = "", ""
	client, err := p.AuthorizeClient(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckAuthorizeRequest(client, req); !errors.As(err, &oe) || oe.AADSTS != 9002325 {
		t.Errorf("a console request without PKCE: %v, want AADSTS9002325", err)
	}

	clients, err := NewClients("", []Client{{ID: "taken", Tenant: testTenant, Public: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := clients.AddBuiltin(Client{ID: "secret", Roles: []string{"PendingExternalUserProfile.Read.All"}}); err == nil {
		t.Error("a confidential built-in client was accepted")
	}
	if err := clients.AddBuiltin(Client{ID: "taken", Public: true}); err == nil {
		t.Error("a built-in client with a configured client's id was accepted")
	}
	if err := clients.AddBuiltin(Client{ID: "plain", Public: true, RedirectURIs: []string{"http://example.com/console/"}}); err == nil {
		t.Error("a built-in client with a plain http redirect URI off loopback was accepted")
	}
}
