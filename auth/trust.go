package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/extdir/extdir"
)

// keySource finds a trusted issuer's public keys.
type keySource interface {
	// publicKey returns the key with the given kid or, when the token has
	// no kid (hasKID false), the issuer's only key.
	publicKey(kid string, hasKID bool) (any, error)
}

// VerifierOptions configures NewVerifier.
type VerifierOptions struct {
	// Builtin is extdir's own issuer; nil refuses its tokens.
	Builtin *Issuer
	// BuiltinAudiences are accepted on the built-in issuer's tokens; empty
	// means DefaultAudiences.
	BuiltinAudiences []string
	// Issuers are the trusted external issuers.
	Issuers []IssuerConfig
	// Leeway is the clock skew tolerated on every token's exp and nbf.
	Leeway time.Duration
	// InsecureAcceptGraphTokens accepts tokens that Entra issued for
	// Microsoft Graph without checking their signature; see Verify.
	InsecureAcceptGraphTokens bool
	// HTTPClient fetches external keys; nil means a client with a timeout
	// that follows redirects only to https.
	HTTPClient *http.Client
	// Logger hears of key fetches and of every unverified Graph token; nil
	// discards.
	Logger *slog.Logger
	// Now is the clock of token lifetimes and of key refresh limits;
	// nil means time.Now.
	Now func() time.Time
}

// trustedIssuer is one issuer of a multiVerifier.
type trustedIssuer struct {
	builtin  bool
	verifier *issuerVerifier
	// graph checks Graph tokens in insecure mode: the issuer's rules with
	// Graph's audiences. Nil for the built-in issuer or when the mode is off.
	graph *issuerVerifier
}

// multiVerifier accepts the tokens of several issuers.
type multiVerifier struct {
	issuers []*trustedIssuer
	log     *slog.Logger
}

// errGraphToken answers a token with a nonce header when the insecure mode
// is off: a clearer message than a bare signature failure for the common
// mistake of sending extdir a token meant for Microsoft Graph.
var errGraphToken = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure. The token was issued for Microsoft Graph (its header has a nonce): only Microsoft can verify its signature. Ask Entra ID for a token whose audience is extdir's App ID URI."}

