package auth

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// countingVerifier counts the tokens that reach the verifier behind the
// cache. It hides the inner verifier's key tracking, like a Verifier from
// outside this package would.
type countingVerifier struct {
	inner Verifier
	calls atomic.Int64
}

func (c *countingVerifier) Verify(ctx context.Context, raw string) (*Principal, error) {
	c.calls.Add(1)
	return c.inner.Verify(ctx, raw)
}

// trackingCounter counts like countingVerifier but keeps the inner
// verifier's key tracking, as the cache sees the verifiers of this package.
type trackingCounter struct {
	countingVerifier
	tracker keyTracker
}

func (c *trackingCounter) keySourceFor(iss string) keySnapshotter {
	return c.tracker.keySourceFor(iss)
}

func newTrackingCounter(inner Verifier) *trackingCounter {
	return &trackingCounter{countingVerifier: countingVerifier{inner: inner}, tracker: inner.(keyTracker)}
}

// held counts the entries by walking them, not by the cache's own count,
// so that a test sees what is really kept.
func (c *CachedVerifier) held() int {
	n := 0
	c.entries.Range(func(any, any) bool { n++; return true })
	return n
}

func TestCachedVerifierVerifiesOnce(t *testing.T) {
	iss := openTestIssuer(t)
	inner := &countingVerifier{inner: iss.Verifier(nil, testLeeway)}
	c := NewCachedVerifier(inner, CacheOptions{Now: fixedClock(t0)})
	raw := signRS256(t, iss, validClaims(iss))
	ctx := context.Background()

	first, err := c.Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		p, err := c.Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		if !equalPrincipal(*p, *first) {
			t.Fatalf("cached principal %+v, want %+v", *p, *first)
		}
	}
	if n := inner.calls.Load(); n != 1 {
		t.Errorf("inner verifier called %d times for one token used 6 times, want 1", n)
	}

	// A second token of the same caller is its own entry.
	other := signRS256(t, iss, with(validClaims(iss), "jti", "second"))
	if _, err := c.Verify(ctx, other); err != nil {
		t.Fatal(err)
	}
	if n := inner.calls.Load(); n != 2 {
		t.Errorf("a second token was not verified: %d calls, want 2", n)
	}
}

func TestCachedVerifierNeverCachesRefusals(t *testing.T) {
	iss := openTestIssuer(t)
	inner := &countingVerifier{inner: iss.Verifier(nil, testLeeway)}
	c := NewCachedVerifier(inner, CacheOptions{Now: fixedClock(t0)})
	ctx := context.Background()
	valid := signRS256(t, iss, validClaims(iss))
	if _, err := c.Verify(ctx, valid); err != nil {
		t.Fatal(err)
	}

	// The valid token with one signature character changed (not the last,
	// whose low bits are padding), then signed by a stranger, then for the
	// wrong audience, and so on: each refused every time.
	at := len(valid) - 10
	flipped := valid[:at] + string("AB"[boolIndex(valid[at] == 'A')]) + valid[at+1:]
	hostile := map[string]string{
		"a changed signature":   flipped,
		"a stranger's key":      sign(t, jwt.SigningMethodRS256, otherKey(), map[string]any{"alg": "RS256", "kid": iss.KeyID()}, validClaims(iss)),
		"the wrong audience":    signRS256(t, iss, with(validClaims(iss), "aud", "api://someone-else")),
		"garbage":               "not.a.token",
		"an empty token":        "",
		"an alg none token":     "eyJhbGciOiJub25lIn0." + valid[strings.IndexByte(valid, '.')+1:strings.LastIndexByte(valid, '.')] + ".",
		"a token without exp":   signRS256(t, iss, with(validClaims(iss), "exp", nil)),
		"a token of the past":   signRS256(t, iss, with(validClaims(iss), "exp", t0.Add(-time.Hour).Unix())),
		"a token of the future": signRS256(t, iss, with(validClaims(iss), "nbf", t0.Add(time.Hour).Unix())),
	}
	for name, raw := range hostile {
		t.Run(name+" is refused every time", func(t *testing.T) {
			before := inner.calls.Load()
			for range 3 {
				if p, err := c.Verify(ctx, raw); err == nil {
					t.Fatalf("accepted as %+v", *p)
				}
			}
			if n := inner.calls.Load() - before; n != 3 {
				t.Errorf("inner verifier judged it %d times of 3: a refusal was cached", n)
			}
		})
	}
	if n := c.held(); n != 1 {
		t.Errorf("%d tokens cached, want only the valid one", n)
	}
}

