package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// The delegated flows: a user signs in (with a password at the token
// endpoint, on the device code page, or on the authorization page) and the
// client gets tokens that act for the user: scp holds the Graph permissions
// asked for, wids the user's directory roles, and Graph lets a call through
// only when both allow it (Principal.Allowed).

// Grant types of the delegated flows.
const (
	GrantPassword          = "password"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	// grantDeviceCodeShort is the device code grant as MSAL sends it,
	// which Entra accepts as well as RFC 8628's URN.
	grantDeviceCodeShort = "device_code"
)

// Lifetimes of what the delegated flows hand out.
const (
	// CodeLifetime is an authorization code's: Entra's is about as long,
	// RFC 6749 §4.1.2 asks for at most ten minutes.
	CodeLifetime = 5 * time.Minute
	// RefreshTokenLifetime is a refresh token's, renewed on each use.
	// Entra's are 90 days; extdir keeps fewer so that the per-node set of
	// rotated tokens it must remember stays small.
	RefreshTokenLifetime = 14 * 24 * time.Hour
	// DeviceCodeLifetime is how long a device code waits for its user,
	// Entra's 15 minutes.
	DeviceCodeLifetime = 15 * time.Minute
	// DefaultDeviceCodeInterval is the least time between two polls of a
	// device code, Entra's 5 seconds.
	DefaultDeviceCodeInterval = 5 * time.Second
)

