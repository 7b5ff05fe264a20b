package auth

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
)

// IssuerTemplateFor is the iss of the built-in issuer served at origin
// ("https://127.0.0.1:8443"), shaped like Entra's v2.0 issuer
// (https://login.microsoftonline.com/{tenantid}/v2.0) so that clients that
// parse it find the tenant, and that MSAL finds it at its authority.
func IssuerTemplateFor(origin string) string {
	return strings.TrimSuffix(origin, "/") + "/" + tenantPlaceholder + "/v2.0"
}

// tenantPlaceholder is replaced by the token's tid in an issuer template.
const tenantPlaceholder = "{tenantid}"

// DefaultAudiences are what a Graph token carries: the v1 resource URI and
// Graph's application id, which v2 tokens use.
var DefaultAudiences = []string{"https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"}

// defaultTTL is the lifetime of a minted token; Entra's default is about as long.
const defaultTTL = time.Hour

// IssuerOptions configures OpenIssuer.
type IssuerOptions struct {
	// Template is the iss value, with "{tenantid}" replaced by the token's
	// tid. Default: the name last recorded in the directory
	// (RecordIssuerName), or LegacyIssuerTemplate.
	Template string
	// Now is the clock of both minting and verifying; default time.Now.
	Now func() time.Time
	// ReloadInterval is how often, at most, a running issuer looks at its
	// keys folder for keys added or retired by other processes (extdir keys
	// rotate, retire); default DefaultReloadInterval.
	ReloadInterval time.Duration
	// Logger hears of keys reloaded or failing to reload; nil discards.
	Logger *slog.Logger
}

// Issuer is extdir's built-in token issuer: RSA signing keys kept in a
// directory. It is safe for concurrent use.
type Issuer struct {
	template string
	now      func() time.Time
	// names are the iss values its tokens may carry (names.go).
	names *issuerNames
	// keys is a pointer so that a rotation can swap in a new set while
	// verifiers run; every verifier reads it on each call.
	keys atomic.Pointer[keySet]
	// reload follows the keys folder; see reload.go.
	reload keyReloader
}

// OpenIssuer loads the signing keys from dir, creating dir (0700), its keys/
// folder and a first RSA-2048 key (0600) on first use. Several processes may
// open the same fresh dir at once: they all end up with the same key.
func OpenIssuer(dir string, opts IssuerOptions) (*Issuer, error) {
	i := &Issuer{template: opts.Template, now: opts.Now}
	if i.template == "" {
		current, ok, err := CurrentIssuerName(dir)
		if err != nil {
			return nil, fmt.Errorf("open issuer: %w", err)
		}
		i.template = LegacyIssuerTemplate
		if ok {
			i.template = current
		}
	}
	if i.now == nil {
		i.now = time.Now
	}
	i.names = newIssuerNames(dir, i.template)
	folder := filepath.Join(dir, keysFolder)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		return nil, fmt.Errorf("open issuer: %w", err)
	}
	keys, err := loadKeys(folder)
	if err != nil {
		return nil, fmt.Errorf("open issuer: %w", err)
	}
	if len(keys) == 0 {
		if err := createKey(folder, 1); err != nil {
			return nil, fmt.Errorf("open issuer: %w", err)
		}
		// Re-read rather than use the key just made: another process may
		// have published serial 1 first, and its key is the one to use.
		if keys, err = loadKeys(folder); err != nil {
			return nil, fmt.Errorf("open issuer: %w", err)
		}
	}
	set, err := newKeySet(keys)
	if err != nil {
		return nil, fmt.Errorf("open issuer: %w", err)
	}
	i.keys.Store(set)
	i.reload.init(folder, opts.ReloadInterval, opts.Logger)
	return i, nil
}

// IssuerFor returns the iss value for a tenant.
func (i *Issuer) IssuerFor(tenant string) string {
	return strings.ReplaceAll(i.template, tenantPlaceholder, tenant)
}

// KeyID returns the kid of the current signing key.
func (i *Issuer) KeyID() string { return i.keySet().current.kid }

// JWKS returns the public keys as a JSON Web Key Set document, newest first,
// for the discovery endpoints. The caller may keep and change the slice.
func (i *Issuer) JWKS() ([]byte, error) {
	return bytes.Clone(i.keySet().jwks), nil
}

