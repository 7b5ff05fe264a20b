package auth

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultCacheSize is how many verified tokens a CachedVerifier remembers
// unless told otherwise: far more than the callers a directory has at once,
// and a few megabytes at most.
const DefaultCacheSize = 10_000

// CacheOptions configures NewCachedVerifier.
type CacheOptions struct {
	// Size bounds how many tokens are remembered; zero or less means
	// DefaultCacheSize.
	Size int
	// Now is the clock of exp and nbf; nil means time.Now.
	Now func() time.Time
}

// CachedVerifier remembers the tokens its inner Verifier accepted, so that a
// client sending the same token again does not pay for an RS256 signature
// check (tens of microseconds, the largest cost of a read) on every request.
//
// What it keeps and for how long:
//   - Only tokens the inner Verifier accepted enter, keyed by the SHA-256 of
//     the whole token: a token that differs in any byte is a different key,
//     and a hostile token, which fails verification, never enters.
//   - exp and nbf are checked again on every use, without the inner
//     verifier's leeway: within the leeway window the inner verifier decides
//     again, so the cache is never more lenient than it.
//   - An entry holds only while the signing keys of its token's issuer are
//     those it was verified under. Retiring a key (extdir keys retire), a
//     rotation, or a key removed from an external issuer's JWKS makes every
//     entry of that issuer stale at its next use, so that a token of a
//     retired key is refused exactly when it would be without the cache.
//     The cache makes the same looks at the keys that verification does,
//     so it notices a change as soon as the uncached path would.
//   - Tokens that Entra issued for Microsoft Graph, accepted without a
//     signature check in the insecure mode, are never cached, so that each
//     use is still logged.
//   - The size is bounded: a full cache drops an arbitrary entry for each
//     new one.
//
// The Principal of a cached token is shared by every request that presents
// the token: callers must treat it as read-only, as they already do with a
// development principal.
type CachedVerifier struct {
	inner Verifier
	now   func() time.Time
	size  int64
	// entries maps the SHA-256 of a token to its *cachedToken. A sync.Map
	// reads without locks, which matters when every request of a client
	// presents the same token: a mutex would have all cores queue on it.
	entries sync.Map
	count   atomic.Int64 // entries held, kept within size
}

// cachedToken is what a verified token is known to be. It is never changed
// once stored: an update stores a new one.
type cachedToken struct {
	principal *Principal
	// notBefore and notAfter bound its use, in Unix nanoseconds: nbf (or
	// none) and exp.
	notBefore, notAfter int64
	// keys and snapshot tell whether the keys it was verified under still
	// hold; keys is nil when the inner Verifier does not say.
	keys     keySnapshotter
	snapshot any
}

// NewCachedVerifier returns inner with a cache of verified tokens in front.
func NewCachedVerifier(inner Verifier, o CacheOptions) *CachedVerifier {
	size := o.Size
	if size <= 0 {
		size = DefaultCacheSize
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &CachedVerifier{inner: inner, now: now, size: int64(size)}
}

// Verify implements Verifier.
func (c *CachedVerifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	if raw == "" || len(raw) > MaxTokenSize {
		return c.inner.Verify(ctx, raw)
	}
	key := tokenKey(raw)
	if v, ok := c.entries.Load(key); ok {
		e := v.(*cachedToken)
		if p, ok := c.hit(key, e); ok {
			return p, nil
		}
		// Expired, not yet valid, or verified under keys since replaced:
		// the inner verifier decides afresh, and its answer replaces this.
		if c.entries.CompareAndDelete(key, e) {
			c.count.Add(-1)
		}
	}

	claims, cacheable := peekCacheable(raw)
	var keys keySnapshotter
	var snapshot any
	if cacheable {
		// The snapshot is taken before verifying, so that it is never newer
		// than the keys the verification used: keys replaced in between
		// make the entry stale at once, the safe way round.
		if tracker, ok := c.inner.(keyTracker); ok {
			if keys = tracker.keySourceFor(claims.Issuer); keys != nil {
				snapshot = keys.keySnapshot()
			}
		}
	}
	p, err := c.inner.Verify(ctx, raw)
	if err != nil || !cacheable {
		return p, err
	}
	c.store(key, &cachedToken{principal: p, notBefore: claims.NotBefore, notAfter: claims.ExpiresAt, keys: keys, snapshot: snapshot})
	return p, nil
}

// tokenBuffers hold the copies of tokens that tokenKey hashes: the hash
// takes bytes, and a fresh copy of every token would be garbage on every
// request.
var tokenBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 2048)
	return &b
}}

// tokenKey is the cache key of a token: the SHA-256 of all of it.
func tokenKey(raw string) [sha256.Size]byte {
	bp := tokenBuffers.Get().(*[]byte)
	b := append((*bp)[:0], raw...)
	key := sha256.Sum256(b)
	*bp = b
	tokenBuffers.Put(bp)
	return key
}

// hit reports whether a cached token may be used now, and its caller.
func (c *CachedVerifier) hit(key [sha256.Size]byte, e *cachedToken) (*Principal, bool) {
	now := c.now().UnixNano()
	if now < e.notBefore || now >= e.notAfter {
		return nil, false
	}
	if e.keys == nil {
		return e.principal, true
	}
	current := e.keys.keySnapshot()
	if current == e.snapshot {
		return e.principal, true
	}
	if !sameKeys(current, e.snapshot) {
		return nil, false
	}
	// The keys were read again but did not change: remember the new set,
	// so that the next use compares one pointer again.
	renewed := *e
	renewed.snapshot = current
	c.entries.CompareAndSwap(key, e, &renewed)
	return e.principal, true
}