func boolIndex(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestCachedVerifierChecksLifetimeOnEveryUse(t *testing.T) {
	iss := openTestIssuer(t)
	clk := &clock{t: t0}
	inner := &countingVerifier{inner: newIssuerVerifier(iss, parseTemplate(iss.template), DefaultAudiences, nil, testLeeway, clk.now)}
	c := NewCachedVerifier(inner, CacheOptions{Now: clk.now})
	ctx := context.Background()
	raw := signRS256(t, iss, validClaims(iss)) // nbf t0, exp t0+1h

	if _, err := c.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	clk.advance(59 * time.Minute)
	if _, err := c.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("inner verifier called %d times within the lifetime, want 1", n)
	}
	// Past exp but within the leeway: the inner verifier decides, each
	// time, and still accepts.
	clk.advance(time.Minute + testLeeway/2)
	for range 2 {
		if _, err := c.Verify(ctx, raw); err != nil {
			t.Fatalf("within the leeway: %v", err)
		}
	}
	if n := inner.calls.Load(); n != 3 {
		t.Errorf("inner verifier called %d times, want 3: past exp the cache must not answer", n)
	}
	clk.advance(testLeeway)
	if _, err := c.Verify(ctx, raw); err == nil {
		t.Fatal("an expired token was accepted from the cache")
	} else {
		wantCode(t, err, errExpired)
	}

	// nbf: a token not valid yet is refused, and accepted once it is.
	clk.t = t0
	early := signRS256(t, iss, with(validClaims(iss), "nbf", t0.Add(10*time.Minute).Unix()))
	if _, err := c.Verify(ctx, early); err == nil {
		t.Fatal("a token before its nbf was accepted")
	}
	clk.advance(10 * time.Minute)
	if _, err := c.Verify(ctx, early); err != nil {
		t.Fatalf("at its nbf: %v", err)
	}
	// A clock set back before nbf (it happens with NTP steps) is checked
	// on the cached entry too.
	clk.t = t0
	if _, err := c.Verify(ctx, early); err == nil {
		t.Fatal("a cached token was accepted before its nbf")
	}
}

