package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Authorization codes and refresh tokens are self-contained: AES-256-GCM
// sealed JSON that names the client, user, scopes and expiry, so that any
// node of a deployment sharing the data directory can redeem what another
// issued, with no shared table. The key comes from <data-dir>/signin.key,
// created on first use like the signing keys. What cannot be sealed is
// single use: the set of codes redeemed and refresh tokens rotated is kept
// in memory by each node (usedSet), see the README's limitations.

const signInKeyFile = "signin.key"

// sealer seals and opens the issuer's opaque grants and signs its form
// tokens. Each use has its own derived key, and the sealed purpose is bound
// as associated data, so that a refresh token never opens as a code.
type sealer struct {
	aead cipher.AEAD
	mac  []byte
}

// openSealer reads the secret of dataDir, creating it (32 random bytes,
// 0600) on first use; processes that race to create it end up with the
// one that was published first.
func openSealer(dataDir string) (*sealer, error) {
	secret, err := readOrCreateSecret(dataDir)
	if err != nil {
		return nil, fmt.Errorf("sign-in key: %w", err)
	}
	sealKey, err := hkdf.Key(sha256.New, secret, nil, "extdir sign-in seal v1", 32)
	if err != nil {
		return nil, fmt.Errorf("sign-in key: %w", err)
	}
	macKey, err := hkdf.Key(sha256.New, secret, nil, "extdir sign-in form mac v1", 32)
	if err != nil {
		return nil, fmt.Errorf("sign-in key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("sign-in key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sign-in key: %w", err)
	}
	return &sealer{aead: aead, mac: macKey}, nil
}

func readOrCreateSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, signInKeyFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		var fresh [32]byte
		if _, err := rand.Read(fresh[:]); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		werr := writeNewFile(dataDir, signInKeyFile, []byte(hex.EncodeToString(fresh[:])+"\n"))
		if werr != nil && !errors.Is(werr, fs.ErrExist) {
			return nil, werr
		}
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, err
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(secret) < 32 {
		return nil, fmt.Errorf("%s does not hold 32 hex-encoded bytes", path)
	}
	return secret, nil
}

// Purposes of sealed values.
const (
	purposeCode    = "code"
	purposeRefresh = "refresh"
)

// seal returns v as an opaque base64url string.
func (s *sealer) seal(purpose string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(purpose))), nil
}

// errNotSealed is any token that did not open: forged, damaged, sealed for
// another purpose or by another deployment.
var errNotSealed = errors.New("not a value this issuer sealed")

// maxSealedLength bounds what open decodes.
const maxSealedLength = 8 << 10

// open decodes a value seal made for purpose into v.
func (s *sealer) open(purpose, token string, v any) error {
	if len(token) > maxSealedLength {
		return errNotSealed
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return errNotSealed
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(purpose))
	if err != nil {
		return errNotSealed
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return errNotSealed
	}
	return nil
}

// formMAC is the HMAC of parts (length-prefixed, so that no two lists of
// parts share a MAC), base64url.
func (s *sealer) formMAC(parts ...string) string {
	m := hmac.New(sha256.New, s.mac)
	for _, p := range parts {
		fmt.Fprintf(m, "%d:%s;", len(p), p)
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// usedSet remembers ids until their expiry: the codes redeemed, the refresh
// tokens rotated, the token families revoked. An id past its expiry needs no
// remembering, since what it names is refused as expired anyway.
type usedSet struct {
	mu        sync.Mutex
	until     map[string]time.Time
	nextSweep time.Time
}

func newUsedSet() *usedSet { return &usedSet{until: map[string]time.Time{}} }

// add records id until expiry and reports whether it was new.
func (u *usedSet) add(id string, expiry, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if now.After(u.nextSweep) {
		for k, t := range u.until {
			if now.After(t) {
				delete(u.until, k)
			}
		}
		u.nextSweep = now.Add(time.Minute)
	}
	if t, ok := u.until[id]; ok && !now.After(t) {
		return false
	}
	u.until[id] = expiry
	return true
}

// has reports whether id is recorded and not past its expiry.
func (u *usedSet) has(id string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.until[id]
	return ok && !now.After(t)
}

// newID returns 128 random bits, base64url: the jti of codes and tokens.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