// SignInOptions configures EnableSignIn.
type SignInOptions struct {
	// Limits bound failed sign-ins; zero values take the defaults.
	Limits SignInLimits
	// DeviceCodeInterval is the polling interval handed to device code
	// clients; default DefaultDeviceCodeInterval.
	DeviceCodeInterval time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// signInState is what the delegated flows keep: the users, the key that
// seals codes and refresh tokens, and the per-node memory of what was used.
type signInState struct {
	users    *Users
	sealer   *sealer
	redeemed *usedSet // codes redeemed and refresh tokens rotated, by id
	revoked  *usedSet // token families revoked, by family id
	limiter  *signInLimiter
	devices  *deviceCodes
	interval time.Duration
	now      func() time.Time
}

// EnableSignIn turns on the delegated flows for users, with the sealing key
// of dataDir.
func (p *Provider) EnableSignIn(dataDir string, users *Users, opts SignInOptions) error {
	s, err := openSealer(dataDir)
	if err != nil {
		return fmt.Errorf("enable sign-in: %w", err)
	}
	st := &signInState{
		users: users, sealer: s, redeemed: newUsedSet(), revoked: newUsedSet(),
		limiter: newSignInLimiter(opts.Limits), devices: newDeviceCodes(),
		interval: opts.DeviceCodeInterval, now: opts.Now,
	}
	if st.interval <= 0 {
		st.interval = DefaultDeviceCodeInterval
	}
	if st.now == nil {
		st.now = time.Now
	}
	p.signIn = st
	return nil
}

// SignInEnabled reports whether users can sign in.
func (p *Provider) SignInEnabled() bool { return p.signIn != nil }

// scopeGrant is what a delegated request's scope asks for.
type scopeGrant struct {
	Permissions []string `json:"p"`   // Graph permission names
	OIDC        []string `json:"o"`   // openid, profile, email, offline_access
	Audience    string   `json:"aud"` // the resource, as asked
}

// delegatedScopes reads a delegated scope: Graph permissions qualified by
// the resource ("https://graph.microsoft.com/PendingExternalUserProfile.ReadWrite.All")
// or bare, "<resource>/.default" for every permission extdir knows, and
// the OpenID scopes.
func (p *Provider) delegatedScopes(scope string) (scopeGrant, error) {
	var g scopeGrant
	audiences := p.Audiences
	if len(audiences) == 0 {
		audiences = DefaultAudiences
	}
	for s := range strings.FieldsSeq(scope) {
		if slices.Contains(oidcScopes, s) {
			if !slices.Contains(g.OIDC, s) {
				g.OIDC = append(g.OIDC, s)
			}
			continue
		}
		resource, perm := DefaultAudiences[0], s
		if i := strings.LastIndex(s, "/"); i >= 0 {
			resource, perm = strings.TrimSuffix(s[:i], "/"), s[i+1:]
			if !slices.Contains(audiences, resource) {
				return g, oauthErrorf("invalid_scope", 500011, "The resource principal named %s was not found in the tenant. extdir issues tokens for: %s.", clip(resource), strings.Join(audiences, ", "))
			}
		}
		if g.Audience != "" && g.Audience != resource {
			return g, oauthErrorf("invalid_scope", 28000, "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope %s is not valid.", clip(scope))
		}
		g.Audience = resource
		switch {
		case perm == ".default":
			g.Permissions = append(g.Permissions, Permissions()...)
		case knownPermission(perm):
			g.Permissions = append(g.Permissions, perm)
		default:
			return g, oauthErrorf("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope '%s' does not exist: extdir's Graph permissions are %s.", clip(s), strings.Join(Permissions(), ", "))
		}
	}
	if len(g.Permissions) == 0 {
		return g, oauthErrorf("invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. Ask for at least one Graph permission, such as %s/%s.", DefaultAudiences[0], Permissions()[0])
	}
	slices.Sort(g.Permissions)
	g.Permissions = slices.Compact(g.Permissions)
	return g, nil
}

// within reports whether every permission of g is also one of outer's: a
// refresh can narrow a grant, never widen it.
func (g scopeGrant) within(outer scopeGrant) bool {
	for _, p := range g.Permissions {
		if !slices.Contains(outer.Permissions, p) {
			return false
		}
	}
	return g.Audience == outer.Audience
}

// delegatedToken answers the delegated grants.
func (p *Provider) delegatedToken(req TokenRequest) (*TokenResponse, error) {
	if req.GrantType == grantDeviceCodeShort {
		req.GrantType = GrantDeviceCode
	}
	switch req.GrantType {
	case GrantPassword, GrantAuthorizationCode, GrantRefreshToken, GrantDeviceCode:
	default:
		return nil, oauthErrorf("unsupported_grant_type", 70003, "The app requested an unsupported grant type '%s'. extdir's token endpoint supports client_credentials, password, authorization_code, refresh_token and %s.", clip(req.GrantType), GrantDeviceCode)
	}
	if p.signIn == nil {
		return nil, oauthErrorf("unsupported_grant_type", 70003, "The grant type '%s' signs in a user, and this server has no sign-in.", req.GrantType)
	}
	if req.ClientID == "" {
		return nil, missingParameter("client_id")
	}
	client, err := p.authenticateClient(req)
	if err != nil {
		return nil, err
	}
	switch req.GrantType {
	case GrantPassword:
		return p.passwordGrant(client, req)
	case GrantAuthorizationCode:
		return p.codeGrant(client, req)
	case GrantRefreshToken:
		return p.refreshGrant(client, req)
	}
	return p.deviceCodeGrant(client, req)
}

// passwordGrant is the resource owner password credentials grant (RFC 6749
// §4.3), which Entra keeps for tests and scripts.
func (p *Provider) passwordGrant(client *Client, req TokenRequest) (*TokenResponse, error) {
	switch {
	case req.Scope == "":
		return nil, missingParameter("scope")
	case req.Username == "":
		return nil, missingParameter("username")
	case req.Password == "":
		return nil, missingParameter("password")
	}
	scopes, err := p.delegatedScopes(req.Scope)
	if err != nil {
		return nil, err
	}
	user, err := p.SignInUser(req.Tenant, req.Username, req.Password, req.ClientAddress)
	if err != nil {
		return nil, err
	}
	family, err := newID()
	if err != nil {
		return nil, err
	}
	return p.issueDelegated(client, user, scopes, "", family)
}

// Refusals of sign-ins. A wrong password and an unknown user get the same
// answer, so that nobody learns which user names exist.
func errWrongCredentials() error {
	return oauthErrorf("invalid_grant", 50126, "Error validating credentials due to invalid username or password.")
}

func errLockedOut() error {
	return oauthErrorf("invalid_grant", 50053, "Your account is locked because you tried to sign in too many times with an incorrect user ID or password. Wait a few minutes and try again.")
}

// SignInUser checks a user's password in tenant, counting failures against
// the user name and the client address (addr, "" for none) and refusing
// both once they have failed too often. The refusals are *OAuthError.
func (p *Provider) SignInUser(tenant, username, password, addr string) (*User, error) {
	s := p.signIn
	if s == nil {
		return nil, errors.New("sign-in is not enabled")
	}
	if len(username) > maxUPNLength || len(password) > MaxPasswordLength {
		return nil, oauthErrorf("invalid_request", 90015, "The username or password is longer than Entra allows (%d and %d characters).", maxUPNLength, MaxPasswordLength)
	}
	now := s.now()
	userKey, addrKey := userLimitKey(tenant, username), ""
	if addr != "" {
		addrKey = addressLimitKey(addr)
	}
	if s.limiter.locked(userKey, addrKey, now) {
		return nil, errLockedOut()
	}
	user, err := s.users.byName(tenant, username)
	if err != nil {
		return nil, fmt.Errorf("look up user: %w", err)
	}
	if user == nil {
		decoyHash.matches(password)
		s.limiter.fail(userKey, addrKey, now)
		return nil, errWrongCredentials()
	}
	if !user.passwordMatches(password) {
		s.limiter.fail(userKey, addrKey, now)
		return nil, errWrongCredentials()
	}
	// Said only to who knows the password, so it reveals nothing.
	if user.Disabled {
		return nil, oauthErrorf("invalid_grant", 50057, "The user account is disabled.")
	}
	return user, nil
}

// errRevoked refuses a grant whose user is gone, disabled or has a new
// password, or whose token family was revoked.
func errRevoked(why string) error {
	return oauthErrorf("invalid_grant", 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. %s", why)
}

// currentUser returns the user a grant was issued to, if it may still act:
// present, enabled, with the password it signed in with.
func (p *Provider) currentUser(tenant, objectID, stamp string) (*User, error) {
	user, err := p.signIn.users.byID(tenant, objectID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("look up user: %w", err)
	case user == nil:
		return nil, errRevoked("The user was removed.")
	case user.Disabled:
		return nil, errRevoked("The user account is disabled.")
	case stamp != "" && user.stamp() != stamp:
		return nil, errRevoked("The user's password changed since the user signed in.")
	}
	return user, nil
}

// authorizationCode is the sealed content of a code: everything its
// redemption must check, so that any node can redeem it.
type authorizationCode struct {
	ID            string     `json:"jti"`
	ClientID      string     `json:"cid"`
	Tenant        string     `json:"tid"`
	ObjectID      string     `json:"oid"`
	Stamp         string     `json:"st"`
	RedirectURI   string     `json:"ru"`
	CodeChallenge string     `json:"cc,omitempty"`
	Nonce         string     `json:"nonce,omitempty"`
	Scopes        scopeGrant `json:"scp"`
	Expires       int64      `json:"exp"`
}

// refreshToken is the sealed content of a refresh token. Family is shared
// by every token rotated from the same sign-in, so that the reuse of one
// revokes them all (OAuth 2.0 Security BCP §4.14.2).
type refreshToken struct {
	ID       string     `json:"jti"`
	Family   string     `json:"fam"`
	ClientID string     `json:"cid"`
	Tenant   string     `json:"tid"`
	ObjectID string     `json:"oid"`
	Stamp    string     `json:"st"`
	Scopes   scopeGrant `json:"scp"`
	Expires  int64      `json:"exp"`
}

func errMalformedGrant(what string) error {
	return oauthErrorf("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid: the %s is not one this issuer issued.", what)
}

// codeGrant redeems an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.6).
func (p *Provider) codeGrant(client *Client, req TokenRequest) (*TokenResponse, error) {
	switch {
	case req.Code == "":
		return nil, missingParameter("code")
	case req.RedirectURI == "":
		return nil, missingParameter("redirect_uri")
	}
	s := p.signIn
	var code authorizationCode
	if err := s.sealer.open(purposeCode, req.Code, &code); err != nil {
		return nil, errMalformedGrant("authorization code")
	}
	now := s.now()
	expires := time.Unix(code.Expires, 0)
	if !now.Before(expires) {
		return nil, oauthErrorf("invalid_grant", 70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
	}
	if !strings.EqualFold(code.Tenant, req.Tenant) || code.ClientID != client.ID {
		return nil, oauthErrorf("invalid_grant", 70000, "The provided authorization code was issued to another client or tenant.")
	}
	// Spent before the other checks, so that a guessed verifier costs the
	// code: one try per code.
	if !s.redeemed.add(code.ID, expires, now) {
		// RFC 6749 §4.1.2: a code used twice revokes what it gave.
		s.revoked.add(code.ID, now.Add(RefreshTokenLifetime), now)
		return nil, oauthErrorf("invalid_grant", 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
	}
	if req.RedirectURI != code.RedirectURI {
		return nil, oauthErrorf("invalid_grant", 50011, "The redirect URI '%s' specified in the request does not match the redirect URI the authorization code was issued to.", clip(req.RedirectURI))
	}
	if code.CodeChallenge != "" {
		if req.CodeVerifier == "" {
			return nil, missingParameter("code_verifier")
		}
		if !validVerifier(req.CodeVerifier) || pkceChallenge(req.CodeVerifier) != code.CodeChallenge {
			return nil, oauthErrorf("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
		}
	}
	user, err := p.currentUser(code.Tenant, code.ObjectID, code.Stamp)
	if err != nil {
		return nil, err
	}
	return p.issueDelegated(client, user, code.Scopes, code.Nonce, code.ID)
}

// validVerifier is RFC 7636 §4.1: 43 to 128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_' || r == '~') {
			return false
		}
	}
	return true
}

// pkceChallenge is the S256 challenge of a verifier.
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// refreshGrant rotates a refresh token (RFC 6749 §6): the one presented
// stops working, a new one comes with the new access token, and presenting
// a rotated one again revokes its whole family.
func (p *Provider) refreshGrant(client *Client, req TokenRequest) (*TokenResponse, error) {
	if req.RefreshToken == "" {
		return nil, missingParameter("refresh_token")
	}
	s := p.signIn
	var rt refreshToken
	if err := s.sealer.open(purposeRefresh, req.RefreshToken, &rt); err != nil {
		return nil, errMalformedGrant("refresh token")
	}
	now := s.now()
	expires := time.Unix(rt.Expires, 0)
	switch {
	case !now.Before(expires):
		return nil, oauthErrorf("invalid_grant", 700082, "The refresh token has expired due to inactivity. Sign the user in again.")
	case !strings.EqualFold(rt.Tenant, req.Tenant) || rt.ClientID != client.ID:
		return nil, oauthErrorf("invalid_grant", 70000, "The provided refresh token was issued to another client or tenant.")
	case s.revoked.has(rt.Family, now):
		return nil, errRevoked("Its family was revoked because one of its refresh tokens was used twice.")
	}
	if !s.redeemed.add(rt.ID, expires, now) {
		s.revoked.add(rt.Family, now.Add(RefreshTokenLifetime), now)
		return nil, errRevoked("The refresh token was already used: refresh tokens are rotated, and every token of its family is now revoked.")
	}
	user, err := p.currentUser(rt.Tenant, rt.ObjectID, rt.Stamp)
	if err != nil {
		s.revoked.add(rt.Family, now.Add(RefreshTokenLifetime), now)
		return nil, err
	}
	scopes := rt.Scopes
	if req.Scope != "" {
		asked, err := p.delegatedScopes(req.Scope)
		if err != nil {
			return nil, err
		}
		if !asked.within(rt.Scopes) {
			return nil, oauthErrorf("invalid_scope", 65001, "The user or administrator has not consented to use the application with ID '%s' for the scopes asked: a refresh token grants at most what the user signed in for (%s).", client.ID, strings.Join(rt.Scopes.Permissions, " "))
		}
		scopes = asked
	}
	return p.issueDelegated(client, user, scopes, "", rt.Family)
}

// issueDelegated mints what a signed-in user's client gets: the access
// token, the ID token (with openid), client_info, and a refresh token of
// family (with offline_access).
func (p *Provider) issueDelegated(client *Client, user *User, scopes scopeGrant, nonce, family string) (*TokenResponse, error) {
	scp := slices.Clone(scopes.Permissions)
	granted := make([]string, 0, len(scp)+len(scopes.OIDC))
	for _, perm := range scp {
		granted = append(granted, scopes.Audience+"/"+perm)
	}
	for _, o := range scopes.OIDC {
		granted = append(granted, o)
		// Entra's Graph tokens list the OpenID scopes in scp too, all
		// but offline_access, which is about the refresh token.
		if o != "offline_access" {
			scp = append(scp, o)
		}
	}
	access, err := p.Issuer.Mint(Claims{
		Tenant:            user.Tenant,
		ObjectID:          user.ObjectID,
		AppID:             client.ID,
		Scopes:            scp,
		RoleIDs:           user.RoleIDs,
		Name:              user.displayName(),
		PreferredUsername: user.UPN,
		Audience:          scopes.Audience,
		TTL:               TokenLifetime,
	})
	if err != nil {
		return nil, err
	}
	seconds := int(TokenLifetime/time.Second) - 1
	resp := &TokenResponse{TokenType: "Bearer", ExpiresIn: seconds, ExtExpiresIn: seconds, Scope: strings.Join(granted, " "), AccessToken: access}
	info, err := json.Marshal(map[string]string{"uid": user.ObjectID, "utid": user.Tenant})
	if err != nil {
		return nil, err
	}
	resp.ClientInfo = base64.RawURLEncoding.EncodeToString(info)
	if slices.Contains(scopes.OIDC, "openid") {
		if resp.IDToken, err = p.Issuer.mintIDToken(client, user, nonce); err != nil {
			return nil, err
		}
	}
	if slices.Contains(scopes.OIDC, "offline_access") {
		id, err := newID()
		if err != nil {
			return nil, err
		}
		now := p.signIn.now()
		resp.RefreshToken, err = p.signIn.sealer.seal(purposeRefresh, refreshToken{
			ID: id, Family: family, ClientID: client.ID, Tenant: user.Tenant, ObjectID: user.ObjectID,
			Stamp: user.stamp(), Scopes: scopes, Expires: now.Add(RefreshTokenLifetime).Unix(),
		})
		if err != nil {
			return nil, fmt.Errorf("seal refresh token: %w", err)
		}
	}
	return resp, nil
}

// idTokenClaims is an OpenID Connect ID token shaped like Entra's v2.0 one.
type idTokenClaims struct {
	registeredClaims
	Name              string `json:"name"`
	PreferredUsername string `json:"preferred_username"`
	Nonce             string `json:"nonce,omitempty"`
	Version           string `json:"ver"`
}

// mintIDToken signs the ID token of user for client (aud = client id).
func (i *Issuer) mintIDToken(client *Client, user *User, nonce string) (string, error) {
	now := i.now()
	payload, err := json.Marshal(idTokenClaims{
		registeredClaims:  i.registered(user.Tenant, user.ObjectID, client.ID, now, TokenLifetime),
		Name:              user.displayName(),
		PreferredUsername: user.UPN,
		Nonce:             nonce,
		Version:           "2.0",
	})
	if err != nil {
		return "", fmt.Errorf("mint ID token: %w", err)
	}
	tok, err := signJWS(i.keySet().current, payload)
	if err != nil {
		return "", fmt.Errorf("mint ID token: %w", err)
	}
	return tok, nil
}
