package auth

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Provider is the built-in issuer as an OAuth 2.0 authorization server
// shaped like Entra's v2.0 endpoint: it authenticates clients by their
// secret and mints their tokens (RFC 6749 §4.4, client credentials).
type Provider struct {
	Issuer  *Issuer
	Clients *Clients
	// Audiences are the resources a token may be asked for, as the scope
	// "<audience>/.default"; empty means DefaultAudiences. They should be
	// the audiences the server accepts.
	Audiences []string
	// signIn is the state of the delegated flows, set by EnableSignIn;
	// nil refuses them.
	signIn *signInState
}

// TokenLifetime is the lifetime of tokens from the token endpoint; the
// response says one second less, as Entra's does, so that a client never
// holds a token it believes valid a moment after it expired.
const TokenLifetime = time.Hour

// TokenRequest is a token request as the endpoint read it.
type TokenRequest struct {
	Tenant       string // from the URL path
	GrantType    string
	ClientID     string
	ClientSecret string
	Scope        string
	// The delegated grants' parameters (delegated.go).
	Username, Password string // grant_type=password
	Code, RedirectURI  string // grant_type=authorization_code
	CodeVerifier       string // PKCE (RFC 7636)
	RefreshToken       string // grant_type=refresh_token
	DeviceCode         string // the device code grant (RFC 8628)
	// ClientAddress is the caller's IP address, which the sign-in limiter
	// counts failures against.
	ClientAddress string
}

// TokenResponse is a successful answer (RFC 6749 §5.1, with Entra's
// ext_expires_in).
type TokenResponse struct {
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExtExpiresIn int    `json:"ext_expires_in"`
	// Scope is the scopes granted, in delegated answers.
	Scope       string `json:"scope,omitempty"`
	AccessToken string `json:"access_token"`
	// RefreshToken, IDToken and ClientInfo answer the delegated flows:
	// the refresh token when offline_access was asked for, the ID token
	// with openid, and client_info, base64url of {"uid":oid,"utid":tid},
	// from which MSAL builds its accounts.
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	ClientInfo   string `json:"client_info,omitempty"`
}

// OAuthError is a refusal of the token endpoint (RFC 6749 §5.2). Code is
// the standard error code, AADSTS the number Entra gives the same refusal
// (0 when Entra has none), Description the text for the developer.
type OAuthError struct {
	Status      int
	Code        string
	AADSTS      int
	Description string
}

// Error implements error.
func (e *OAuthError) Error() string {
	return fmt.Sprintf("oauth error %s: %s", e.Code, e.Description)
}

// oauthErrorf builds an OAuthError; the status follows from the code.
func oauthErrorf(code string, aadsts int, format string, args ...any) *OAuthError {
	status := http.StatusBadRequest
	if code == "invalid_client" {
		// RFC 6749 §5.2 asks for 401 when the client authenticated with
		// the Authorization header; Entra answers 401 either way.
		status = http.StatusUnauthorized
	}
	return &OAuthError{Status: status, Code: code, AADSTS: aadsts, Description: fmt.Sprintf(format, args...)}
}

// missingParameter is the refusal of a request without a required parameter.
func missingParameter(name string) *OAuthError {
	return oauthErrorf("invalid_request", 900144, "The request body must contain the following parameter: '%s'.", name)
}

// oidcScopes may accompany the .default scope: MSAL adds them to every
// request, and Entra ignores them in the client-credentials grant.
var oidcScopes = []string{"openid", "profile", "offline_access", "email"}

