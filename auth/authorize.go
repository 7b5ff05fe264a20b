package auth

import (
	"crypto/hmac"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AuthorizeRequest is a request of the authorization endpoint (RFC 6749
// §4.1.1 with PKCE, RFC 7636 §4.3), from the query of the GET that shows the
// sign-in page or from the hidden fields of the form posted back.
type AuthorizeRequest struct {
	Tenant              string
	ClientID            string
	RedirectURI         string
	ResponseType        string
	ResponseMode        string // query (default), fragment or form_post
	Scope               string
	State               string
	Nonce               string
	CodeChallenge       string
	CodeChallengeMethod string
}

// Bounds on what an authorization request may carry: it is echoed in the
// page, so nothing in it may be large.
const (
	maxStateLength = 2048
	maxNonceLength = 512
	maxScopeLength = 2048
)

// AuthorizeClient finds the client of an authorization request and checks
// its redirect URI. Its refusals must be shown to the user, never sent to
// the redirect URI: until it passes, the redirect URI is the requester's
// word only, and sending errors there would make extdir an open redirector.
func (p *Provider) AuthorizeClient(req AuthorizeRequest) (*Client, error) {
	if p.signIn == nil {
		return nil, oauthErrorf("unsupported_response_type", 0, "This server has no sign-in.")
	}
	if req.ClientID == "" {
		return nil, missingParameter("client_id")
	}
	client, err := p.findClient(req.Tenant, req.ClientID)
	if err != nil {
		return nil, err
	}
	if req.RedirectURI == "" {
		return nil, missingParameter("redirect_uri")
	}
	if !client.redirectAllowed(req.RedirectURI) {
		return nil, oauthErrorf("invalid_request", 50011, "The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'. Make sure the redirect URI sent in the request matches one added to your application (extdir client add --redirect-uri).", clip(req.RedirectURI), client.ID)
	}
	return client, nil
}

// CheckAuthorizeRequest checks the rest of a request whose client and
// redirect URI passed AuthorizeClient; its refusals go to the redirect URI.
func (p *Provider) CheckAuthorizeRequest(client *Client, req AuthorizeRequest) error {
	switch {
	case req.ResponseType == "":
		return missingParameter("response_type")
	case req.ResponseType != "code":
		return oauthErrorf("unsupported_response_type", 700054, "The response_type '%s' is not enabled for the application: extdir's authorization endpoint answers response_type=code.", clip(req.ResponseType))
	case !slices.Contains([]string{"", "query", "fragment", "form_post"}, req.ResponseMode):
		return oauthErrorf("invalid_request", 90010, "The response_mode '%s' is not supported: use query, fragment or form_post.", clip(req.ResponseMode))
	case len(req.State) > maxStateLength || len(req.Nonce) > maxNonceLength || len(req.Scope) > maxScopeLength:
		return oauthErrorf("invalid_request", 90015, "state, nonce or scope is longer than extdir accepts (%d, %d and %d bytes).", maxStateLength, maxNonceLength, maxScopeLength)
	case req.Scope == "":
		return missingParameter("scope")
	}
	switch req.CodeChallengeMethod {
	case "S256":
		if !validChallenge(req.CodeChallenge) {
			return oauthErrorf("invalid_request", 501491, "Invalid size of Code_Challenge parameter: an S256 challenge is 43 base64url characters.")
		}
	case "":
		if req.CodeChallenge != "" {
			return oauthErrorf("invalid_request", 501481, "code_challenge_method is required with code_challenge; extdir supports S256 only.")
		}
		// A public client cannot prove at the token endpoint that it is
		// the one that asked for the code; PKCE is what binds the two.
		if client.Public {
			return oauthErrorf("invalid_request", 9002325, "Proof Key for Code Exchange is required for public clients: send code_challenge and code_challenge_method=S256.")
		}
	default:
		// plain would put the verifier in the browser's history.
		return oauthErrorf("invalid_request", 501481, "The code_challenge_method '%s' is not supported: extdir accepts S256 only.", clip(req.CodeChallengeMethod))
	}
	if _, err := p.delegatedScopes(req.Scope); err != nil {
		return err
	}
	return nil
}

func validChallenge(c string) bool {
	return len(c) == 43 && !strings.ContainsFunc(c, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	})
}

// AuthorizeSignIn signs the user in for a checked request and returns the
// authorization code for its redirect URI: sealed, bound to the client,
// the redirect URI, the challenge and the user, valid CodeLifetime, once.
func (p *Provider) AuthorizeSignIn(client *Client, req AuthorizeRequest, username, password, addr string) (string, error) {
	scopes, err := p.delegatedScopes(req.Scope)
	if err != nil {
		return "", err
	}
	user, err := p.SignInUser(req.Tenant, username, password, addr)
	if err != nil {
		return "", err
	}
	id, err := newID()
	if err != nil {
		return "", err
	}
	code, err := p.signIn.sealer.seal(purposeCode, authorizationCode{
		ID: id, ClientID: client.ID, Tenant: client.Tenant, ObjectID: user.ObjectID, Stamp: user.stamp(),
		RedirectURI: req.RedirectURI, CodeChallenge: req.CodeChallenge, Nonce: req.Nonce, Scopes: scopes,
		Expires: p.signIn.now().Add(CodeLifetime).Unix(),
	})
	if err != nil {
		return "", fmt.Errorf("seal authorization code: %w", err)
	}
	return code, nil
}

// formTokenLifetime is how long a sign-in page may stay open.
const formTokenLifetime = time.Hour

// FormToken returns the anti-CSRF token of a sign-in form: an HMAC, under
// the issuer's sign-in key, of the browser's cookie value, the form's
// fields and an expiry. Posting the form needs both the cookie (which
// another site cannot read or set) and this token (which cannot be made
// without the key), for those very fields.
func (p *Provider) FormToken(cookie string, fields ...string) string {
	exp := fmt.Sprint(p.signIn.now().Add(formTokenLifetime).Unix())
	return exp + "." + p.signIn.sealer.formMAC(append([]string{cookie, exp}, fields...)...)
}

// CheckFormToken reports whether token is FormToken's for cookie and
// fields, and not expired.
func (p *Provider) CheckFormToken(token, cookie string, fields ...string) bool {
	exp, mac, ok := strings.Cut(token, ".")
	if !ok || cookie == "" {
		return false
	}
	var unix int64
	if _, err := fmt.Sscan(exp, &unix); err != nil || p.signIn.now().Unix() > unix {
		return false
	}
	want := p.signIn.sealer.formMAC(append([]string{cookie, exp}, fields...)...)
	return hmac.Equal([]byte(mac), []byte(want))
}
