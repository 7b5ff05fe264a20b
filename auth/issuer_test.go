package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestOpenIssuerKeepsItsKey(t *testing.T) {
	dir := t.TempDir()
	first, err := OpenIssuer(dir, IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := OpenIssuer(dir, IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.KeyID() != second.KeyID() {
		t.Fatalf("second open has key %s, first %s", second.KeyID(), first.KeyID())
	}
	raw, err := first.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.Verifier(nil, 0).Verify(context.Background(), raw); err != nil {
		t.Fatalf("token of the first open refused by the second: %v", err)
	}
}

func TestOpenIssuerFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := OpenIssuer(dir, IssuerOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want os.FileMode
	}{
		{"data directory is 0700", dir, 0o700 | os.ModeDir},
		{"key folder is 0700", filepath.Join(dir, keysFolder), 0o700 | os.ModeDir},
		{"key file is 0600", filepath.Join(dir, keysFolder, "000001.pem"), 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, err := os.Stat(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != tt.want {
				t.Errorf("mode %v, want %v", fi.Mode(), tt.want)
			}
		})
	}
}

func TestOpenIssuerConcurrentFirstUse(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range n {
		wg.Go(func() {
			<-start
			iss, err := OpenIssuer(dir, IssuerOptions{})
			if err != nil {
				errs[g] = err
				return
			}
			kids[g] = iss.KeyID()
		})
	}
	close(start)
	wg.Wait()
	for g := range n {
		if errs[g] != nil {
			t.Fatalf("opener %d: %v", g, errs[g])
		}
		if kids[g] != kids[0] {
			t.Errorf("opener %d has key %s, opener 0 has %s", g, kids[g], kids[0])
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, keysFolder))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != "000001.pem" {
		t.Errorf("key folder holds %q, want exactly 000001.pem", names)
	}
}

func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	old, err := OpenIssuer(dir, IssuerOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	oldToken, err := old.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	if err := createKey(filepath.Join(dir, keysFolder), 2); err != nil {
		t.Fatal(err)
	}
	rotated, err := OpenIssuer(dir, IssuerOptions{Now: fixedClock(t0)})
	if err != nil {
		t.Fatal(err)
	}
	if rotated.KeyID() == old.KeyID() {
		t.Fatal("the newest key does not sign")
	}
	newToken, err := rotated.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	oldSet := old.keys.Load()
	noKid := sign(t, jwt.SigningMethodRS256, oldSet.current.private, map[string]any{"alg": "RS256"}, validClaims(old))

	v := rotated.Verifier(nil, 0)
	tests := []struct {
		name string
		raw  string
		ok   bool
	}{
		{"token of the retired-to-be key is still accepted", oldToken, true},
		{"token of the newest key is accepted", newToken, true},
		{"token without kid is 401 once there are two keys", noKid, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.raw)
			if (err == nil) != tt.ok {
				t.Errorf("err = %v, want ok %v", err, tt.ok)
			}
		})
	}

	var doc struct {
		Keys []struct{ Kid string }
	}
	b, err := rotated.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 || doc.Keys[0].Kid != rotated.KeyID() || doc.Keys[1].Kid != old.KeyID() {
		t.Errorf("JWKS keys %+v, want newest %s then %s", doc.Keys, rotated.KeyID(), old.KeyID())
	}
}

func TestOpenIssuerRefusesBadKeys(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallDER, err := x509.MarshalPKCS8PrivateKey(small)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		file []byte
	}{
		{"garbage key file is an error", []byte("not a key")},
		{"truncated key file is an error", []byte("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")},
		{"1024-bit key is an error", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: smallDER})},
		{"certificate instead of a key is an error", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeKeyFile(t, dir, "000001.pem", tt.file)
			if _, err := OpenIssuer(dir, IssuerOptions{}); err == nil {
				t.Fatal("opened")
			}
		})
	}
}

