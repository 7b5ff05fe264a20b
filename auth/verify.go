// Package auth verifies bearer tokens, decides what a caller may do (the
// permission matrix of Graph's external profile API), and runs extdir's
// built-in token issuer with its signing keys.
package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/extdir/extdir"
)

// Verifier checks bearer tokens.
type Verifier interface {
	// Verify checks the raw JWT (without "Bearer ") and returns the caller.
	// Every failure is an *extdir.Error with code extdir.EUnauthenticated and
	// a Graph-like message.
	Verify(ctx context.Context, raw string) (*Principal, error)
}

// MaxTokenSize is the largest token Verify parses. Entra's access tokens
// stay far below it even with many groups; anything larger is refused before
// any decoding, so that a hostile header costs nothing.
const MaxTokenSize = 16 << 10

// The answers to a bad token. They are shared values: none carries anything
// of the token, so nothing a client sent is echoed back to it.
var (
	errEmpty            = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token is empty."}
	errTooLarge         = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure. The token is too large."}
	errMalformed        = &extdir.Error{Code: extdir.EUnauthenticated, Message: "CompactToken parsing failed with error code: 80049217"}
	errSignature        = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure. Invalid signature."}
	errNoExpiry         = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Lifetime validation failed, the token has no expiry."}
	errExpired          = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Lifetime validation failed, the token is expired."}
	errNotYetValid      = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Lifetime validation failed, the token is not yet valid."}
	errAudience         = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure. Invalid audience."}
	errIssuer           = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure. Invalid issuer."}
	errNoTenant         = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure. The token has no tid claim."}
	errNoObjectID       = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure. The token has no oid claim."}
	errTenantNotAllowed = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure. The token's tenant is not allowed for its issuer."}
	errUnknownKey       = errors.New("unknown signing key")
	errCritical         = errors.New("critical header extensions are not supported")
	errAmbiguousKeys    = errors.New("token has no kid and several keys could have signed it")
)

// tokenClaims is the payload Verify reads. RegisteredClaims brings aud in
// either of its JSON forms (a string or an array) and the numeric dates.
type tokenClaims struct {
	jwt.RegisteredClaims
	Tenant   string   `json:"tid"`
	ObjectID string   `json:"oid"`
	AZP      string   `json:"azp"`
	AppID    string   `json:"appid"`
	Roles    []string `json:"roles"`
	Scope    *string  `json:"scp"`
	WIDs     []string `json:"wids"`
	// PreferredUsername is a user's sign-in name (the UPN); only logs and
	// the request journal read it.
	PreferredUsername string `json:"preferred_username"`
}

// Verifier returns a Verifier that accepts this issuer's tokens for the given
// audiences (nil or empty means DefaultAudiences; never "any audience") and
// tolerates leeway of clock skew on exp and nbf. 30 seconds is a sound
// leeway between hosts kept by NTP; a negative one counts as zero.
func (i *Issuer) Verifier(audiences []string, leeway time.Duration) Verifier {
	if len(audiences) == 0 {
		audiences = DefaultAudiences
	}
	v := newIssuerVerifier(i, parseTemplate(i.template), audiences, nil, leeway, i.now)
	v.names = i.names
	return v
}

// newIssuerVerifier builds the verifier of one trusted issuer: keys finds
// the signing keys, template matches iss, and tenants, when not empty, is
// the allow-list of tid values.
func newIssuerVerifier(keys keySource, template issuerTemplate, audiences, tenants []string, leeway time.Duration, now func() time.Time) *issuerVerifier {
	v := &issuerVerifier{
		keys:      keys,
		template:  template,
		tenants:   slices.Clone(tenants),
		now:       now,
		audiences: slices.Clone(audiences),
		leeway:    max(leeway, 0),
		// Only RS256: this alone refuses "none", HS256 signed with the public
		// key as the secret, and every algorithm we do not issue. Claims are
		// checked in check, not by jwt's validator, so that each failure has
		// one message and iss can depend on the token's own tid.
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
			jwt.WithoutClaimsValidation(),
			jwt.WithStrictDecoding(),
		),
	}
	v.keyFunc = v.key // bound once: a method value per call would allocate
	return v
}

