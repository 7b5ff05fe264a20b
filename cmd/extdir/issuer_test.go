package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

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
