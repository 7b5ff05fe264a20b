package auth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of an external issuer's key cache. They are those of
// Microsoft.IdentityModel, which Entra's own SDKs use: refetch keys in use
// every so often, and on an unknown kid at most every five minutes.
const (
	// DefaultRefreshInterval is how long fetched keys are used before they
	// are fetched again.
	DefaultRefreshInterval = time.Hour
	// DefaultMinRefreshInterval is the least time between two fetches: the
	// bound on how hard tokens with made-up kids can make extdir hit the
	// issuer's key server.
	DefaultMinRefreshInterval = 5 * time.Minute
	// failureRetry is the wait after a failed fetch when it is shorter than
	// the minimum interval: failures are not an attacker's doing, and keys
	// missing after an outage should come back soon.
	failureRetry = 30 * time.Second
	// fetchTimeout bounds one fetch (discovery document and key set).
	fetchTimeout = 10 * time.Second
	// maxDocumentSize bounds a discovery document or key set. Entra's are
	// a few kilobytes.
	maxDocumentSize = 1 << 20
)

// errKeysUnavailable: no keys were ever fetched for the token's issuer.
var errKeysUnavailable = errors.New("the issuer's signing keys could not be fetched")

// remoteKeys is one fetched key set, immutable.
type remoteKeys struct {
	byKID   map[string]*rsa.PublicKey
	only    *rsa.PublicKey // the one key, when the set has exactly one
	fetched time.Time
}

func (k *remoteKeys) lookup(kid string, hasKID bool) *rsa.PublicKey {
	if k == nil {
		return nil
	}
	if !hasKID {
		return k.only
	}
	return k.byKID[kid]
}

// jwksSource fetches, caches and refreshes the signing keys of one external
// issuer, from its jwks_uri or through its OpenID discovery document.
type jwksSource struct {
	issuer       issuerTemplate
	jwksURI      string
	discoveryURL string
	client       *http.Client
	now          func() time.Time
	refreshEvery time.Duration
	minRefresh   time.Duration
	log          *slog.Logger

	keys atomic.Pointer[remoteKeys]
	// mu makes fetches single-flight: requests that find the keys lacking
	// while a fetch runs wait for it and use its result.
	mu          sync.Mutex
	nextAttempt time.Time // guarded by mu; zero: fetch at first need
}

// publicKey implements keySource. Fresh keys are looked up without a lock;
// a key set that is stale, missing or lacks the kid is fetched again,
// within the rate limit.
func (s *jwksSource) publicKey(kid string, hasKID bool) (any, error) {
	set := s.keys.Load()
	if set != nil && s.now().Sub(set.fetched) < s.refreshEvery {
		if k := set.lookup(kid, hasKID); k != nil {
			return k, nil
		}
	}
	set = s.refresh(set)
	if k := set.lookup(kid, hasKID); k != nil {
		return k, nil
	}
	switch {
	case set == nil:
		return nil, errKeysUnavailable
	case !hasKID:
		return nil, errAmbiguousKeys
	}
	return nil, errUnknownKey
}

// refresh fetches the keys unless the rate limit forbids it now, and returns
// the keys to use: the new ones, or those already held (even stale ones,
// which beat none when the key server is down).
func (s *jwksSource) refresh(seen *remoteKeys) *remoteKeys {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.keys.Load(); cur != seen {
		return cur // fetched by another request while this one waited
	}
	now := s.now()
	if now.Before(s.nextAttempt) {
		return seen
	}
	// The fetch is the cache's, not the request's: it must not be cut short
	// by one client hanging up while others wait for it.
	ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
	defer cancel()
	set, err := s.fetch(ctx)
	if err != nil {
		s.nextAttempt = now.Add(min(s.minRefresh, failureRetry))
		s.log.Warn("external issuer: fetching signing keys failed", "issuer", s.issuer.raw, "error", err, "retry_after", min(s.minRefresh, failureRetry))
		return seen
	}
	s.nextAttempt = now.Add(s.minRefresh)
	set.fetched = now
	s.keys.Store(set)
	s.log.Info("external issuer: signing keys fetched", "issuer", s.issuer.raw, "keys", len(set.byKID))
	return set
}

