package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestFixedReplaysTheResponse(t *testing.T) {
	resp := recorded{Status: 201, Header: map[string][]string{
		"Content-Type": {"application/json"}, "Etag": {`W/"1"`}, "Date": {"yesterday"}, "Content-Length": {"999"},
	}, Body: `{"id":"x"}`}
	for range 2 {
		w := httptest.NewRecorder()
		fixed(resp).ServeHTTP(w, httptest.NewRequest("GET", "/anything", nil))
		if w.Code != 201 || w.Body.String() != resp.Body {
			t.Fatalf("%d %q", w.Code, w.Body)
		}
		h := w.Result().Header
		if h.Get("Etag") != `W/"1"` || h.Get("Content-Type") != "application/json" || h.Get("Content-Length") != "10" || h.Get("Date") == "yesterday" {
			t.Errorf("headers %v", h)
		}
	}
}

func TestVerifying(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "k1", "n": enc.EncodeToString(key.N.Bytes()), "e": enc.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwks, 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := readJWKS(path)
	if err != nil {
		t.Fatal(err)
	}
	h := verifying(keys, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	mint := func(kid string, exp time.Time, k *rsa.PrivateKey) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"exp": exp.Unix()})
		tok.Header["kid"] = kid
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, auth string
		want       int
	}{
		{"a valid token passes", "Bearer " + mint("k1", time.Now().Add(time.Hour), key), 204},
		{"no token is 401", "", 401},
		{"an expired token is 401", "Bearer " + mint("k1", time.Now().Add(-time.Hour), key), 401},
		{"another key's signature is 401", "Bearer " + mint("k1", time.Now().Add(time.Hour), other), 401},
		{"an unknown kid is 401", "Bearer " + mint("k2", time.Now().Add(time.Hour), key), 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status %d, want %d", w.Code, tt.want)
			}
		})
	}
}

func TestRunRefusesNonLoopback(t *testing.T) {
	if err := run("0.0.0.0:0", "x.json", ""); err == nil {
		t.Fatal("listening on every interface was accepted")
	}
}
