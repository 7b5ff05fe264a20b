package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Passwords of test users are stored as argon2id hashes in the PHC string
// format that libsodium, argon2-cffi and others read and write:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// (base64 without padding). Unlike client secrets, which extdir generates
// from 256 random bits, passwords are chosen by people and can be guessed,
// so they need a slow hash. The parameters are OWASP's minimum for
// argon2id (19 MiB, two passes, one lane): about 20 ms a sign-in, cheap
// enough for a CI run, and the sign-in limiter caps how often anyone can
// make the server pay for it.
const (
	argonMemoryKiB = 19 * 1024
	argonPasses    = 2
	argonLanes     = 1
	argonSaltBytes = 16
	argonKeyBytes  = 32
)

// Bounds on a hash read from a file or the configuration: a hand-written
// m=4194304 would make every sign-in allocate 4 GiB.
const (
	maxArgonMemoryKiB = 256 * 1024
	maxArgonPasses    = 10
	maxArgonLanes     = 8
)

// MaxPasswordLength is the longest password accepted, as in Entra (256).
const MaxPasswordLength = 256

// HashPassword returns the PHC-encoded argon2id hash of password.
func HashPassword(password string) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltBytes)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonPasses, argonMemoryKiB, argonLanes, argonKeyBytes)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemoryKiB, argonPasses, argonLanes,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// NewPassword returns a generated password: 144 random bits, base64url.
func NewPassword() (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate password: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func checkPassword(password string) error {
	switch {
	case len(password) < 8:
		return errors.New("the password must be at least 8 characters long")
	case len(password) > MaxPasswordLength:
		return fmt.Errorf("the password must be at most %d characters long", MaxPasswordLength)
	}
	return nil
}

// phcHash is a decoded argon2id PHC string.
type phcHash struct {
	memory     uint32
	passes     uint32
	lanes      uint8
	salt, hash []byte
}

// parsePHC decodes an argon2id PHC string, refusing parameters outside the
// bounds above.
func parsePHC(s string) (*phcHash, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, errors.New("password_hash is not an argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$salt$hash)")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return nil, fmt.Errorf("password_hash: argon2 version %q is not v=%d", parts[2], argon2.Version)
	}
	h := &phcHash{}
	var lanes uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.passes, &lanes); err != nil || n != 3 {
		return nil, fmt.Errorf("password_hash: parameters %q are not of the form m=<KiB>,t=<passes>,p=<lanes>", parts[3])
	}
	if h.memory < 8*lanes || h.memory > maxArgonMemoryKiB || h.passes < 1 || h.passes > maxArgonPasses || lanes < 1 || lanes > maxArgonLanes {
		return nil, fmt.Errorf("password_hash: parameters %q are outside what extdir accepts (m ≤ %d, t ≤ %d, p ≤ %d)", parts[3], maxArgonMemoryKiB, maxArgonPasses, maxArgonLanes)
	}
	h.lanes = uint8(lanes)
	var err error
	if h.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errors.New("password_hash: the salt is not base64 of at least 8 bytes")
	}
	if h.hash, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(h.hash) < 16 || len(h.hash) > 64 {
		return nil, errors.New("password_hash: the hash is not base64 of 16 to 64 bytes")
	}
	return h, nil
}

// matches hashes password with h's parameters and compares in constant time.
func (h *phcHash) matches(password string) bool {
	got := argon2.IDKey([]byte(password), h.salt, h.passes, h.memory, h.lanes, uint32(len(h.hash)))
	return subtle.ConstantTimeCompare(got, h.hash) == 1
}

// decoyHash is compared against when a sign-in names no known user, so that
// the answer takes as long as for a wrong password and timing does not tell
// which user names exist.
var decoyHash = func() *phcHash {
	salt := make([]byte, argonSaltBytes)
	return &phcHash{memory: argonMemoryKiB, passes: argonPasses, lanes: argonLanes, salt: salt, hash: make([]byte, argonKeyBytes)}
}()
