// Command bare is the limit extdir is measured against: a bare net/http
// server that answers every request with one recorded response, the very
// bytes extdir sent for one entity, optionally after verifying the request's
// RS256 bearer token with golang-jwt as a minimal API would. Nothing else
// happens per request, so its rate is what this machine, Go's HTTP server
// and (with -jwks) one signature check allow at most.
//
//	go run ./bench/bare -response entity.json [-jwks keys.json] [-listen 127.0.0.1:0]
//
// The response file is JSON: {"status":200,"header":{"Name":["value"]},"body":"..."}
// (bench/load records it from a running extdir). It prints "listening ADDR"
// once it accepts connections. It listens on loopback only.
package main

import (
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// recorded is one HTTP response as bench/load writes it.
type recorded struct {
	Status int                 `json:"status"`
	Header map[string][]string `json:"header"`
	Body   string              `json:"body"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	responseFile := flag.String("response", "", "JSON file of the response to send (required)")
	jwksFile := flag.String("jwks", "", "JSON Web Key Set file: verify each request's RS256 bearer token against it (401 when it fails)")
	flag.Parse()
	if err := run(*listen, *responseFile, *jwksFile); err != nil {
		log.Fatal("bare: ", err)
	}
}

func run(listen, responseFile, jwksFile string) error {
	if responseFile == "" {
		return errors.New("-response is required")
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-listen %s: a load target listens on loopback only", listen)
	}
	data, err := os.ReadFile(responseFile)
	if err != nil {
		return err
	}
	var resp recorded
	if err := json.Unmarshal(data, &resp); err != nil {
		return fmt.Errorf("%s: %w", responseFile, err)
	}
	if resp.Status == 0 {
		resp.Status = http.StatusOK
	}
	var handler http.Handler = fixed(resp)
	if jwksFile != "" {
		keys, err := readJWKS(jwksFile)
		if err != nil {
			return err
		}
		handler = verifying(keys, handler)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}

// fixed answers every request with resp: the header values are set once
// here, shared by every request (net/http only reads them), and the body is
// one byte slice.
func fixed(resp recorded) http.Handler {
	body := []byte(resp.Body)
	header := http.Header{}
	for name, values := range resp.Header {
		switch http.CanonicalHeaderKey(name) {
		case "Date", "Content-Length":
			continue // net/http writes its own
		}
		header[name] = values
	}
	header["Content-Length"] = []string{strconv.Itoa(len(body))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for name, values := range header {
			h[name] = values
		}
		w.WriteHeader(resp.Status)
		_, _ = w.Write(body)
	})
}

// verifying checks the bearer token as a minimal RS256 API does with
// golang-jwt: signature, algorithm, exp and nbf; then serves next.
func verifying(keys map[string]*rsa.PublicKey, next http.Handler) http.Handler {
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired())
	keyFunc := func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, errors.New("unknown kid")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "no bearer token", http.StatusUnauthorized)
			return
		}
		if _, err := parser.Parse(raw, keyFunc); err != nil {
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readJWKS reads the RSA keys of a JSON Web Key Set by kid.
func readJWKS(path string) (map[string]*rsa.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var set struct {
		Keys []struct {
			Kty, Kid, N, E string
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err := base64.RawURLEncoding.DecodeString(k.N)
		if err != nil {
			return nil, fmt.Errorf("%s: key %s: %w", path, k.Kid, err)
		}
		e, err := base64.RawURLEncoding.DecodeString(k.E)
		if err != nil {
			return nil, fmt.Errorf("%s: key %s: %w", path, k.Kid, err)
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no RSA keys", path)
	}
	return keys, nil
}
