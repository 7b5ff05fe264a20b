package graph

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
)

// The built-in issuer's OAuth 2.0 endpoints, at Entra's paths so that a
// client configured with an authority of "<extdir>/<tenant>" finds them:
//
//	GET  /{tenant}/v2.0/.well-known/openid-configuration
//	GET  /{tenant}/discovery/v2.0/keys
//	POST /{tenant}/oauth2/v2.0/token
//
// Their errors are OAuth 2.0's JSON (RFC 6749 §5.2), which OAuth clients
// parse, not Graph's envelope: the token endpoint speaks another protocol
// than the API, and oauthError is its one error writer.

// maxTokenRequestSize bounds a token request body; a real one is a few
// hundred bytes.
const maxTokenRequestSize = 64 << 10

// validTenantSegment accepts what can be a tenant in the OAuth paths: a GUID
// or a domain-like name. "beta" is excluded so that /beta stays the API's.
func validTenantSegment(seg string) bool {
	if seg == "" || len(seg) > 128 || strings.EqualFold(seg, "beta") {
		return false
	}
	for _, r := range seg {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

var errOAuthDisabled = &extdir.Error{Code: extdir.ENotFound, Message: "The built-in token issuer is disabled on this server (--builtin-issuer=false)."}

// openIDConfiguration is the discovery document: what extdir implements of
// Entra's, so that OpenID client libraries (and MSAL, which requires
// authorization_endpoint) can find the token endpoint and keys.
type openIDConfiguration struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint,omitempty"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported,omitempty"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported,omitempty"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

// openIDConfiguration serves the discovery document of a tenant. Its issuer
// is the iss of that tenant's tokens: by default "<origin>/{tenantid}/v2.0"
// with the server's own origin (--public-url, or its scheme and listening
// address), so that it is the URL the document is served under, as OpenID
// Discovery §4.3 asks and MSAL checks; its endpoints are under the origin
// the request came to.
func (s *Server) openIDConfiguration(c *call) error {
	if s.OAuth == nil {
		return errOAuthDisabled
	}
	base := s.origin(c.r) + "/" + c.pathTenant
	doc := openIDConfiguration{
		Issuer:                            s.OAuth.Issuer.IssuerFor(c.pathTenant),
		AuthorizationEndpoint:             base + "/oauth2/v2.0/authorize",
		TokenEndpoint:                     base + "/oauth2/v2.0/token",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "client_secret_basic"},
		JWKSURI:                           base + "/discovery/v2.0/keys",
		GrantTypesSupported:               []string{"client_credentials"},
		// OpenID Discovery requires the member; without sign-in extdir
		// answers no authorization request, so it lists none.
		ResponseTypesSupported:           []string{},
		SubjectTypesSupported:            []string{"pairwise"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ClaimsSupported:                  []string{"iss", "aud", "exp", "nbf", "iat", "tid", "oid", "sub", "azp", "appid", "roles", "scp", "wids", "ver"},
	}
	if s.OAuth.SignInEnabled() {
		doc.DeviceAuthorizationEndpoint = base + "/oauth2/v2.0/devicecode"
		doc.GrantTypesSupported = append(doc.GrantTypesSupported, auth.GrantAuthorizationCode, auth.GrantRefreshToken, auth.GrantPassword, auth.GrantDeviceCode)
		doc.ResponseTypesSupported = []string{"code"}
		doc.ResponseModesSupported = []string{"query", "fragment", "form_post"}
		doc.CodeChallengeMethodsSupported = []string{"S256"}
		doc.ScopesSupported = []string{"openid", "profile", "email", "offline_access"}
		for _, perm := range auth.Permissions() {
			doc.ScopesSupported = append(doc.ScopesSupported, auth.DefaultAudiences[0]+"/"+perm)
		}
		doc.ClaimsSupported = append(doc.ClaimsSupported, "name", "preferred_username", "nonce")
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	writePlainJSON(c.w, http.StatusOK, body)
	return nil
}

// signingKeys serves the JWKS: every key the issuer accepts, newest first.
// It is the same for every tenant, as Entra's is.
func (s *Server) signingKeys(c *call) error {
	if s.OAuth == nil {
		return errOAuthDisabled
	}
	body, err := s.OAuth.Issuer.JWKS()
	if err != nil {
		return err
	}
	writePlainJSON(c.w, http.StatusOK, body)
	return nil
}

// token is the token endpoint, of every grant.
func (s *Server) token(c *call) error {
	if s.OAuth == nil {
		return errOAuthDisabled
	}
	req, oerr := readTokenRequest(c)
	if oerr != nil {
		s.observeToken(req.GrantType, oerr)
		writeOAuthError(c, oerr)
		return nil
	}
	resp, err := s.OAuth.Token(req)
	s.observeToken(req.GrantType, err)
	if err != nil {
		writeOAuthFailure(c, req, "token", err)
		return nil
	}
	logger(c.r).Info("token issued", "tenant", req.Tenant, "client_id", req.ClientID, "grant_type", req.GrantType)
	return writeOAuthAnswer(c, resp)
}

// writeOAuthFailure answers an endpoint's refusal (an *auth.OAuthError),
// logged as "<what> refused", or its own failure as server_error.
func writeOAuthFailure(c *call, req auth.TokenRequest, what string, err error) {
	var refused *auth.OAuthError
	if errors.As(err, &refused) {
		logger(c.r).Info(what+" refused", "tenant", req.Tenant, "client_id", clipParam(req.ClientID), "error", refused.Code, "aadsts", refused.AADSTS)
		writeOAuthError(c, refused)
		return
	}
	logger(c.r).Error(what+" endpoint failed", "error", err)
	writeOAuthError(c, &auth.OAuthError{Status: http.StatusInternalServerError, Code: "server_error", Description: "The server could not answer the " + what + " request."})
}

// writeOAuthAnswer writes a successful answer, never to be cached.
func writeOAuthAnswer(c *call, answer any) error {
	body, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	noStore(c.w)
	writePlainJSON(c.w, http.StatusOK, body)
	return nil
}

// readTokenRequest reads the form body and the client's credentials, from
// the body (client_secret_post) or the Authorization header
// (client_secret_basic), refusing what RFC 6749 forbids: a body that is not
// a form (§3.2), a repeated parameter (§3.2), and two ways of
// authenticating at once (§2.3).
func readTokenRequest(c *call) (auth.TokenRequest, *auth.OAuthError) {
	req := auth.TokenRequest{Tenant: c.pathTenant}
	mt, _, err := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return req, &auth.OAuthError{Status: http.StatusBadRequest, Code: "invalid_request", AADSTS: 900144,
			Description: "The request body must contain the following parameter: 'grant_type'. Send the parameters as application/x-www-form-urlencoded."}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, maxTokenRequestSize))
	if err != nil {
		return req, &auth.OAuthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "The request body could not be read or is larger than 64 KiB."}
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return req, &auth.OAuthError{Status: http.StatusBadRequest, Code: "invalid_request", AADSTS: 90014, Description: "The request body is not a valid form."}
	}
	for name, values := range form {
		if len(values) > 1 {
			return req, &auth.OAuthError{Status: http.StatusBadRequest, Code: "invalid_request", AADSTS: 90015,
				Description: "The parameter '" + clipParam(name) + "' is given more than once."}
		}
	}
	req.GrantType = form.Get("grant_type")
	req.Scope = form.Get("scope")
	req.ClientID = form.Get("client_id")
	req.ClientSecret = form.Get("client_secret")
	req.Username = form.Get("username")
	req.Password = form.Get("password")
	req.Code = form.Get("code")
	req.RedirectURI = form.Get("redirect_uri")
	req.CodeVerifier = form.Get("code_verifier")
	req.RefreshToken = form.Get("refresh_token")
	req.DeviceCode = form.Get("device_code")
	req.ClientAddress = clientAddress(c.r)
	if id, secret, ok := c.r.BasicAuth(); ok {
		// RFC 6749 §2.3.1: both are form-encoded before they are joined.
		id, err1 := url.QueryUnescape(id)
		secret, err2 := url.QueryUnescape(secret)
		switch {
		case err1 != nil || err2 != nil:
			return req, &auth.OAuthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "The client credentials in the Authorization header are not form-encoded."}
		case req.ClientSecret != "":
			return req, &auth.OAuthError{Status: http.StatusBadRequest, Code: "invalid_request",
				Description: "The client authenticated twice, in the Authorization header and with client_secret in the body: use one."}
		case req.ClientID != "" && req.ClientID != id:
			return req, &auth.OAuthError{Status: http.StatusBadRequest, Code: "invalid_request",
				Description: "The client_id of the body is not the one of the Authorization header."}
		}
		req.ClientID, req.ClientSecret = id, secret
	}
	return req, nil
}

