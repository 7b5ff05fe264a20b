package auth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// KeyInfo describes one signing key of a data directory.
type KeyInfo struct {
	Serial  int
	KID     string
	Created time.Time // the key file's modification time
	Signing bool      // the newest key, which signs new tokens
}

// ListKeys returns the keys of the issuer in dir, oldest first.
func ListKeys(dir string) ([]KeyInfo, error) {
	folder := filepath.Join(dir, keysFolder)
	keys, err := loadKeys(folder)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	out := make([]KeyInfo, 0, len(keys))
	for n, k := range keys {
		info := KeyInfo{Serial: k.serial, KID: k.kid, Signing: n == len(keys)-1}
		if fi, err := os.Stat(filepath.Join(folder, k.file)); err == nil {
			info.Created = fi.ModTime()
		}
		out = append(out, info)
	}
	return out, nil
}

// RotateKey adds a new signing key to the issuer in dir (creating the
// issuer's first key too if it has none) and returns the new key's kid. The
// older keys stay and are still accepted until retired, so tokens already
// issued keep working; running servers sign with the new key within
// DefaultReloadInterval. Two rotations racing add one key, not two.
func RotateKey(dir string) (string, error) {
	iss, err := OpenIssuer(dir, IssuerOptions{})
	if err != nil {
		return "", fmt.Errorf("rotate key: %w", err)
	}
	folder := filepath.Join(dir, keysFolder)
	next := iss.keys.Load().current.serial + 1
	if err := createKey(folder, next); err != nil {
		return "", fmt.Errorf("rotate key: %w", err)
	}
	keys, err := loadKeys(folder)
	if err != nil {
		return "", fmt.Errorf("rotate key: %w", err)
	}
	return keys[len(keys)-1].kid, nil
}

// ErrNoKey is returned by RetireKey for a kid the issuer does not have.
var ErrNoKey = errors.New("no such key")

// ErrSigningKey is returned by RetireKey for the key that signs.
var ErrSigningKey = errors.New("the newest key signs new tokens: rotate first, then retire it once its tokens have expired")

// RetireKey removes the key with kid from the issuer in dir. Running servers
// stop accepting its tokens within DefaultReloadInterval. The signing key
// cannot be retired: rotate first, and retire the old key once the tokens
// it signed have expired (an hour by default).
func RetireKey(dir, kid string) error {
	folder := filepath.Join(dir, keysFolder)
	keys, err := loadKeys(folder)
	if err != nil {
		return fmt.Errorf("retire key: %w", err)
	}
	var files []string
	for _, k := range keys {
		if k.kid == kid {
			files = append(files, k.file)
		}
	}
	if len(files) == 0 {
		return fmt.Errorf("retire key %q: %w", kid, ErrNoKey)
	}
	if keys[len(keys)-1].kid == kid {
		return fmt.Errorf("retire key %q: %w", kid, ErrSigningKey)
	}
	// The same key may sit under two serials (copied by hand); all go, or
	// the key would still be accepted.
	for _, f := range files {
		if err := os.Remove(filepath.Join(folder, f)); err != nil {
			return fmt.Errorf("retire key: %w", err)
		}
	}
	return syncDir(folder)
}
