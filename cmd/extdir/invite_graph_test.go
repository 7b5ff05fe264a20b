package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// graphDouble answers for login.microsoftonline.com and graph.microsoft.com
// on a loopback port: Entra ID's discovery and token endpoints, and Graph's
// $batch. It records what it was sent.
type graphDouble struct {
	ts     *httptest.Server
	caFile string

	mu      sync.Mutex
	paths   []string    // host+path of every request
	tokens  []url2form  // the token requests' forms
	batches []batchSent // the $batch bodies
	auth    []string    // the Authorization of each $batch
}

type url2form map[string]string

// batchSent is a $batch request body as Graph reads it.
type batchSent struct {
	Requests []struct {
		ID      string            `json:"id"`
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"requests"`
}

const doubleTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

func startGraphDouble(t *testing.T) *graphDouble {
	t.Helper()
	g := &graphDouble{}
	g.ts = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	cert, pemBytes := doubleCertificate(t, "graph.microsoft.com", "login.microsoftonline.com")
	g.ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	g.ts.StartTLS()
	t.Cleanup(g.ts.Close)
	g.caFile = filepath.Join(t.TempDir(), "double-ca.pem")
	if err := os.WriteFile(g.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	// The two hosts resolve to the double; nothing but loopback is
	// reachable.
	addr := g.ts.Listener.Addr().String()
	dialOverride = func(ctx context.Context, network, hostport string) (net.Conn, error) {
		switch hostport {
		case "graph.microsoft.com:443", "login.microsoftonline.com:443":
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
		if host, _, _ := net.SplitHostPort(hostport); host == "127.0.0.1" {
			return (&net.Dialer{}).DialContext(ctx, network, hostport)
		}
		return nil, fmt.Errorf("the test reaches no %s", hostport)
	}
	t.Cleanup(func() { dialOverride = nil })
	return g
}

// doubleCertificate is a self-signed certificate for the hosts.
func doubleCertificate(t *testing.T, hosts ...string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: hosts[0]}, DNSNames: hosts,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func (g *graphDouble) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.paths = append(g.paths, r.Host+r.URL.Path)
	g.mu.Unlock()
	login := "https://login.microsoftonline.com"
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Host == "login.microsoftonline.com" && r.URL.Path == "/common/discovery/instance":
		fmt.Fprintf(w, `{"tenant_discovery_endpoint":"%s/%s/v2.0/.well-known/openid-configuration","api-version":"1.1",
			"metadata":[{"preferred_network":"login.microsoftonline.com","preferred_cache":"login.windows.net","aliases":["login.microsoftonline.com","login.windows.net"]}]}`, login, doubleTenant)
	case r.Host == "login.microsoftonline.com" && r.URL.Path == "/"+doubleTenant+"/v2.0/.well-known/openid-configuration":
		base := login + "/" + doubleTenant
		fmt.Fprintf(w, `{"issuer":"%s/v2.0","token_endpoint":"%s/oauth2/v2.0/token","authorization_endpoint":"%s/oauth2/v2.0/authorize","jwks_uri":"%s/discovery/v2.0/keys"}`, base, base, base, base)
	case r.Host == "login.microsoftonline.com" && r.URL.Path == "/"+doubleTenant+"/oauth2/v2.0/token" && r.Method == "POST":
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		form := url2form{}
		for k := range r.PostForm {
			form[k] = r.PostForm.Get(k)
		}
		g.mu.Lock()
		g.tokens = append(g.tokens, form)
		g.mu.Unlock()
		if form["client_secret"] != "the-secret" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`)
			return
		}
		fmt.Fprint(w, `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"graph-access-token"}`)
	case r.Host == "graph.microsoft.com" && r.URL.Path == "/beta/$batch" && r.Method == "POST":
		var b batchSent
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		g.mu.Lock()
		g.batches = append(g.batches, b)
		g.auth = append(g.auth, r.Header.Get("Authorization"))
		g.mu.Unlock()
		w.Header().Set("request-id", uuid.NewString())
		var out []string
		for _, req := range b.Requests {
			out = append(out, fmt.Sprintf(`{"id":%q,"status":201,"headers":{"Content-Type":"application/json"},"body":{"id":%q}}`, req.ID, uuid.NewString()))
		}
		fmt.Fprintf(w, `{"responses":[%s]}`, strings.Join(out, ","))
	default:
		w.WriteHeader(404)
		fmt.Fprintf(w, `{"error":{"code":"NotFound","message":"the double has no %s %s%s"}}`, r.Method, r.Host, r.URL.Path)
	}
}