// issuerVerifier checks the tokens of one trusted issuer: the built-in one
// or an external one whose keys come from its JWKS.
type issuerVerifier struct {
	keys     keySource
	template issuerTemplate
	// names, for the built-in issuer, are every iss it accepts besides
	// template (names.go); nil for an external issuer.
	names     *issuerNames
	tenants   []string // allowed tid values; empty allows every tenant
	now       func() time.Time
	audiences []string
	leeway    time.Duration
	parser    *jwt.Parser
	keyFunc   jwt.Keyfunc
}

// Verify implements Verifier.
func (v *issuerVerifier) Verify(_ context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, errEmpty
	}
	if len(raw) > MaxTokenSize {
		return nil, errTooLarge
	}
	var c tokenClaims
	if _, err := v.parser.ParseWithClaims(raw, &c, v.keyFunc); err != nil {
		if errors.Is(err, jwt.ErrTokenMalformed) {
			return nil, errMalformed
		}
		// A refused algorithm, an unknown kid and a bad signature all mean
		// the same to the client: this token was not signed by us.
		return nil, errSignature
	}
	if err := v.check(&c); err != nil {
		return nil, err
	}
	return principal(&c), nil
}

// principal is the caller a checked token describes.
func principal(c *tokenClaims) *Principal {
	p := &Principal{
		Tenant:   c.Tenant,
		ObjectID: c.ObjectID,
		AppID:    c.AZP,
		Roles:    c.Roles,
		RoleIDs:  c.WIDs,
		Username: c.PreferredUsername,
	}
	if p.AppID == "" {
		p.AppID = c.AppID
	}
	if c.Scope != nil {
		p.Scopes = strings.Fields(*c.Scope)
		// A token with an scp claim is a user's, even when the claim is
		// blank. Its roles are the user's app roles, not app permissions,
		// so they must not make it pass as an app-only token.
		p.Roles = nil
	}
	return p
}

// matchIssuer reports whether iss names this issuer, the tenant it names
// and whether the name has a tenant in it at all.
func (v *issuerVerifier) matchIssuer(iss string) (tenant string, templated, ok bool) {
	if v.names != nil {
		return v.names.match(iss)
	}
	tenant, ok = v.template.match(iss)
	return tenant, v.template.templated(), ok
}

// key finds the public key for a token's kid header.
func (v *issuerVerifier) key(t *jwt.Token) (any, error) {
	// RFC 7515 §4.1.11: a "crit" extension we do not implement must be
	// refused, and we implement none.
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritical
	}
	kid, present := t.Header["kid"]
	s, isString := kid.(string)
	if present && !isString {
		return nil, errUnknownKey
	}
	return v.keys.publicKey(s, present)
}

// check applies the claim rules to a token whose signature is valid.
func (v *issuerVerifier) check(c *tokenClaims) error {
	now := v.now()
	if c.ExpiresAt == nil {
		return errNoExpiry
	}
	if !now.Before(c.ExpiresAt.Add(v.leeway)) {
		return errExpired
	}
	if c.NotBefore != nil && now.Before(c.NotBefore.Add(-v.leeway)) {
		return errNotYetValid
	}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(v.audiences, a) }) {
		return errAudience
	}
	if c.Tenant == "" {
		return errNoTenant
	}
	if c.ObjectID == "" {
		return errNoObjectID
	}
	// A templated iss names the tenant, and it must be the token's own:
	// otherwise one tenant's token could pass as another's.
	tenant, templated, ok := v.matchIssuer(c.Issuer)
	if !ok || (templated && tenant != c.Tenant) {
		return errIssuer
	}
	if len(v.tenants) > 0 && !slices.ContainsFunc(v.tenants, func(t string) bool { return strings.EqualFold(t, c.Tenant) }) {
		return errTenantNotAllowed
	}
	return nil
}
