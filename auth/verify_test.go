package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/extdir/extdir"
)

// t0 is the fixed clock of these tests.
var t0 = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

const (
	testTenant = "11111111-1111-1111-1111-111111111111"
	testOID    = "22222222-2222-2222-2222-222222222222"
	testApp    = "33333333-3333-3333-3333-333333333333"
	testLeeway = 30 * time.Second
)

func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// openTestIssuer opens an issuer on a fresh directory with the fixed clock.
func openTestIssuer(t testing.TB) *Issuer {
	t.Helper()
	iss, err := OpenIssuer(t.TempDir(), IssuerOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

// otherKey is a second RSA key, generated once because generation is slow.
var otherKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// validClaims is a payload Verify accepts; hostile cases change one thing.
func validClaims(iss *Issuer) map[string]any {
	return map[string]any{
		"iss":   iss.IssuerFor(testTenant),
		"aud":   DefaultAudiences[0],
		"exp":   t0.Add(time.Hour).Unix(),
		"nbf":   t0.Unix(),
		"iat":   t0.Unix(),
		"tid":   testTenant,
		"oid":   testOID,
		"sub":   testOID,
		"azp":   testApp,
		"roles": []string{"PendingExternalUserProfile.Read.All"},
		"ver":   "2.0",
	}
}

func with(m map[string]any, key string, value any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	if value == nil {
		delete(c, key)
	} else {
		c[key] = value
	}
	return c
}

// sign encodes header and claims and signs them with method and key, so a
// test can build any token, well-formed or not.
func sign(t testing.TB, method jwt.SigningMethod, key any, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	signed := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sig, err := method.Sign(signed, key)
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + enc.EncodeToString(sig)
}

// signRS256 signs claims with the issuer's current key under its kid.
func signRS256(t testing.TB, iss *Issuer, claims map[string]any) string {
	t.Helper()
	k := iss.keys.Load().current
	return sign(t, jwt.SigningMethodRS256, k.private, map[string]any{"alg": "RS256", "typ": "JWT", "kid": k.kid}, claims)
}

func TestVerifyRoundTrip(t *testing.T) {
	iss := openTestIssuer(t)
	v := iss.Verifier(nil, testLeeway)
	tests := []struct {
		name   string
		claims Claims
		want   Principal
	}{
		{
			name:   "app-only token gives roles and no scopes",
			claims: Claims{Tenant: testTenant, ObjectID: testOID, AppID: testApp, Roles: []string{"PendingExternalUserProfile.ReadWrite.All", "ExternalUserProfile.Read.All"}},
			want:   Principal{Tenant: testTenant, ObjectID: testOID, AppID: testApp, Roles: []string{"PendingExternalUserProfile.ReadWrite.All", "ExternalUserProfile.Read.All"}},
		},
		{
			name:   "delegated token gives scopes and wids",
			claims: Claims{Tenant: testTenant, ObjectID: testOID, AppID: testApp, Scopes: []string{"ExternalUserProfile.Read.All", "User.Read"}, RoleIDs: []string{RoleGlobalReader}},
			want:   Principal{Tenant: testTenant, ObjectID: testOID, AppID: testApp, Scopes: []string{"ExternalUserProfile.Read.All", "User.Read"}, RoleIDs: []string{RoleGlobalReader}},
		},
		{
			name:   "token for Graph's application id audience is accepted",
			claims: Claims{Tenant: testTenant, ObjectID: testOID, Audience: DefaultAudiences[1]},
			want:   Principal{Tenant: testTenant, ObjectID: testOID},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := iss.Mint(tt.claims)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !equalPrincipal(*got, tt.want) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func equalPrincipal(a, b Principal) bool {
	return a.Tenant == b.Tenant && a.ObjectID == b.ObjectID && a.AppID == b.AppID &&
		slices.Equal(a.Roles, b.Roles) && slices.Equal(a.Scopes, b.Scopes) && slices.Equal(a.RoleIDs, b.RoleIDs)
}

func TestVerifyAccepts(t *testing.T) {
	iss := openTestIssuer(t)
	v := iss.Verifier(nil, testLeeway)
	valid := validClaims(iss)
	kid := iss.KeyID()
	key := iss.keys.Load().current.private
	tests := []struct {
		name string
		raw  string
	}{
		{"valid token is accepted", signRS256(t, iss, valid)},
		{"aud as an array is accepted", signRS256(t, iss, with(valid, "aud", []string{"api://other", DefaultAudiences[1]}))},
		{"expiry within the leeway is accepted", signRS256(t, iss, with(valid, "exp", t0.Add(-testLeeway+time.Second).Unix()))},
		{"nbf in the future within the leeway is accepted", signRS256(t, iss, with(valid, "nbf", t0.Add(testLeeway-time.Second).Unix()))},
		{"no nbf is accepted", signRS256(t, iss, with(valid, "nbf", nil))},
		{"no kid with a single key is accepted", sign(t, jwt.SigningMethodRS256, key, map[string]any{"alg": "RS256"}, valid)},
		{"v1 appid claim is accepted", signRS256(t, iss, with(with(valid, "azp", nil), "appid", testApp))},
		{"explicit kid is accepted", sign(t, jwt.SigningMethodRS256, key, map[string]any{"alg": "RS256", "kid": kid}, valid)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.raw)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Tenant != testTenant || p.ObjectID != testOID || p.AppID != testApp {
				t.Errorf("got %+v", *p)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	iss := openTestIssuer(t)
	v := iss.Verifier(nil, testLeeway)
	valid := validClaims(iss)
	current := iss.keys.Load().current
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": current.kid}
	good := signRS256(t, iss, valid)
	parts := strings.Split(good, ".")

	pkix, err := x509.MarshalPKIXPublicKey(&current.private.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	publicPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pkcs1PEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&current.private.PublicKey)})

	// The payload of a valid token with a permission added; the signature
	// is the original's.
	tampered := func() string {
		elevated := with(valid, "roles", []string{"PendingExternalUserProfile.ReadWrite.All"})
		b, err := json.Marshal(elevated)
		if err != nil {
			t.Fatal(err)
		}
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}()
	flipped := func() string {
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)/2] ^= 1
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
	}()
	// A genuinely signed token that is too large: only the size rule can
	// refuse it.
	oversized := signRS256(t, iss, with(valid, "padding", strings.Repeat("x", MaxTokenSize)))

	tests := []struct {
		name string
		raw  string
		want *extdir.Error
	}{
		{"empty token is 401", "", errEmpty},
		{"abc is 401", "abc", errMalformed},
		{"a.b.c is 401", "a.b.c", errMalformed},
		{"two segments is 401", parts[0] + "." + parts[1], errMalformed},
		{"four segments is 401", good + ".x", errMalformed},
		{"dots only is 401", "..", errMalformed},
		{"Bearer prefix left in is 401", "Bearer " + good, errMalformed},
		{"padded base64 is 401", parts[0] + "." + parts[1] + "=." + parts[2], errMalformed},
		{"roles as a string is 401", signRS256(t, iss, with(valid, "roles", "PendingExternalUserProfile.ReadWrite.All")), errMalformed},
		{"exp as a string is 401", signRS256(t, iss, with(valid, "exp", "tomorrow")), errMalformed},
		{"oversized token is 401", oversized, errTooLarge},
		{"alg none is 401", func() string {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims(valid))
			tok.Header["kid"] = current.kid
			s, err := tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}(), errSignature},
		{"alg none with a signature is 401", sign(t, jwt.SigningMethodHS256, []byte("k"), map[string]any{"alg": "none", "kid": current.kid}, valid), errSignature},
		{"HS256 with the public key PEM as secret is 401", sign(t, jwt.SigningMethodHS256, publicPEM, map[string]any{"alg": "HS256", "kid": current.kid}, valid), errSignature},
		{"HS256 with the PKCS #1 public key PEM as secret is 401", sign(t, jwt.SigningMethodHS256, pkcs1PEM, map[string]any{"alg": "HS256", "kid": current.kid}, valid), errSignature},
		{"HS256 without kid is 401", sign(t, jwt.SigningMethodHS256, publicPEM, map[string]any{"alg": "HS256"}, valid), errSignature},
		{"PS256 with the issuer's own key is 401", sign(t, jwt.SigningMethodPS256, current.private, map[string]any{"alg": "PS256", "kid": current.kid}, valid), errSignature},
		{"RS512 with the issuer's own key is 401", sign(t, jwt.SigningMethodRS512, current.private, map[string]any{"alg": "RS512", "kid": current.kid}, valid), errSignature},
		{"unknown alg is 401", sign(t, jwt.SigningMethodRS256, current.private, map[string]any{"alg": "XS256", "kid": current.kid}, valid), errSignature},
		{"RS256 from another key with the same kid is 401", sign(t, jwt.SigningMethodRS256, otherKey(), header, valid), errSignature},
		{"RS256 from another key without kid is 401", sign(t, jwt.SigningMethodRS256, otherKey(), map[string]any{"alg": "RS256"}, valid), errSignature},
		{"unknown kid is 401", sign(t, jwt.SigningMethodRS256, current.private, map[string]any{"alg": "RS256", "kid": "nope"}, valid), errSignature},
		{"empty kid is 401", sign(t, jwt.SigningMethodRS256, current.private, map[string]any{"alg": "RS256", "kid": ""}, valid), errSignature},
		{"numeric kid is 401", sign(t, jwt.SigningMethodRS256, current.private, map[string]any{"alg": "RS256", "kid": 1}, valid), errSignature},
		{"crit header is 401", sign(t, jwt.SigningMethodRS256, current.private, map[string]any{"alg": "RS256", "kid": current.kid, "crit": []string{"exp"}}, valid), errSignature},
		{"tampered payload is 401", tampered, errSignature},
		{"tampered signature is 401", flipped, errSignature},
		{"missing signature is 401", parts[0] + "." + parts[1] + ".", errSignature},
		{"expired is 401", signRS256(t, iss, with(valid, "exp", t0.Add(-time.Hour).Unix())), errExpired},
		{"expired just beyond the leeway is 401", signRS256(t, iss, with(valid, "exp", t0.Add(-testLeeway).Unix())), errExpired},
		{"missing exp is 401", signRS256(t, iss, with(valid, "exp", nil)), errNoExpiry},
		{"nbf beyond the leeway is 401", signRS256(t, iss, with(valid, "nbf", t0.Add(testLeeway+time.Second).Unix())), errNotYetValid},
		{"wrong aud is 401", signRS256(t, iss, with(valid, "aud", "api://other")), errAudience},
		{"wrong aud array is 401", signRS256(t, iss, with(valid, "aud", []string{"api://other", "https://graph.microsoft.com/x"})), errAudience},
		{"missing aud is 401", signRS256(t, iss, with(valid, "aud", nil)), errAudience},
		{"empty aud is 401", signRS256(t, iss, with(valid, "aud", "")), errAudience},
		{"wrong iss is 401", signRS256(t, iss, with(valid, "iss", "https://login.microsoftonline.com/"+testTenant+"/v2.0")), errIssuer},
		{"iss of another tenant is 401", signRS256(t, iss, with(valid, "iss", iss.IssuerFor("99999999-9999-9999-9999-999999999999"))), errIssuer},
		{"missing iss is 401", signRS256(t, iss, with(valid, "iss", nil)), errIssuer},
		{"missing tid is 401", signRS256(t, iss, with(valid, "tid", nil)), errNoTenant},
		{"empty tid is 401", signRS256(t, iss, with(valid, "tid", "")), errNoTenant},
		{"missing oid is 401", signRS256(t, iss, with(valid, "oid", nil)), errNoObjectID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Verify(context.Background(), tt.raw)
			if err == nil {
				t.Fatalf("accepted as %+v", *p)
			}
			if p != nil {
				t.Errorf("principal %+v returned with an error", *p)
			}
			var e *extdir.Error
			if !errors.As(err, &e) || e.Code != extdir.EUnauthenticated {
				t.Fatalf("error %v, want code %s", err, extdir.EUnauthenticated)
			}
			if e.Message != tt.want.Message {
				t.Errorf("message %q, want %q", e.Message, tt.want.Message)
			}
		})
	}
}

func TestVerifyScopeClaim(t *testing.T) {
	iss := openTestIssuer(t)
	v := iss.Verifier(nil, testLeeway)
	valid := validClaims(iss)
	tests := []struct {
		name       string
		scp        any
		wantScopes []string
	}{
		{"scp is split on spaces", " ExternalUserProfile.Read.All  User.Read ", []string{"ExternalUserProfile.Read.All", "User.Read"}},
		{"blank scp leaves no scopes and drops roles", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := signRS256(t, iss, with(with(valid, "scp", tt.scp), "roles", []string{"ExternalUserProfile.Read.All"}))
			p, err := v.Verify(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Scopes, tt.wantScopes) {
				t.Errorf("scopes %q, want %q", p.Scopes, tt.wantScopes)
			}
			// A user's token never passes as an app-only one.
			if p.Roles != nil || p.Allowed("ExternalUserProfile.Read.All") {
				t.Errorf("delegated token kept roles %q", p.Roles)
			}
		})
	}
}

