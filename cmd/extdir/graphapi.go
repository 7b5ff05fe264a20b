package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/uuid"
)

// The client side of the Graph API, shared by extdir invite and the API
// mode of extdir export: one code path for extdir and for Microsoft Graph.
// Against Graph the credential signs in to Entra ID; against extdir to its
// built-in issuer, whose token endpoint is <origin>/<tenant>/oauth2/v2.0/token
// and whose discovery document is OIDC-correct, so Azure Identity needs
// nothing but the authority host.

// defaultLocalURL is where extdir serve listens by default.
const defaultLocalURL = "http://127.0.0.1:8080"

// graphScope is the scope a client asks for: extdir accepts Graph's
// audience, so the same scope serves both.
const graphScope = "https://graph.microsoft.com/.default"

// microsoftGraphHosts are the Graph endpoints of Microsoft's clouds and the
// Entra authority of each.
var microsoftGraphHosts = map[string]string{
	"graph.microsoft.com":             cloud.AzurePublic.ActiveDirectoryAuthorityHost,
	"graph.microsoft.us":              cloud.AzureGovernment.ActiveDirectoryAuthorityHost,
	"dod-graph.microsoft.us":          cloud.AzureGovernment.ActiveDirectoryAuthorityHost,
	"microsoftgraph.chinacloudapi.cn": cloud.AzureChina.ActiveDirectoryAuthorityHost,
}

// dialOverride, when set by a test, dials instead of the network: it lets a
// test answer for graph.microsoft.com without leaving the machine.
var dialOverride func(ctx context.Context, network, addr string) (net.Conn, error)

// apiFlags are the flags of a command that calls the API.
type apiFlags struct {
	cmd          string
	url          string
	tenant       *string
	clientID     string
	clientSecret string
	certificate  string
	certPassword string
	token        string
	authority    string
	caFile       string
	timeout      time.Duration
}

// defineAPIFlags defines the target and credential flags on fs. tenant is
// the command's --tenant, which it may define itself for another use (the
// store mode of export); nil defines it here.
func defineAPIFlags(fs *flag.FlagSet, cmd, defaultURL string, tenant *string) *apiFlags {
	af := &apiFlags{cmd: cmd, tenant: tenant}
	if af.tenant == nil {
		af.tenant = fs.String("tenant", "", "tenant id (or, for Microsoft Graph, its domain) to sign in to; also AZURE_TENANT_ID")
	}
	fs.StringVar(&af.url, "url", defaultURL, "the API: extdir's origin (https://host:port, with or without /beta) or https://graph.microsoft.com")
	fs.StringVar(&af.clientID, "client-id", "", "application (client) id that signs in with --client-secret or --certificate; also AZURE_CLIENT_ID")
	fs.StringVar(&af.clientSecret, "client-secret", "", "the application's secret; also AZURE_CLIENT_SECRET")
	fs.StringVar(&af.certificate, "certificate", "", "PEM or PKCS#12 file of the application's certificate and private key, instead of a secret")
	fs.StringVar(&af.certPassword, "certificate-password", "", "password of a PKCS#12 --certificate")
	fs.StringVar(&af.token, "token", "", "a bearer token to send as it is, instead of signing in")
	fs.StringVar(&af.authority, "authority", "", "authority host to sign in at (default: Entra ID's for Microsoft Graph, the server's own origin for extdir)")
	fs.StringVar(&af.caFile, "ca-file", "", "PEM file of a CA (or self-signed certificate) to trust besides the system's, such as extdir serve --ephemeral's ca_file")
	fs.DurationVar(&af.timeout, "timeout", 2*time.Minute, "time limit of one HTTP request")
	return af
}

// apiClient sends requests to the API with a token.
type apiClient struct {
	base  string // the API root, such as https://graph.microsoft.com/beta
	http  *http.Client
	token func(context.Context) (string, error)
}

// graphError is the error member of a Graph error body.
type graphError struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	InnerError struct {
		RequestID string `json:"request-id"`
	} `json:"innerError"`
}