func TestOpenIssuerAcceptsPKCS1(t *testing.T) {
	dir := t.TempDir()
	writeKeyFile(t, dir, "000007.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(otherKey())}))
	writeKeyFile(t, dir, "notes.txt", []byte("ignored"))
	iss, err := OpenIssuer(dir, IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := iss.KeyID(), thumbprint(&otherKey().PublicKey); got != want {
		t.Errorf("kid %s, want %s", got, want)
	}
}

func writeKeyFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	folder := filepath.Join(dir, keysFolder)
	if err := os.MkdirAll(folder, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(folder, name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestThumbprintRFC7638(t *testing.T) {
	// The example of RFC 7638 §3.1.
	const n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	b, err := base64.RawURLEncoding.DecodeString(n)
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(b), E: 65537}
	if got, want := thumbprint(pub), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"; got != want {
		t.Errorf("thumbprint %s, want %s", got, want)
	}
}

func TestJWKSVerifiesMintedTokens(t *testing.T) {
	iss := openTestIssuer(t)
	b, err := iss.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("%d keys, want 1", len(doc.Keys))
	}
	k := doc.Keys[0]
	for member, want := range map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": iss.KeyID(), "e": "AQAB"} {
		if k[member] != want {
			t.Errorf("%s = %q, want %q", member, k[member], want)
		}
	}
	nb, err := base64.RawURLEncoding.DecodeString(k["n"])
	if err != nil {
		t.Fatal(err)
	}
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: 65537}
	if thumbprint(pub) != k["kid"] {
		t.Error("kid is not the thumbprint of the published key")
	}

	// What a relying party does with the JWKS: check a minted token with it.
	raw, err := iss.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = jwt.Parse(raw, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(fixedClock(t0)))
	if err != nil {
		t.Fatalf("minted token does not verify with the JWKS key: %v", err)
	}

	// The document is the caller's to change.
	b[0] = 'x'
	if again, _ := iss.JWKS(); again[0] != '{' {
		t.Error("JWKS shares its buffer with callers")
	}
}

func TestMintedToken(t *testing.T) {
	iss := openTestIssuer(t)
	raw, err := iss.Mint(Claims{
		Tenant: testTenant, ObjectID: testOID, AppID: testApp,
		Scopes: []string{"ExternalUserProfile.Read.All", "User.Read"},
	})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	var header, claims map[string]any
	decodeSegment(t, parts[0], &header)
	decodeSegment(t, parts[1], &claims)

	wantHeader := map[string]any{"alg": "RS256", "typ": "JWT", "kid": iss.KeyID()}
	for k, want := range wantHeader {
		if header[k] != want {
			t.Errorf("header %s = %v, want %v", k, header[k], want)
		}
	}
	wantClaims := map[string]any{
		"iss":   "https://extdir.local/" + testTenant + "/v2.0",
		"aud":   "https://graph.microsoft.com", // a string, as Entra writes it
		"exp":   float64(t0.Add(defaultTTL).Unix()),
		"nbf":   float64(t0.Unix()),
		"iat":   float64(t0.Unix()),
		"tid":   testTenant,
		"oid":   testOID,
		"sub":   testOID,
		"azp":   testApp,
		"appid": testApp,
		"scp":   "ExternalUserProfile.Read.All User.Read",
		"ver":   "2.0",
	}
	for k, want := range wantClaims {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	for _, absent := range []string{"roles", "wids"} {
		if _, ok := claims[absent]; ok {
			t.Errorf("empty claim %s is present", absent)
		}
	}
	if uti, _ := claims["uti"].(string); len(uti) < 22 {
		t.Errorf("uti %q is not a random id", uti)
	}
	other, err := iss.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	var otherClaims map[string]any
	decodeSegment(t, strings.Split(other, ".")[1], &otherClaims)
	if otherClaims["uti"] == claims["uti"] || otherClaims["jti"] == claims["jti"] {
		t.Error("two tokens share a uti or jti")
	}
}

func decodeSegment(t *testing.T, seg string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func TestMintRefuses(t *testing.T) {
	iss := openTestIssuer(t)
	tests := []struct {
		name   string
		claims Claims
	}{
		{"missing tenant is an error", Claims{ObjectID: testOID}},
		{"missing object id is an error", Claims{Tenant: testTenant}},
		{"negative lifetime is an error", Claims{Tenant: testTenant, ObjectID: testOID, TTL: -1}},
		{"scope with a space is an error", Claims{Tenant: testTenant, ObjectID: testOID, Scopes: []string{"A.Read.All B.ReadWrite.All"}}},
		{"empty scope is an error", Claims{Tenant: testTenant, ObjectID: testOID, Scopes: []string{""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raw, err := iss.Mint(tt.claims); err == nil {
				t.Fatalf("minted %s", raw)
			}
		})
	}
}