// sentStep is a create as a $batch carries it, comparable across targets.
type sentStep struct{ id, method, url, contentType, body string }

func canonicalJSON(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// The --url https://graph.microsoft.com path signs in at Entra ID with the
// client secret (Azure Identity, the scope of Graph), and sends the same
// batches, request for request, as a run against extdir does.
func TestInviteAgainstMicrosoftGraphSendsWhatExtdirGets(t *testing.T) {
	const n = 45 // three batches: 20, 20, 5
	path := writeFile(t, "staff.csv", staffCSV(n))

	g := startGraphDouble(t)
	results := filepath.Join(t.TempDir(), "graph-results.csv")
	out, _, err := runCmd(t, "invite", "--url", "https://graph.microsoft.com", "--tenant", doubleTenant,
		"--client-id", "0a1b2c3d-0000-4000-8000-000000000001", "--client-secret", "the-secret", "--ca-file", g.caFile,
		"--csv", path, "--default-region", "US", "--out", results, "--concurrency", "1", "--progress", "off")
	if err != nil {
		t.Fatalf("invite against the Graph double: %v\n%s\nthe double saw %v", err, out, g.paths)
	}
	if !slices.Contains(g.paths, "login.microsoftonline.com/"+doubleTenant+"/oauth2/v2.0/token") || len(g.tokens) == 0 {
		t.Fatalf("no token request reached Entra's token endpoint: %v", g.paths)
	}
	for _, form := range g.tokens {
		if form["grant_type"] != "client_credentials" || form["client_id"] != "0a1b2c3d-0000-4000-8000-000000000001" ||
			strings.Fields(form["scope"])[0] != "https://graph.microsoft.com/.default" {
			t.Errorf("token request form = %v", form)
		}
	}
	for _, a := range g.auth {
		if a != "Bearer graph-access-token" {
			t.Errorf("a $batch carried Authorization %q", a)
		}
	}
	got := readResultsFile(t, results)
	if len(got) != n {
		t.Fatalf("%d result lines for %d rows", len(got), n)
	}
	for row, r := range got {
		if r.status != statusCreated || r.id == "" {
			t.Fatalf("row %d = %+v", row, r)
		}
	}

	// The same file against extdir.
	it := newInviteTarget(t)
	it.args = append(it.args, "--concurrency", "1")
	if _, err := it.invite(t, "--csv", path, "--default-region", "US"); err != nil {
		t.Fatal(err)
	}
	var toGraph [][]sentStep
	for _, b := range g.batches {
		var steps []sentStep
		for _, r := range b.Requests {
			steps = append(steps, sentStep{r.ID, r.Method, "/beta" + r.URL, header(r.Headers, "Content-Type"), canonicalJSON(t, r.Body)})
		}
		toGraph = append(toGraph, steps)
	}
	var toExtdir [][]sentStep
	index := map[string]int{}
	for _, e := range it.tn.Requests(t) {
		if e.BatchRequestID == "" {
			continue
		}
		i, ok := index[e.BatchRequestID]
		if !ok {
			i = len(toExtdir)
			index[e.BatchRequestID] = i
			toExtdir = append(toExtdir, nil)
		}
		toExtdir[i] = append(toExtdir[i], sentStep{e.BatchStepID, e.Method, e.Path, "application/json", canonicalJSON(t, []byte(e.RequestBody))})
	}
	if len(toGraph) != 3 || !slices.EqualFunc(toGraph, toExtdir, slices.Equal) {
		t.Fatalf("batches to Graph:\n%v\nto extdir:\n%v", toGraph, toExtdir)
	}

	// A wrong secret is Entra's one-line refusal, and nothing is sent.
	before := len(g.batches)
	_, _, err = runCmd(t, "invite", "--url", "https://graph.microsoft.com", "--tenant", doubleTenant,
		"--client-id", "0a1b2c3d-0000-4000-8000-000000000001", "--client-secret", "wrong", "--ca-file", g.caFile,
		"--csv", path, "--default-region", "US", "--progress", "off")
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") || strings.Contains(err.Error(), "\n") || len(g.batches) != before {
		t.Fatalf("wrong secret: %v; %d batches sent", err, len(g.batches)-before)
	}
	if errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
