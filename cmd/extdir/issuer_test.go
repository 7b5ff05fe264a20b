package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"golang.org/x/oauth2"
)

// jwtIssuer returns the iss claim of a JWT, unverified.
func jwtIssuer(t *testing.T, raw string) string {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.Iss
}

// With no --issuer, the issuer is named after the server's own origin, so
// that discovery is OpenID-correct and MSAL finds the issuer at its
// authority; the command line and the token endpoint mint under that name.
func TestIssuerIsTheServersOwnOrigin(t *testing.T) {
	ts := startServer(t)
	want := ts.base + "/" + defaultTenant + "/v2.0"
	doc := ts.req("GET", "/"+defaultTenant+"/v2.0/.well-known/openid-configuration", "", nil).json(t)
	if doc["issuer"] != want {
		t.Fatalf("discovery issuer = %v, want %s", doc["issuer"], want)
	}
	tok := ts.token()
	if got := jwtIssuer(t, tok); got != want {
		t.Errorf("extdir token iss = %s, want %s", got, want)
	}
	if r := ts.req("GET", pendingPath, tok, nil); r.status != 200 {
		t.Errorf("the command line's token: %d %s", r.status, r.body)
	}
	c := ts.addClient(defaultTenant, allRoles...)
	fromEndpoint, err := ts.credentials(c, oauth2.AuthStyleInParams).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := jwtIssuer(t, fromEndpoint.AccessToken); got != want {
		t.Errorf("token endpoint iss = %s, want %s", got, want)
	}
}

// Nodes that share a data directory but listen on addresses of their own
// accept each other's tokens: each one's name is recorded there.
func TestNodesOfOneDataDirAcceptEachOthersNames(t *testing.T) {
	dir := t.TempDir()
	first := startServerIn(t, dir, "--database", "memory")
	second := startServerIn(t, dir, "--database", "memory")
	tok := second.token() // the newest name: the second node's
	if got, want := jwtIssuer(t, tok), second.base+"/"+defaultTenant+"/v2.0"; got != want {
		t.Fatalf("iss = %s, want the second node's %s", got, want)
	}
	for name, ts := range map[string]*testServer{"first": first, "second": second} {
		if r := ts.req("GET", pendingPath, tok, nil); r.status != 200 {
			t.Errorf("%s node: %d %s", name, r.status, r.body)
		}
	}
	fixed := startServerIn(t, dir, "--database", "memory", "--issuer", "https://directory.example.com/{tenantid}/v2.0")
	if r := fixed.req("GET", pendingPath, tok, nil); r.status != 200 {
		t.Errorf("a node with a fixed --issuer refused the shared directory's token: %d %s", r.status, r.body)
	}
	if got := jwtIssuer(t, fixed.token()); got != "https://directory.example.com/"+defaultTenant+"/v2.0" {
		t.Errorf("after a node with --issuer started, extdir token mints as %s", got)
	}
}

// Go's Azure Identity library signs in to a fresh https server in its
// default configuration, as an application does against Entra ID, and the
// token it gets works on the API; a wrong secret is Entra's AADSTS7000215.
func TestAzidentityClientSecretCredential(t *testing.T) {
	ts := startServer(t, "--tls-self-signed")
	pemBytes, err := os.ReadFile(filepath.Join(ts.dir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no certificate in cert.pem")
	}
	ts.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	c := ts.addClient(tenantA, allRoles...)
	opts := &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: ts.base + "/"},
			Transport: ts.client,
		},
		DisableInstanceDiscovery: true,
	}
	scopes := policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}

	cred, err := azidentity.NewClientSecretCredential(tenantA, c.ClientID, c.ClientSecret, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(t.Context(), scopes)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if got, want := jwtIssuer(t, tok.Token), ts.base+"/"+tenantA+"/v2.0"; got != want {
		t.Errorf("iss = %s, want %s", got, want)
	}
	if r := ts.req("GET", pendingPath, tok.Token, nil); r.status != 200 {
		t.Errorf("API with the azidentity token: %d %s", r.status, r.body)
	}

	wrong, err := azidentity.NewClientSecretCredential(tenantA, c.ClientID, "not-the-secret", opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.GetToken(t.Context(), scopes); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Errorf("wrong secret: %v, want AADSTS7000215", err)
	}
}