// discoveryDocument is the part of an OpenID Provider's configuration that
// extdir reads (OpenID Connect Discovery 1.0 §3).
type discoveryDocument struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// jsonWebKeySet is a JWKS as issuers publish it (RFC 7517 §5); members
// extdir does not read, such as x5c, are ignored.
type jsonWebKeySet struct {
	Keys []struct {
		Kty string `json:"kty"`
		Use string `json:"use"`
		Kid string `json:"kid"`
		Alg string `json:"alg"`
		N   string `json:"n"`
		E   string `json:"e"`
	} `json:"keys"`
}

// fetch reads the discovery document when configured, then the key set.
func (s *jwksSource) fetch(ctx context.Context) (*remoteKeys, error) {
	uri := s.jwksURI
	if s.discoveryURL != "" {
		var doc discoveryDocument
		if err := getJSON(ctx, s.client, s.discoveryURL, &doc); err != nil {
			return nil, fmt.Errorf("discovery document: %w", err)
		}
		// OpenID Connect Discovery §4.3: the document must name the issuer
		// it describes. Entra's multi-tenant documents name the template
		// itself; a tenant's document names an instance of it.
		if _, ok := s.issuer.match(doc.Issuer); doc.Issuer != s.issuer.raw && !ok {
			return nil, fmt.Errorf("discovery document %s describes issuer %q, not %q", s.discoveryURL, doc.Issuer, s.issuer.raw)
		}
		if err := checkKeyURL(doc.JWKSURI); err != nil {
			return nil, fmt.Errorf("discovery document %s: jwks_uri: %w", s.discoveryURL, err)
		}
		uri = doc.JWKSURI
	}
	var set jsonWebKeySet
	if err := getJSON(ctx, s.client, uri, &set); err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	keys := &remoteKeys{byKID: make(map[string]*rsa.PublicKey, len(set.Keys))}
	var skipped []string
	for _, k := range set.Keys {
		// Only RSA signing keys for RS256: all that Entra publishes and all
		// that the verifier accepts. Others are skipped, not fatal, so that
		// an issuer adding an EC key does not lock everyone out.
		if k.Kty != "RSA" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			skipped = append(skipped, k.Kid)
			continue
		}
		pub, err := parseRSAJWK(k.N, k.E)
		if err != nil {
			skipped = append(skipped, k.Kid)
			s.log.Warn("external issuer: unusable key skipped", "issuer", s.issuer.raw, "kid", k.Kid, "error", err)
			continue
		}
		if _, dup := keys.byKID[k.Kid]; dup {
			continue
		}
		keys.byKID[k.Kid] = pub
	}
	if len(keys.byKID) == 0 {
		return nil, fmt.Errorf("%s holds no RSA signing key (skipped: %q)", uri, skipped)
	}
	if len(keys.byKID) == 1 {
		for _, k := range keys.byKID {
			keys.only = k
		}
	}
	return keys, nil
}

// parseRSAJWK decodes the modulus and exponent of an RSA JWK (RFC 7518
// §6.3.1), refusing keys weaker than extdir's own.
func parseRSAJWK(n, e string) (*rsa.PublicKey, error) {
	// Unpadded base64url is the rule; some issuers pad anyway.
	nb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil {
		return nil, fmt.Errorf("modulus: %w", err)
	}
	eb, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(e, "="))
	if err != nil {
		return nil, fmt.Errorf("exponent: %w", err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb)}
	if bits := pub.N.BitLen(); bits < keyBits {
		return nil, fmt.Errorf("RSA key of %d bits, want at least %d", bits, keyBits)
	}
	exp := new(big.Int).SetBytes(eb)
	if !exp.IsInt64() || exp.Int64() < 3 || exp.Int64() > 1<<31-1 || exp.Bit(0) == 0 {
		return nil, fmt.Errorf("unusable RSA exponent %s", exp)
	}
	pub.E = int(exp.Int64())
	return pub, nil
}

// getJSON fetches url and decodes its JSON body into v.
func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDocumentSize {
		return fmt.Errorf("GET %s: the document is larger than %d bytes", url, maxDocumentSize)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// checkKeyURL accepts https URLs, and http ones on the loopback interface
// only: keys fetched in the clear from another host could be anyone's.
func checkKeyURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%q must be https (http is allowed on localhost only)", raw)
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newKeyClient is the HTTP client of key fetches when none is given. It
// applies checkKeyURL to redirects too, so that a redirect cannot lead the
// fetch off https.
func newKeyClient() *http.Client {
	return &http.Client{
		Timeout: fetchTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return checkKeyURL(req.URL.String())
		},
	}
}
