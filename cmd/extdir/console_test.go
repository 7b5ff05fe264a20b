package main

import (
	"context"
	"encoding/json"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/extdir/extdir/auth"
)

// The web console from the program's side: served at the origin the server
// listens on, signing in as a client the issuer knows with that origin's
// redirect URI; off with --console=false; another client with
// --console-client-id, checked at start. The console itself is tested in a
// browser, in console/.

// authorizeWith asks the sign-in page of the development tenant for a code
// of client to redirect.
func (ts *testServer) authorizeWith(client, redirect string) response {
	ts.t.Helper()
	q := url.Values{
		"client_id": {client}, "redirect_uri": {redirect}, "response_type": {"code"}, "response_mode": {"fragment"},
		"scope":          {"https://graph.microsoft.com/PendingExternalUserProfile.ReadWrite.All openid"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}, "state": {"s"},
	}
	return ts.req("GET", "/"+defaultTenant+"/oauth2/v2.0/authorize?"+q.Encode(), "", nil)
}

func TestConsoleIsServedForItsOrigin(t *testing.T) {
	ts := startServer(t)
	page := ts.req("GET", "/console/", "", nil)
	if page.status != 200 || !strings.Contains(string(page.body), `<meta name="extdir-redirect-uri" content="`+ts.base+`/console/">`) ||
		!strings.Contains(string(page.body), `content="`+auth.ConsoleClientID+`"`) {
		t.Fatalf("GET /console/: %d %s", page.status, page.body)
	}
	if !ts.eventuallyLogged(`"msg":"console","url":"` + ts.base + `/console/"`) {
		t.Errorf("no log line names the console's address:\n%s", ts.logText())
	}
	// The issuer knows the console's client, for this origin's page only.
	if r := ts.authorizeWith(auth.ConsoleClientID, ts.base+"/console/"); r.status != 200 || !strings.Contains(string(r.body), "extdir console") {
		t.Errorf("the sign-in page for the console: %d %s", r.status, r.body)
	}
	if r := ts.authorizeWith(auth.ConsoleClientID, ts.base+"/elsewhere/"); r.status != 400 || !strings.Contains(string(r.body), "AADSTS50011") {
		t.Errorf("the console's client with another redirect URI: %d %s", r.status, r.body)
	}
}

func TestConsoleOff(t *testing.T) {
	ts := startServer(t, "--console=false")
	for _, path := range []string{"/console", "/console/", "/console/app.js"} {
		if r := ts.req("GET", path, "", nil); r.status != 404 {
			t.Errorf("GET %s with --console=false: %d", path, r.status)
		}
	}
	if r := ts.authorizeWith(auth.ConsoleClientID, ts.base+"/console/"); r.status != 400 || !strings.Contains(string(r.body), "AADSTS700016") {
		t.Errorf("the console's client with the console off: %d %s", r.status, r.body)
	}
}

func TestConsoleNeedsASecureOrigin(t *testing.T) {
	// Plain http elsewhere than this machine: no browser signs in with
	// PKCE there, and OAuth refuses such a redirect URI; the server starts
	// without the console.
	ts := startServer(t, "--public-url", "http://extdir.example:8080")
	if r := ts.req("GET", "/console/", "", nil); r.status != 404 {
		t.Errorf("GET /console/ on a plain http public URL: %d", r.status)
	}
	if !ts.eventuallyLogged("console off") {
		t.Errorf("no log line says why the console is off:\n%s", ts.logText())
	}
}

func TestConsoleClientID(t *testing.T) {
	dir := t.TempDir()
	add := func(args ...string) string {
		out, _, err := runCmd(t, append([]string{"client", "add", "--data-dir", dir, "--tenant", defaultTenant}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			ClientID string `json:"client_id"`
		}
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatalf("client add: %s", out)
		}
		return c.ClientID
	}
	// A loopback redirect URI matches any port: the server's own, known
	// once it listens.
	public := add("--public", "--redirect-uri", "http://127.0.0.1/console/")
	ts := startServerIn(t, dir, "--console-client-id", public)
	page := ts.req("GET", "/console/", "", nil)
	if !strings.Contains(string(page.body), `<meta name="extdir-client-id" content="`+public+`">`) {
		t.Fatalf("the console does not sign in as %s: %s", public, page.body)
	}
	if r := ts.authorizeWith(auth.ConsoleClientID, ts.base+"/console/"); r.status != 400 {
		t.Errorf("the built-in console client answers %d beside --console-client-id", r.status)
	}
	ts.stop()

	for _, tc := range []struct{ id, want string }{
		{"5c1f2a3e-0000-4000-8000-000000000099", "is not registered"},
		{add("--roles", "PendingExternalUserProfile.Read.All"), "has a secret"},
		{add("--public", "--redirect-uri", "http://127.0.0.1/elsewhere/"), "does not have the redirect URI"},
	} {
		err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--console-client-id", tc.id}, noEnv, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--console-client-id %s: %v, want %q", tc.id, err, tc.want)
		}
	}
}