func TestCachedVerifierFollowsRetiredBuiltinKeys(t *testing.T) {
	dir := t.TempDir()
	// Every use looks at the keys folder, so that the test needs no wait.
	iss, err := OpenIssuer(dir, IssuerOptions{ReloadInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	inner := newTrackingCounter(iss.Verifier(nil, testLeeway))
	c := NewCachedVerifier(inner, CacheOptions{})
	ctx := context.Background()
	oldKID := iss.KeyID()
	oldToken, err := iss.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(ctx, oldToken); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(ctx, oldToken); err != nil {
		t.Fatal(err)
	}
	if n := inner.calls.Load(); n != 1 {
		t.Fatalf("inner verifier called %d times, want 1", n)
	}

	if _, err := RotateKey(dir); err != nil {
		t.Fatal(err)
	}
	newToken, err := iss.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verify(ctx, newToken); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	// The old key is still trusted until it is retired.
	if _, err := c.Verify(ctx, oldToken); err != nil {
		t.Fatalf("old key before retirement: %v", err)
	}
	if err := RetireKey(dir, oldKID); err != nil {
		t.Fatal(err)
	}
	if p, err := c.Verify(ctx, oldToken); err == nil {
		t.Fatalf("a token of the retired key was accepted from the cache as %+v", *p)
	}
	if _, err := c.Verify(ctx, newToken); err != nil {
		t.Fatalf("token of the remaining key after the retirement: %v", err)
	}
}

func TestCachedVerifierFollowsRetiredExternalKeys(t *testing.T) {
	idp := newFakeIdP(t, entraTemplate)
	first := idp.addKey(t, "entra-1")
	v := newTestVerifier(t, nil, false, IssuerConfig{
		Issuer: entraTemplate, JWKSURI: idp.srv.URL + "/keys", Audiences: []string{extdirAPI},
		RefreshInterval: Duration(time.Hour), MinRefreshInterval: Duration(time.Minute),
	})
	inner := newTrackingCounter(v.Verifier)
	c := NewCachedVerifier(inner, CacheOptions{Now: v.clock.now})
	ctx := context.Background()
	raw := signKid(t, first, "entra-1", with(entraClaims(), "exp", t0.Add(24*time.Hour).Unix()))
	if _, err := c.Verify(ctx, raw); err != nil {
		t.Fatal(err)
	}

	// The issuer retires the key. Within the refresh interval, the keys
	// held are still those fetched, with or without the cache.
	idp.removeKey("entra-1")
	idp.addKey(t, "entra-2")
	v.clock.advance(59 * time.Minute)
	if _, err := c.Verify(ctx, raw); err != nil {
		t.Fatalf("within the refresh interval: %v", err)
	}
	// Past it, a cache hit fetches the keys as a verification would, and
	// the retired key's token is refused.
	v.clock.advance(2 * time.Minute)
	if p, err := c.Verify(ctx, raw); err == nil {
		t.Fatalf("a token of a key the issuer retired was accepted from the cache as %+v", *p)
	}
	if n := idp.jwksHits.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
}

func TestCachedVerifierDoesNotCacheGraphTokens(t *testing.T) {
	idp := newFakeIdP(t, entraTemplate)
	idp.addKey(t, "entra-1")
	v := newTestVerifier(t, nil, true, IssuerConfig{Issuer: entraTemplate, JWKSURI: idp.srv.URL + "/keys", Audiences: []string{extdirAPI}})
	c := NewCachedVerifier(v.Verifier, CacheOptions{Now: v.clock.now})
	graphHeader := map[string]any{"alg": "RS256", "typ": "JWT", "kid": "entra-1", "nonce": "n0nce"}
	raw := sign(t, jwt.SigningMethodRS256, otherKey(), graphHeader, with(entraClaims(), "aud", DefaultAudiences[1]))
	for range 3 {
		if _, err := c.Verify(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(v.logs.String(), "WITHOUT verifying its signature"); n != 3 {
		t.Errorf("an unverified Graph token used 3 times was logged %d times, want 3", n)
	}
	if n := c.held(); n != 0 {
		t.Errorf("%d unverified tokens cached, want none", n)
	}
}

func TestCachedVerifierIsBounded(t *testing.T) {
	iss := openTestIssuer(t)
	inner := &countingVerifier{inner: iss.Verifier(nil, testLeeway)}
	const size = 3
	c := NewCachedVerifier(inner, CacheOptions{Size: size, Now: fixedClock(t0)})
	ctx := context.Background()
	var tokens []string
	for n := range 10 {
		raw := signRS256(t, iss, with(validClaims(iss), "jti", string(rune('a'+n))))
		tokens = append(tokens, raw)
		if _, err := c.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
		if got := c.held(); got > size {
			t.Fatalf("%d tokens cached, bound %d", got, size)
		}
	}
	// Evicted tokens are verified again, and still accepted.
	for _, raw := range tokens {
		if _, err := c.Verify(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCachedVerifierConcurrentUse(t *testing.T) {
	iss := openTestIssuer(t)
	inner := &countingVerifier{inner: iss.Verifier(nil, testLeeway)}
	c := NewCachedVerifier(inner, CacheOptions{Size: 4, Now: fixedClock(t0)})
	ctx := context.Background()
	var tokens []string
	for n := range 8 {
		tokens = append(tokens, signRS256(t, iss, with(validClaims(iss), "oid", strings.Repeat(string(rune('a'+n)), 8))))
	}
	bad := signRS256(t, iss, with(validClaims(iss), "aud", "api://someone-else"))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 200 {
				raw := tokens[(g+n)%len(tokens)]
				p, err := c.Verify(ctx, raw)
				if err != nil {
					t.Error(err)
					return
				}
				if want := strings.Repeat(string(rune('a'+(g+n)%len(tokens))), 8); p.ObjectID != want {
					t.Errorf("token of %s answered as %s", want, p.ObjectID)
					return
				}
				if _, err := c.Verify(ctx, bad); err == nil {
					t.Error("a token for the wrong audience was accepted")
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkCachedVerify(b *testing.B) {
	iss := openTestIssuer(b)
	raw, err := iss.Mint(Claims{
		Tenant: testTenant, ObjectID: testOID, AppID: testApp,
		Scopes:  []string{"PendingExternalUserProfile.ReadWrite.All", "ExternalUserProfile.ReadWrite.All"},
		RoleIDs: []string{RoleExtendedDirectoryUserAdministrator},
	})
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVerifier(VerifierOptions{Builtin: iss, Leeway: testLeeway, Now: fixedClock(t0)})
	if err != nil {
		b.Fatal(err)
	}
	c := NewCachedVerifier(v, CacheOptions{Now: fixedClock(t0)})
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Verify(ctx, raw); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