// clipParam shortens a client-supplied value echoed in an error or a log.
func clipParam(s string) string {
	if len(s) > 64 {
		return strings.ToValidUTF8(s[:64], "") + "…"
	}
	return s
}

// oauthErrorBody is Entra's shape of an OAuth 2.0 error: RFC 6749's error
// and error_description, and Entra's error codes and ids, which tie the
// error to the server's log line through trace_id (our request-id).
type oauthErrorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	ErrorCodes    []int  `json:"error_codes,omitempty"`
	Timestamp     string `json:"timestamp"`
	TraceID       string `json:"trace_id"`
	CorrelationID string `json:"correlation_id"`
}

// writeOAuthError writes e as the token endpoint's error.
func writeOAuthError(c *call, e *auth.OAuthError) {
	ids := requestIDs(c.r)
	now := ids.date().UTC()
	desc := e.Description
	body := oauthErrorBody{Error: e.Code, Timestamp: now.Format("2006-01-02 15:04:05Z"), TraceID: ids.request, CorrelationID: ids.client}
	if e.AADSTS != 0 {
		desc = "AADSTS" + strconv.Itoa(e.AADSTS) + ": " + desc
		body.ErrorCodes = []int{e.AADSTS}
	}
	body.Description = desc + "\r\nTrace ID: " + ids.request + "\r\nCorrelation ID: " + ids.client + "\r\nTimestamp: " + body.Timestamp
	b, err := json.Marshal(body)
	if err != nil {
		logger(c.r).Error("encode OAuth error", slog.Any("error", err))
		b = []byte(`{"error":"server_error"}`)
	}
	if e.Status == http.StatusUnauthorized {
		// HTTP requires a challenge with a 401; Basic is the scheme
		// client_secret_basic uses.
		c.w.Header().Set("WWW-Authenticate", `Basic realm="extdir"`)
	}
	noStore(c.w)
	writePlainJSON(c.w, e.Status, b)
}

// noStore forbids caching a token or an answer about one (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

// writePlainJSON writes JSON that is not OData: these endpoints are not
// Graph's.
func writePlainJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Del("OData-Version")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