// Token answers a token request: an access token (and for the delegated
// grants more), or an *OAuthError. Any other error is the server's own
// failure.
func (p *Provider) Token(req TokenRequest) (*TokenResponse, error) {
	switch {
	case req.GrantType == "":
		return nil, missingParameter("grant_type")
	case req.GrantType != "client_credentials":
		return p.delegatedToken(req)
	case req.ClientID == "":
		return nil, missingParameter("client_id")
	case req.Scope == "":
		return nil, missingParameter("scope")
	}
	client, err := p.authenticateClient(req)
	if err != nil {
		return nil, err
	}
	if client.Public {
		// A public client has no secret to authenticate this grant with.
		return nil, oauthErrorf("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'. Client '%s' is a public client, which the client_credentials grant cannot authenticate.", client.ID)
	}
	audience, oerr := p.audience(req.Scope, req.Tenant)
	if oerr != nil {
		return nil, oerr
	}
	token, err := p.Issuer.Mint(Claims{
		Tenant:   client.Tenant,
		ObjectID: client.objectID(),
		AppID:    client.ID,
		Roles:    client.Roles,
		Audience: audience,
		TTL:      TokenLifetime,
	})
	if err != nil {
		return nil, err
	}
	seconds := int(TokenLifetime/time.Second) - 1
	return &TokenResponse{TokenType: "Bearer", ExpiresIn: seconds, ExtExpiresIn: seconds, AccessToken: token}, nil
}

// findClient returns the client id of tenant, or the AADSTS700016 refusal.
func (p *Provider) findClient(tenant, id string) (*Client, error) {
	client, err := p.Clients.lookup(id)
	if err != nil {
		return nil, fmt.Errorf("look up client: %w", err)
	}
	// A client of another tenant is not found, as in Entra: a tenant's
	// endpoint knows the applications of that tenant only.
	if client != nil && client.everyTenant {
		// An application of every tenant acts in the one asked for.
		c := *client
		c.Tenant = tenant
		return &c, nil
	}
	if client == nil || !strings.EqualFold(client.Tenant, tenant) {
		return nil, oauthErrorf("invalid_client", 700016, "Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been registered in the tenant (extdir client add --tenant %s) or you sent your authentication request to the wrong tenant.", clip(id), tenant, tenant)
	}
	return client, nil
}

// authenticateClient finds the client of a token request and checks its
// secret: required of a confidential client, refused from a public one.
func (p *Provider) authenticateClient(req TokenRequest) (*Client, error) {
	client, err := p.findClient(req.Tenant, req.ClientID)
	if err != nil {
		return nil, err
	}
	switch {
	case client.Public && req.ClientSecret != "":
		return nil, oauthErrorf("invalid_client", 700025, "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.")
	case client.Public:
		return client, nil
	case req.ClientSecret == "":
		return nil, oauthErrorf("invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case !client.secretMatches(req.ClientSecret):
		return nil, oauthErrorf("invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", client.ID)
	}
	return client, nil
}

// audience reads the resource out of a client-credentials scope: exactly
// one "<resource>/.default", beside which only OpenID scopes may stand.
func (p *Provider) audience(scope, tenant string) (string, *OAuthError) {
	var resource string
	n := 0
	for s := range strings.FieldsSeq(scope) {
		if slices.Contains(oidcScopes, s) {
			continue
		}
		r, ok := strings.CutSuffix(s, "/.default")
		if !ok || r == "" {
			return "", oauthErrorf("invalid_scope", 1002012, "The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", clip(s))
		}
		resource = r
		n++
	}
	if n != 1 {
		return "", oauthErrorf("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. Ask for exactly one resource, such as https://graph.microsoft.com/.default.")
	}
	audiences := p.Audiences
	if len(audiences) == 0 {
		audiences = DefaultAudiences
	}
	// "https://graph.microsoft.com//.default" is a common spelling that
	// Entra accepts.
	for _, candidate := range []string{resource, strings.TrimSuffix(resource, "/")} {
		if slices.Contains(audiences, candidate) {
			return candidate, nil
		}
	}
	return "", oauthErrorf("invalid_scope", 500011, "The resource principal named %s was not found in the tenant named %s. extdir issues tokens for: %s.", clip(resource), tenant, strings.Join(audiences, ", "))
}

// clip shortens a client-supplied value before it is echoed in an error.
func clip(s string) string {
	const limit = 128
	if len(s) <= limit {
		return s
	}
	return strings.ToValidUTF8(s[:limit], "") + "…"
}