// store adds an entry, dropping another when the cache is full.
func (c *CachedVerifier) store(key [sha256.Size]byte, e *cachedToken) {
	if _, loaded := c.entries.Swap(key, e); loaded {
		return
	}
	if c.count.Add(1) <= c.size {
		return
	}
	// Full: drop the first entry a walk meets, which is an arbitrary one
	// (the walk follows the hashes) and needs no bookkeeping on the hit
	// path. The one just stored is spared unless it is alone.
	c.entries.Range(func(k, v any) bool {
		if k == key {
			return true
		}
		if c.entries.CompareAndDelete(k, v) {
			c.count.Add(-1)
			return false
		}
		return true
	})
}

// cacheClaims is what the cache reads of a token the inner verifier is about
// to judge; it trusts none of it until that verifier has accepted the token.
type cacheClaims struct {
	Issuer string
	// NotBefore and ExpiresAt are Unix nanoseconds; NotBefore is the
	// smallest int64 when the token has no nbf.
	NotBefore, ExpiresAt int64
}

// peekCacheable decodes iss, exp and nbf, and reports whether the token may
// be cached at all: it must have an exp, and no nonce header (a Graph token,
// whose every use must be logged).
func peekCacheable(raw string) (cacheClaims, bool) {
	header, rest, ok := strings.Cut(raw, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 {
		return cacheClaims{}, false
	}
	var h struct {
		Nonce json.RawMessage `json:"nonce"`
	}
	var p struct {
		Issuer    string           `json:"iss"`
		ExpiresAt *jwt.NumericDate `json:"exp"`
		NotBefore *jwt.NumericDate `json:"nbf"`
	}
	for _, part := range []struct {
		seg string
		v   any
	}{{header, &h}, {payload, &p}} {
		b, err := base64.RawURLEncoding.DecodeString(part.seg)
		if err != nil || json.Unmarshal(b, part.v) != nil {
			return cacheClaims{}, false
		}
	}
	if h.Nonce != nil || p.ExpiresAt == nil {
		return cacheClaims{}, false
	}
	c := cacheClaims{Issuer: p.Issuer, NotBefore: -1 << 63, ExpiresAt: p.ExpiresAt.UnixNano()}
	if p.NotBefore != nil {
		c.NotBefore = p.NotBefore.UnixNano()
	}
	return c, true
}

// sameKeys reports whether two key snapshots hold the same keys under the
// same kids. A keys folder or a JWKS read again without a change yields a
// new set of the same keys, which must not make the cache forget; any key
// added or removed does, since a token without kid is judged by how many
// keys there are.
func sameKeys(a, b any) bool {
	if a == b {
		return true
	}
	ka, kb := keysByKID(a), keysByKID(b)
	if ka == nil || kb == nil || len(ka) != len(kb) {
		return false
	}
	for kid, k := range ka {
		if other, ok := kb[kid]; !ok || !k.Equal(other) {
			return false
		}
	}
	return true
}

// keysByKID returns the keys of a snapshot of either kind of key source.
func keysByKID(snapshot any) map[string]*rsa.PublicKey {
	switch s := snapshot.(type) {
	case *keySet:
		if s != nil {
			return s.byKID
		}
	case *remoteKeys:
		if s != nil {
			return s.byKID
		}
	}
	return nil
}

// keyTracker is a Verifier that can name the key source a token of issuer
// iss is verified against, so that the cache can follow that source's keys.
type keyTracker interface {
	keySourceFor(iss string) keySnapshotter
}

// keySnapshotter is a key source whose keys can change while it serves.
type keySnapshotter interface {
	// keySnapshot returns the key set in force, after the look at the keys
	// that verifying a token would make (a keys folder due for a look is
	// read; a key set past its refresh interval is fetched again). A key
	// set is replaced, never changed in place: the same value is the same
	// keys, and a new value is compared by sameKeys.
	keySnapshot() any
}

// keySourceFor implements keyTracker: the one issuer Verify would pick for
// iss, in the same order.
func (m *multiVerifier) keySourceFor(iss string) keySnapshotter {
	for _, t := range m.issuers {
		if _, _, ok := t.verifier.matchIssuer(iss); ok {
			ks, _ := t.verifier.keys.(keySnapshotter)
			return ks
		}
	}
	return nil
}

// keySourceFor implements keyTracker for a single issuer's verifier.
func (v *issuerVerifier) keySourceFor(string) keySnapshotter {
	ks, _ := v.keys.(keySnapshotter)
	return ks
}

// keySnapshot implements keySnapshotter for the built-in issuer: its keys
// folder is looked at when a look is due, as on a verification.
func (i *Issuer) keySnapshot() any { return i.keySet() }

// keySnapshot implements keySnapshotter for an external issuer: a key set
// past its refresh interval is fetched again (within the rate limit), as a
// verification would. A source that never fetched is not made to fetch
// here: no cached token can depend on keys it does not have.
func (s *jwksSource) keySnapshot() any {
	set := s.keys.Load()
	if set != nil && s.now().Sub(set.fetched) >= s.refreshEvery {
		set = s.refresh(set)
	}
	return set
}