func TestVerifierAudiences(t *testing.T) {
	iss := openTestIssuer(t)
	valid := validClaims(iss)
	tests := []struct {
		name      string
		audiences []string
		aud       string
		ok        bool
	}{
		{"configured audience is accepted", []string{"api://extdir"}, "api://extdir", true},
		{"Graph audience is 401 when not configured", []string{"api://extdir"}, DefaultAudiences[0], false},
		{"empty list means the defaults", []string{}, DefaultAudiences[0], true},
		{"empty list still refuses other audiences", []string{}, "api://extdir", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := iss.Verifier(tt.audiences, 0).Verify(context.Background(), signRS256(t, iss, with(valid, "aud", tt.aud)))
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok %v", err, tt.ok)
			}
		})
	}
}

func TestVerifyClockSkew(t *testing.T) {
	dir := t.TempDir()
	verifying, err := OpenIssuer(dir, IssuerOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	v := verifying.Verifier(nil, testLeeway)
	tests := []struct {
		name    string
		mintAt  time.Time
		wantErr *extdir.Error
	}{
		{"token minted by a clock 20s ahead is accepted", t0.Add(20 * time.Second), nil},
		{"token minted by a clock 2m ahead is 401", t0.Add(2 * time.Minute), errNotYetValid},
		{"token minted 59m30s ago is accepted", t0.Add(-59*time.Minute - 30*time.Second), nil},
		{"token minted 61m ago is 401", t0.Add(-61 * time.Minute), errExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A second issuer on the same directory: same key, other clock.
			minting, err := OpenIssuer(dir, IssuerOptions{Now: fixedClock(tt.mintAt)})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := minting.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), raw)
			if tt.wantErr == nil && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if tt.wantErr != nil && err != tt.wantErr {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyIssuerTemplate(t *testing.T) {
	dir := t.TempDir()
	custom, err := OpenIssuer(dir, IssuerOptions{Template: "https://login.example.com/{tenantid}/v2.0", Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	standard, err := OpenIssuer(dir, IssuerOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := custom.IssuerFor("abc"), "https://login.example.com/abc/v2.0"; got != want {
		t.Errorf("IssuerFor = %q, want %q", got, want)
	}
	raw, err := custom.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := custom.Verifier(nil, 0).Verify(context.Background(), raw); err != nil {
		t.Errorf("own issuer: %v", err)
	}
	// Same key, other iss: the issuer check alone must refuse it.
	if _, err := standard.Verifier(nil, 0).Verify(context.Background(), raw); err != errIssuer {
		t.Errorf("other template: err = %v, want %v", err, errIssuer)
	}
}

func BenchmarkVerify(b *testing.B) {
	iss := openTestIssuer(b)
	raw, err := iss.Mint(Claims{
		Tenant: testTenant, ObjectID: testOID, AppID: testApp,
		Scopes:  []string{"PendingExternalUserProfile.ReadWrite.All", "ExternalUserProfile.ReadWrite.All"},
		RoleIDs: []string{RoleExtendedDirectoryUserAdministrator},
	})
	if err != nil {
		b.Fatal(err)
	}
	v := iss.Verifier(nil, testLeeway)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(ctx, raw); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