// Claims is what a minted token says about its caller.
type Claims struct {
	Tenant, ObjectID, AppID string
	Roles                   []string
	Scopes                  []string // joined with spaces into scp
	RoleIDs                 []string // wids
	// Name and PreferredUsername are the signed-in user's display name
	// and UPN, in delegated tokens.
	Name, PreferredUsername string
	Audience                string // default DefaultAudiences[0]
	TTL                     time.Duration
}

// tokenHeader is the JOSE header of a minted token, in Entra's member order.
type tokenHeader struct {
	Type string `json:"typ"`
	Alg  string `json:"alg"`
	KID  string `json:"kid"`
}

// registeredClaims open every token the issuer signs, access and ID
// tokens alike: who issued it, for whom, when, and whose it is.
type registeredClaims struct {
	Issuer    string           `json:"iss"`
	Audience  string           `json:"aud"`
	ExpiresAt *jwt.NumericDate `json:"exp"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	Tenant    string           `json:"tid"`
	ObjectID  string           `json:"oid"`
	Subject   string           `json:"sub"`
}

// registered are the registered claims of a token for objectID in tenant,
// valid for ttl from now.
func (i *Issuer) registered(tenant, objectID, audience string, now time.Time, ttl time.Duration) registeredClaims {
	return registeredClaims{
		Issuer:    i.IssuerFor(tenant),
		Audience:  audience,
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		NotBefore: jwt.NewNumericDate(now),
		IssuedAt:  jwt.NewNumericDate(now),
		Tenant:    tenant,
		ObjectID:  objectID,
		Subject:   objectID,
	}
}

// mintedClaims is the payload of a minted token, shaped like an Entra v2.0
// access token. aud is a plain string, as Entra writes it (jwt's own claim
// types would write a one-element array), which is why Mint encodes the
// token itself and uses jwt only for the signature.
type mintedClaims struct {
	registeredClaims
	AZP               string   `json:"azp,omitempty"`
	AppID             string   `json:"appid,omitempty"`
	Roles             []string `json:"roles,omitempty"`
	Scope             string   `json:"scp,omitempty"`
	WIDs              []string `json:"wids,omitempty"`
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	Version           string   `json:"ver"`
	UTI               string   `json:"uti"`
	ID                string   `json:"jti"`
}

// Mint signs an RS256 JWT for c with the current key. TTL defaults to one
// hour; Tenant and ObjectID are required, since Verify refuses tokens
// without them.
func (i *Issuer) Mint(c Claims) (string, error) {
	if c.Tenant == "" || c.ObjectID == "" {
		return "", errors.New("mint token: tenant and object id are required")
	}
	if c.TTL < 0 {
		return "", fmt.Errorf("mint token: negative lifetime %v", c.TTL)
	}
	// scp is space-separated, so a scope holding a space would read back
	// as two permissions.
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsFunc(s, unicode.IsSpace) {
			return "", fmt.Errorf("mint token: invalid scope %q", s)
		}
	}
	ttl := c.TTL
	if ttl == 0 {
		ttl = defaultTTL
	}
	aud := c.Audience
	if aud == "" {
		aud = DefaultAudiences[0]
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	enc := base64.RawURLEncoding
	uti := enc.EncodeToString(id[:])
	now := i.now()
	key := i.keySet().current
	payload, err := json.Marshal(mintedClaims{
		registeredClaims:  i.registered(c.Tenant, c.ObjectID, aud, now, ttl),
		AZP:               c.AppID,
		AppID:             c.AppID,
		Roles:             c.Roles,
		Scope:             strings.Join(c.Scopes, " "),
		WIDs:              c.RoleIDs,
		Name:              c.Name,
		PreferredUsername: c.PreferredUsername,
		Version:           "2.0",
		UTI:               uti,
		ID:                uti,
	})
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	tok, err := signJWS(key, payload)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return tok, nil
}

// signJWS makes a compact RS256 JWS of payload with key: the one signing path
// of access and ID tokens.
func signJWS(key *signingKey, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	header, err := json.Marshal(tokenHeader{Type: "JWT", Alg: jwt.SigningMethodRS256.Alg(), KID: key.kid})
	if err != nil {
		return "", err
	}
	signed := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	sig, err := jwt.SigningMethodRS256.Sign(signed, key.private)
	if err != nil {
		return "", err
	}
	return signed + "." + enc.EncodeToString(sig), nil
}
