package auth

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// waitFor polls cond until it holds or a few seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 5s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunningIssuerFollowsRotateAndRetire(t *testing.T) {
	dir := t.TempDir()
	running, err := OpenIssuer(dir, IssuerOptions{ReloadInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// lazy never looks on its own within the test: only an unknown kid
	// makes it look.
	lazy, err := OpenIssuer(dir, IssuerOptions{ReloadInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	v := running.Verifier(nil, 0)
	ctx := context.Background()
	oldKID := running.KeyID()
	oldToken, err := running.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}

	newKID, err := RotateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	if newKID == oldKID {
		t.Fatal("rotate returned the old kid")
	}
	// Another process (extdir token) signs with the new key at once; a
	// running issuer accepts it without waiting for its periodic look.
	other, err := OpenIssuer(dir, IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if other.KeyID() != newKID {
		t.Fatalf("a fresh open signs with %s, want the new %s", other.KeyID(), newKID)
	}
	newToken, err := other.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lazy.Verifier(nil, 0).Verify(ctx, newToken); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if lazy.KeyID() != newKID {
		t.Errorf("after the look, the lazy issuer signs with %s, want %s", lazy.KeyID(), newKID)
	}
	waitFor(t, "the running issuer signs with the new key", func() bool { return running.KeyID() == newKID })
	if _, err := v.Verify(ctx, oldToken); err != nil {
		t.Fatalf("token of the old key before it is retired: %v", err)
	}

	if err := RetireKey(dir, newKID); !errors.Is(err, ErrSigningKey) {
		t.Errorf("retiring the signing key: %v, want ErrSigningKey", err)
	}
	if err := RetireKey(dir, "no-such-kid"); !errors.Is(err, ErrNoKey) {
		t.Errorf("retiring an unknown kid: %v, want ErrNoKey", err)
	}
	if err := RetireKey(dir, oldKID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the running issuer refuses the retired key", func() bool {
		_, err := v.Verify(ctx, oldToken)
		return err != nil
	})
	if _, err := v.Verify(ctx, newToken); err != nil {
		t.Errorf("token of the new key after the retirement: %v", err)
	}
	keys, err := ListKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].KID != newKID || !keys[0].Signing || keys[0].Serial != 2 || keys[0].Created.IsZero() {
		t.Errorf("keys after rotate and retire: %+v", keys)
	}
}

func TestReloadKeepsKeysOnFailure(t *testing.T) {
	dir := t.TempDir()
	running, err := OpenIssuer(dir, IssuerOptions{ReloadInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	kid := running.KeyID()
	writeKeyFile(t, dir, "000002.pem", []byte("not a key"))
	// Force looks until one has certainly seen the broken folder.
	time.Sleep(50 * time.Millisecond)
	for range 5 {
		running.reloadIfChanged()
	}
	if running.KeyID() != kid {
		t.Fatalf("signing key changed to %s after a failed reload", running.KeyID())
	}
	if err := os.Remove(filepath.Join(dir, keysFolder, "000002.pem")); err != nil {
		t.Fatal(err)
	}
	raw, err := running.Mint(Claims{Tenant: testTenant, ObjectID: testOID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := running.Verifier(nil, 0).Verify(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
}

func TestRotateRetireUnpaddedNames(t *testing.T) {
	dir := t.TempDir()
	// A key dropped in by hand under a short name is still retired by kid.
	writeKeyFile(t, dir, "1.pem", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(otherKey())}))
	newKID, err := RotateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	oldKID := thumbprint(&otherKey().PublicKey)
	if err := RetireKey(dir, oldKID); err != nil {
		t.Fatal(err)
	}
	keys, err := ListKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].KID != newKID {
		t.Errorf("keys %+v, want only %s", keys, newKID)
	}
}