// NewVerifier returns a Verifier for the built-in issuer and the external
// ones together. It reads a token's iss without trusting it, picks the one
// issuer whose template matches (the built-in one first, then the external
// ones in order), and then verifies the token fully with that issuer's keys
// and rules; iss is checked again against the verified claims.
func NewVerifier(o VerifierOptions) (Verifier, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := o.HTTPClient
	if client == nil {
		client = newKeyClient()
	}
	m := &multiVerifier{log: log}
	seen := map[string]bool{}
	if o.Builtin != nil {
		audiences := o.BuiltinAudiences
		if len(audiences) == 0 {
			audiences = DefaultAudiences
		}
		t := parseTemplate(o.Builtin.template)
		v := newIssuerVerifier(o.Builtin, t, audiences, nil, o.Leeway, now)
		v.names = o.Builtin.names
		m.issuers = append(m.issuers, &trustedIssuer{builtin: true, verifier: v})
		seen[t.raw] = true
	}
	for n, cfg := range o.Issuers {
		if err := cfg.check(); err != nil {
			return nil, fmt.Errorf("issuer %d: %w", n, err)
		}
		if seen[cfg.Issuer] {
			return nil, fmt.Errorf("issuer %q is configured twice (or is the built-in issuer's --issuer)", cfg.Issuer)
		}
		seen[cfg.Issuer] = true
		t := parseTemplate(cfg.Issuer)
		src := &jwksSource{
			issuer:       t,
			jwksURI:      cfg.JWKSURI,
			discoveryURL: cfg.DiscoveryURL,
			client:       client,
			now:          now,
			refreshEvery: orDefault(time.Duration(cfg.RefreshInterval), DefaultRefreshInterval),
			minRefresh:   orDefault(time.Duration(cfg.MinRefreshInterval), DefaultMinRefreshInterval),
			log:          log,
		}
		ti := &trustedIssuer{verifier: newIssuerVerifier(src, t, cfg.Audiences, cfg.Tenants, o.Leeway, now)}
		if o.InsecureAcceptGraphTokens {
			ti.graph = newIssuerVerifier(src, t, DefaultAudiences, cfg.Tenants, o.Leeway, now)
		}
		m.issuers = append(m.issuers, ti)
	}
	if len(m.issuers) == 0 {
		return nil, errors.New("no token issuer: enable the built-in issuer or configure an external one")
	}
	if o.InsecureAcceptGraphTokens && len(o.Issuers) == 0 {
		return nil, errors.New("accepting Graph tokens needs the Entra issuer they come from among the external issuers")
	}
	return m, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// peeked is what Verify reads of a token before trusting any of it.
type peeked struct {
	Issuer string          `json:"iss"`
	Nonce  json.RawMessage `json:"nonce"` // from the header
}

// peek decodes the header's nonce and the payload's iss, nothing else.
func peek(raw string) (*peeked, error) {
	header, rest, ok := strings.Cut(raw, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return nil, errMalformed
	}
	var p, h peeked
	for _, part := range []struct {
		seg string
		v   *peeked
	}{{header, &h}, {payload, &p}} {
		b, err := base64.RawURLEncoding.DecodeString(part.seg)
		if err != nil || json.Unmarshal(b, part.v) != nil {
			return nil, errMalformed
		}
	}
	p.Nonce = h.Nonce
	return &p, nil
}

// Verify implements Verifier.
//
// A token whose header carries a nonce was issued by Entra for Microsoft
// Graph: Entra signs a hash of the nonce in place of the nonce, so only
// Graph can check the signature. Such tokens are refused, unless
// InsecureAcceptGraphTokens is set: then a token from a configured external
// issuer is accepted without any signature check, if its alg is RS256, its
// aud is Graph's, and its exp, nbf, iss, tid, oid and tenant pass the
// issuer's rules. Anyone can forge such a token, hence the name, and a
// warning on every use.
func (m *multiVerifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" {
		return nil, errEmpty
	}
	if len(raw) > MaxTokenSize {
		return nil, errTooLarge
	}
	p, err := peek(raw)
	if err != nil {
		return nil, err
	}
	var t *trustedIssuer
	for _, candidate := range m.issuers {
		if _, _, ok := candidate.verifier.matchIssuer(p.Issuer); ok {
			t = candidate
			break
		}
	}
	if t == nil {
		return nil, errIssuer
	}
	if p.Nonce != nil {
		switch {
		case t.builtin:
			return nil, errSignature // extdir never puts a nonce in its tokens
		case t.graph == nil:
			return nil, errGraphToken
		}
		return m.verifyGraphToken(ctx, t.graph, raw)
	}
	return t.verifier.Verify(ctx, raw)
}

// unverifiedParser decodes Graph tokens in insecure mode.
var unverifiedParser = jwt.NewParser(jwt.WithStrictDecoding())

func (m *multiVerifier) verifyGraphToken(ctx context.Context, v *issuerVerifier, raw string) (*Principal, error) {
	var c tokenClaims
	tok, _, err := unverifiedParser.ParseUnverified(raw, &c)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenMalformed) {
			return nil, errMalformed
		}
		return nil, errSignature
	}
	// Still refuse what no Entra token looks like, alg none above all.
	if alg, _ := tok.Header["alg"].(string); alg != jwt.SigningMethodRS256.Alg() {
		return nil, errSignature
	}
	if _, ok := tok.Header["crit"]; ok {
		return nil, errSignature
	}
	if err := v.check(&c); err != nil {
		return nil, err
	}
	pr := principal(&c)
	m.log.LogAttrs(ctx, slog.LevelWarn, "accepted a Microsoft Graph token WITHOUT verifying its signature (--insecure-accept-graph-tokens): anyone can forge such a token",
		slog.String("iss", c.Issuer), slog.String("tid", pr.Tenant), slog.String("oid", pr.ObjectID), slog.String("app_id", pr.AppID))
	return pr, nil
}
