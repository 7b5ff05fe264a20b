package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Key layout. The issuer's directory holds a keys/ folder of PEM files named
// by a serial number: 1.pem, 2.pem, ... (zero-padded so that ls sorts them).
// The highest serial is the current signing key; every key in the folder is
// accepted for verification, so rotating is "add serial n+1", and retiring
// an old key is removing its file once the tokens it signed have expired.
//
// Serials rather than timestamps name the files because two processes that
// find an empty folder must pick the same name for the first key: then
// publishing it with an exclusive hard link lets exactly one of them win, and
// the other re-reads the folder and adopts the winner's key.
const (
	keysFolder  = "keys"
	keySuffix   = ".pem"
	serialWidth = 6
	// keyBits is the size of generated keys; loaded keys may be larger.
	keyBits = 2048
)

// signingKey is one RSA key of the folder, parsed once.
type signingKey struct {
	serial  int
	file    string // its name in the folder, which need not be zero-padded
	kid     string // RFC 7638 thumbprint of the public key
	private *rsa.PrivateKey
}

// keySet is an immutable snapshot of the folder.
type keySet struct {
	current *signingKey // highest serial: signs new tokens
	byKID   map[string]*rsa.PublicKey
	// only is the single key's public half when the set has exactly one key,
	// so that a token without kid can still be checked unambiguously.
	only *rsa.PublicKey
	jwks []byte
}

// newKeySet indexes keys, sorted by ascending serial.
func newKeySet(keys []*signingKey) (*keySet, error) {
	if len(keys) == 0 {
		return nil, errors.New("no signing keys")
	}
	s := &keySet{current: keys[len(keys)-1], byKID: make(map[string]*rsa.PublicKey, len(keys))}
	doc := jwkSet{Keys: make([]jwk, 0, len(keys))}
	// Newest first in the JWKS, like the order clients should try them.
	for _, k := range slices.Backward(keys) {
		if _, dup := s.byKID[k.kid]; dup {
			continue // the same key saved twice under two serials
		}
		s.byKID[k.kid] = &k.private.PublicKey
		doc.Keys = append(doc.Keys, publicJWK(k))
	}
	if len(s.byKID) == 1 {
		s.only = &s.current.private.PublicKey
	}
	var err error
	if s.jwks, err = json.Marshal(doc); err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	return s, nil
}

// jwkSet is a JSON Web Key Set (RFC 7517 §5).
type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// jwk is the public half of an RSA signing key (RFC 7517, RFC 7518 §6.3).
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func publicJWK(k *signingKey) jwk {
	n, e := rsaComponents(&k.private.PublicKey)
	return jwk{Kty: "RSA", Use: "sig", Kid: k.kid, Alg: "RS256", N: n, E: e}
}

// rsaComponents returns the modulus and exponent as unpadded base64url of
// their minimal big-endian bytes, as RFC 7518 §6.3.1 requires.
func rsaComponents(pub *rsa.PublicKey) (n, e string) {
	enc := base64.RawURLEncoding
	return enc.EncodeToString(pub.N.Bytes()), enc.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
}

// thumbprint is the RFC 7638 JWK thumbprint of an RSA public key: SHA-256
// over the required members in lexicographic order, without whitespace. It
// serves as kid so that a key's id follows from the key and never drifts.
func thumbprint(pub *rsa.PublicKey) string {
	n, e := rsaComponents(pub)
	// n and e are base64url, which needs no JSON escaping.
	sum := sha256.Sum256([]byte(`{"e":"` + e + `","kty":"RSA","n":"` + n + `"}`))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// loadKeys reads every key of the folder, sorted by ascending serial. Files
// whose names are not serials (such as a half-written temporary) are skipped.
func loadKeys(folder string) ([]*signingKey, error) {
	entries, err := os.ReadDir(folder)
	if err != nil {
		return nil, fmt.Errorf("read key folder: %w", err)
	}
	var keys []*signingKey
	for _, e := range entries {
		serial, ok := parseSerial(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(folder, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read key: %w", err)
		}
		priv, err := parsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", path, err)
		}
		keys = append(keys, &signingKey{serial: serial, file: e.Name(), kid: thumbprint(&priv.PublicKey), private: priv})
	}
	slices.SortFunc(keys, func(a, b *signingKey) int { return a.serial - b.serial })
	return keys, nil
}

// parseSerial reads a key file name such as "000001.pem".
func parseSerial(name string) (int, bool) {
	digits, ok := strings.CutSuffix(name, keySuffix)
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

func keyFileName(serial int) string {
	return fmt.Sprintf("%0*d%s", serialWidth, serial, keySuffix)
}

// parsePrivateKey accepts PKCS #8 ("PRIVATE KEY", what extdir writes) and
// PKCS #1 ("RSA PRIVATE KEY", what older openssl writes), so an operator can
// drop in a key made elsewhere.
func parsePrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var priv *rsa.PrivateKey
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS #8 key: %w", err)
		}
		var ok bool
		if priv, ok = k.(*rsa.PrivateKey); !ok {
			return nil, fmt.Errorf("%T is not an RSA key", k)
		}
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS #1 key: %w", err)
		}
		priv = k
	default:
		return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
	}
	if priv.N.BitLen() < keyBits {
		return nil, fmt.Errorf("RSA key of %d bits, want at least %d", priv.N.BitLen(), keyBits)
	}
	return priv, nil
}

// createKey generates a key and publishes it as the given serial. It writes
// and syncs a temporary file first, then hard-links it to the final name:
// the link is atomic and fails if the name exists, so a reader never sees a
// half-written key and two writers never both claim a serial. Losing that
// race is not an error: the caller re-reads the folder.
func createKey(folder string, serial int) error {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	// CreateTemp makes the file 0600 and the link shares its inode, so the
	// key is never readable by others, whatever the umask.
	tmp, err := os.CreateTemp(folder, "new-*.tmp")
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := pem.Encode(tmp, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		tmp.Close()
		return fmt.Errorf("write key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close key: %w", err)
	}
	if err := os.Link(tmp.Name(), filepath.Join(folder, keyFileName(serial))); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return fmt.Errorf("publish key: %w", err)
	}
	return syncDir(folder)
}

// syncDir makes a new directory entry durable, so that a key handed out in
// tokens is still there after a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open key folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync key folder: %w", err)
	}
	return nil
}