// parseGraphError reads a Graph error body; an unreadable one gives an
// empty code and the body's start as the message.
func parseGraphError(body []byte) graphError {
	var env struct {
		Error *graphError `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		return *env.Error
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return graphError{Message: msg}
}

// apiBase turns --url into the API root and the origin.
func apiBase(raw string) (base, origin string, u *url.URL, err error) {
	u, err = url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", nil, errors.New("--url must be an http(s) URL such as https://graph.microsoft.com or http://127.0.0.1:8080")
	}
	path := strings.TrimSuffix(u.Path, "/")
	switch strings.ToLower(path) {
	case "", "/beta":
	default:
		return "", "", nil, fmt.Errorf("--url %s: give the origin (or origin/beta): external user profiles are in Graph's beta API", raw)
	}
	origin = u.Scheme + "://" + u.Host
	return origin + "/beta", origin, u, nil
}

// connect checks the flags and builds the client: the HTTP transport
// (trusting --ca-file) and the token source. conns sizes the pool of kept
// connections.
func (af *apiFlags) connect(getenv func(string) string, conns int) (*apiClient, error) {
	cmd := af.cmd
	base, origin, u, err := apiBase(af.url)
	if err != nil {
		return nil, &usageError{msg: cmd + ": " + err.Error()}
	}
	if af.clientID == "" {
		af.clientID = getenv("AZURE_CLIENT_ID")
	}
	if af.clientSecret == "" {
		af.clientSecret = getenv("AZURE_CLIENT_SECRET")
	}
	if *af.tenant == "" {
		*af.tenant = getenv("AZURE_TENANT_ID")
	}
	hc, err := af.httpClient(conns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	c := &apiClient{base: base, http: hc}
	if af.token != "" {
		if af.clientSecret != "" || af.certificate != "" {
			return nil, &usageError{msg: cmd + ": --token excludes --client-secret and --certificate: give one way to authenticate"}
		}
		tok := strings.TrimPrefix(strings.TrimSpace(af.token), "Bearer ")
		c.token = func(context.Context) (string, error) { return tok, nil }
		return c, nil
	}
	switch {
	case af.clientID == "":
		return nil, &usageError{msg: cmd + ": give --client-id with --client-secret (or AZURE_CLIENT_SECRET) or --certificate, or a --token"}
	case af.clientSecret != "" && af.certificate != "":
		return nil, &usageError{msg: cmd + ": --client-secret and --certificate exclude each other"}
	case af.clientSecret == "" && af.certificate == "":
		return nil, &usageError{msg: cmd + ": --client-id needs --client-secret (or AZURE_CLIENT_SECRET) or --certificate"}
	case *af.tenant == "":
		return nil, &usageError{msg: cmd + ": --tenant is required to sign in (or set AZURE_TENANT_ID)"}
	}
	authority, microsoft := microsoftGraphHosts[strings.ToLower(u.Hostname())]
	if !microsoft {
		authority = origin + "/"
	}
	if af.authority != "" {
		authority = strings.TrimSuffix(af.authority, "/") + "/"
		microsoft = false
		for _, host := range microsoftGraphHosts {
			microsoft = microsoft || strings.EqualFold(host, authority)
		}
	}
	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: authority}, Transport: hc}
	// Instance discovery asks Entra ID whether the authority is one of
	// its own: right for Entra, a request to the internet for anything
	// else, so it is off for every other authority.
	disableDiscovery := !microsoft
	var cred azcore.TokenCredential
	if af.clientSecret != "" {
		cred, err = azidentity.NewClientSecretCredential(*af.tenant, af.clientID, af.clientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disableDiscovery})
	} else {
		data, rerr := os.ReadFile(af.certificate)
		if rerr != nil {
			return nil, fmt.Errorf("%s: --certificate: %w", cmd, rerr)
		}
		var pw []byte
		if af.certPassword != "" {
			pw = []byte(af.certPassword)
		}
		certs, key, perr := azidentity.ParseCertificates(data, pw)
		if perr != nil {
			return nil, fmt.Errorf("%s: --certificate %s: %v", cmd, af.certificate, perr)
		}
		cred, err = azidentity.NewClientCertificateCredential(*af.tenant, af.clientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: disableDiscovery})
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s", cmd, oneLine(err))
	}
	scope := graphScope
	if microsoft {
		scope = "https://" + strings.ToLower(u.Hostname()) + "/.default"
	}
	c.token = func(ctx context.Context) (string, error) {
		tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		if err != nil {
			return "", fmt.Errorf("sign-in at %s failed: %s", authority, oneLine(err))
		}
		return tok.Token, nil
	}
	return c, nil
}

// httpClient is the one client of the command: the token requests and the
// API's share its connections.
func (af *apiFlags) httpClient(conns int) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns + 2
	if af.caFile != "" {
		pemBytes, err := os.ReadFile(af.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", af.caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	if dialOverride != nil {
		tr.DialContext = dialOverride
	}
	return &http.Client{Transport: tr, Timeout: af.timeout}, nil
}

// oneLine turns an error, such as Azure Identity's several-line ones, into a
// line: Entra's error_description when there is one.
func oneLine(err error) string {
	s := err.Error()
	if i := strings.Index(s, `"error_description":`); i >= 0 {
		var desc string
		if json.NewDecoder(strings.NewReader(s[i+len(`"error_description":`):])).Decode(&desc) == nil && desc != "" {
			desc, _, _ = strings.Cut(desc, "\n")
			return strings.TrimSpace(desc)
		}
	}
	// The first line, and the next with it when the first only
	// announces it ("...: server response error:").
	var parts []string
	for line := range strings.SplitSeq(s, "\n") {
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		parts = append(parts, line)
		if !strings.HasSuffix(line, ":") || len(parts) == 2 {
			break
		}
	}
	return strings.Join(parts, " ")
}

// apiResponse is a read answer.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request with the token and reads the whole answer. An error
// is a failure to get an answer at all (network, time-out, sign-in).
func (c *apiClient) do(ctx context.Context, method, pathOrURL string, body []byte, header map[string]string) (*apiResponse, error) {
	tok, err := c.token(ctx)
	if err != nil {
		return nil, &signInError{err}
	}
	target := pathOrURL
	if !strings.HasPrefix(target, "https://") && !strings.HasPrefix(target, "http://") {
		target = c.base + pathOrURL
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("client-request-id", uuid.NewString())
	req.Header.Set("User-Agent", "extdir/"+strings.Fields(versionString() + " ")[0])
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	return &apiResponse{status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// signInError is a failure to get a token: no request went out.
type signInError struct{ err error }

func (e *signInError) Error() string { return e.err.Error() }
func (e *signInError) Unwrap() error { return e.err }

// retryAfter reads a Retry-After value: seconds or an HTTP date. ok is
// false when there is none.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
