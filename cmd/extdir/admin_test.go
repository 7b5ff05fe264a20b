package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServeSeedIsThereOnTheFirstRequest(t *testing.T) {
	seed := writeTemp(t, "seed.csv", "\ufeffKind;DisplayName;PhoneNumber;companyName\npending;Ada;+14255550100;Contoso\nexternal;Grace;+14255550101;Fabrikam\n")
	ts := startServer(t, "--seed", seed)
	// The server listens before the seed is in; /readyz says when it is.
	r := ts.req("GET", "/readyz", "", nil)
	for deadline := time.Now().Add(30 * time.Second); r.status == 503 && time.Now().Before(deadline); {
		if !strings.Contains(string(r.body), "loading --seed") {
			t.Fatalf("readyz while seeding: %s", r.body)
		}
		time.Sleep(10 * time.Millisecond)
		r = ts.req("GET", "/readyz", "", nil)
	}
	if r.status != 200 {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
	tok := ts.token()
	pending := ts.req("GET", "/beta/directory/pendingExternalUserProfiles", tok, nil).json(t)["value"].([]any)
	external := ts.req("GET", "/beta/directory/externalUserProfiles", tok, nil).json(t)["value"].([]any)
	if len(pending) != 1 || len(external) != 1 || external[0].(map[string]any)["companyName"] != "Fabrikam" {
		t.Fatalf("seeded directory: pending %v, external %v", pending, external)
	}
}

func TestServeRefusesABadSeedAndStartsWithNothing(t *testing.T) {
	seed := writeTemp(t, "seed.json", `[{"displayName":"Ada","phoneNumber":"+14255550100"},{"displayName":"Bob","phoneNumber":"0425"}]`)
	dir := t.TempDir()
	err := run(context.Background(), []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--seed", seed}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "Row 2") || !strings.Contains(err.Error(), "phoneNumber") {
		t.Fatalf("serve with a bad seed row: %v", err)
	}
	// The store the failed start opened holds nothing of the seed.
	if out := runCommand(t, "export", "--data-dir", dir); out != "" {
		t.Fatalf("a refused seed left profiles behind:\n%s", out)
	}
}

func TestAdminTokenFile(t *testing.T) {
	secret := "0123456789abcdef-admin"
	tokenFile := writeTemp(t, "admin-token", secret+"\n")
	ts := startServer(t, "--admin-token-file", tokenFile)
	if r := ts.req("GET", "/admin/requests", "", nil); r.status != 401 {
		t.Errorf("/admin without the token, from loopback: %d, want 401", r.status)
	}
	if r := ts.req("GET", "/admin/requests", "", nil, "Authorization", "Bearer "+secret); r.status != 200 {
		t.Errorf("/admin with the token: %d %s", r.status, r.body)
	}
	short := writeTemp(t, "short", "abc")
	err := run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--admin-token-file", short}, noEnv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("a short admin token: %v", err)
	}
}

// adminCall sends a request to an ephemeral server's admin API.
func adminCall(t *testing.T, client *http.Client, method, u, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, raw)
	}
	return out
}

// A test in another language does this with the ready line: seed, call,
// read the journal, move the clock, reset.
func TestEphemeralReadyLineDrivesTheAdminAPI(t *testing.T) {
	line, client, _ := startEphemeral(t)
	seeded := adminCall(t, client, "POST", line.AdminURL+"/seed", `[{"displayName":"Ada","phoneNumber":"+14255550100"}]`)
	id := seeded["value"].([]any)[0].(map[string]any)["id"].(string)
	tok := tokenFrom(t, client, line.TokenEndpoint, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {line.ClientID}, "client_secret": {line.ClientSecret},
		"scope": {"https://graph.microsoft.com/.default"},
	})
	req, _ := http.NewRequest("DELETE", line.URL+"/directory/pendingExternalUserProfiles/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("delete the seeded profile: %v %v", resp, err)
	}
	resp.Body.Close()
	journal := adminCall(t, client, "GET", line.AdminURL+"/requests?method=DELETE", "")
	if journal["count"] != 1.0 {
		t.Fatalf("journal of DELETEs: %v", journal)
	}
	moved := adminCall(t, client, "PUT", line.AdminURL+"/clock", `{"advance":"31d"}`)
	if moved["purged"] != 1.0 {
		t.Fatalf("advancing 31 days purged %v, want the deleted profile", moved["purged"])
	}
	if now, _ := time.Parse(time.RFC3339, moved["now"].(string)); time.Until(now) < 30*24*time.Hour {
		t.Fatalf("clock after the move: %v", moved)
	}
	reset := adminCall(t, client, "POST", line.AdminURL+"/reset", "")
	if reset["requests"] == nil {
		t.Fatalf("reset: %v", reset)
	}
	if c := adminCall(t, client, "GET", line.AdminURL+"/clock", ""); c["offset"] != "0s" {
		t.Fatalf("clock after reset: %v", c)
	}
}
