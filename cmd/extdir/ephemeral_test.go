package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startEphemeral runs `extdir serve --ephemeral` and returns its parsed
// ready line, an https client that trusts its certificate, and a stop
// function that waits for the exit.
func startEphemeral(t *testing.T, extra ...string) (readyLine, *http.Client, func()) {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := run(ctx, append([]string{"serve", "--ephemeral", "--log-format", "json"}, extra...), noEnv, pw, io.Discard)
		pw.CloseWithError(errors.New("server stopped"))
		done <- err
	}()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, pr)
	}()
	var line readyLine
	select {
	case raw, ok := <-lines:
		if !ok {
			cancel()
			t.Fatalf("no ready line: %v", <-done)
		}
		if err := json.Unmarshal([]byte(raw), &line); err != nil {
			cancel()
			t.Fatalf("ready line %q: %v", raw, err)
		}
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("no ready line in time")
	}
	pemBytes, err := os.ReadFile(line.CAFile)
	if err != nil {
		cancel()
		t.Fatalf("ca_file: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pemBytes)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ephemeral server exited with %v", err)
		}
	}
	t.Cleanup(stop)
	return line, client, stop
}

// tokenFrom posts a token request and returns the access token.
func tokenFrom(t *testing.T, client *http.Client, endpoint string, form url.Values) string {
	t.Helper()
	resp, err := client.PostForm(endpoint, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error_description"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body.AccessToken == "" {
		t.Fatalf("token: %d %v %s", resp.StatusCode, err, body.Error)
	}
	return body.AccessToken
}

func postInvite(t *testing.T, client *http.Client, base, token, phone string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", base+"/directory/pendingExternalUserProfiles", strings.NewReader(`{"displayName":"Eph","phoneNumber":"`+phone+`"}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestEphemeralServerIsReadyToUseFromItsReadyLine(t *testing.T) {
	readyFile := filepath.Join(t.TempDir(), "ready.json")
	line, client, stop := startEphemeral(t, "--ready-file", readyFile)
	if !strings.HasPrefix(line.URL, "https://127.0.0.1:") || !strings.HasSuffix(line.URL, "/beta") ||
		line.AdminURL != strings.TrimSuffix(line.URL, "/beta")+"/admin" || line.TenantID != defaultTenant ||
		line.ClientID == "" || line.ClientSecret == "" || line.UPN != ephemeralUPN || line.Password == "" ||
		line.ConsoleURL != strings.TrimSuffix(line.URL, "/beta")+"/console/" {
		t.Fatalf("ready line = %+v", line)
	}
	written, err := os.ReadFile(readyFile)
	if err != nil {
		t.Fatal(err)
	}
	var fromFile readyLine
	if err := json.Unmarshal(written, &fromFile); err != nil || fromFile != line {
		t.Fatalf("ready file = %s (%v), want the printed line", written, err)
	}
	if st, err := os.Stat(readyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("ready file mode: %v %v", st.Mode(), err)
	}

	// The client credentials of the line get an app token that invites.
	app := tokenFrom(t, client, line.TokenEndpoint, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {line.ClientID}, "client_secret": {line.ClientSecret},
		"scope": {"https://graph.microsoft.com/.default"},
	})
	if status := postInvite(t, client, line.URL, app, "+15557770001"); status != 201 {
		t.Fatalf("app invite: %d", status)
	}
	// The administrator signs in with the line's password and invites too.
	user := tokenFrom(t, client, line.TokenEndpoint, url.Values{
		"grant_type": {"password"}, "client_id": {line.ClientID}, "client_secret": {line.ClientSecret},
		"username": {line.UPN}, "password": {line.Password},
		"scope": {"https://graph.microsoft.com/PendingExternalUserProfile.ReadWrite.All openid"},
	})
	if status := postInvite(t, client, line.URL, user, "+15557770002"); status != 201 {
		t.Fatalf("administrator invite: %d", status)
	}
	if resp, err := client.Get(strings.TrimSuffix(line.URL, "/beta") + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}

	// Nothing is left behind.
	stop()
	if _, err := os.Stat(line.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the ephemeral data dir %s is still there: %v", line.DataDir, err)
	}
}

func TestEphemeralServersAreIndependent(t *testing.T) {
	a, aClient, _ := startEphemeral(t)
	b, bClient, _ := startEphemeral(t)
	if a.URL == b.URL || a.DataDir == b.DataDir || a.ClientSecret == b.ClientSecret {
		t.Fatalf("two ephemeral servers share something: %+v %+v", a, b)
	}
	tok := tokenFrom(t, aClient, a.TokenEndpoint, url.Values{
		"grant_type": {"client_credentials"}, "client_id": {a.ClientID}, "client_secret": {a.ClientSecret},
		"scope": {"https://graph.microsoft.com/.default"},
	})
	if status := postInvite(t, bClient, b.URL, tok, "+15557770003"); status != 401 {
		t.Errorf("one ephemeral server's token on another: %d, want 401", status)
	}
}
