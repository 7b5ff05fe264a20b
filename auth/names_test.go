package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestRecordedNamesNewestFirstAndBounded(t *testing.T) {
	dir := t.TempDir()
	if _, ok, err := CurrentIssuerName(dir); ok || err != nil {
		t.Fatalf("fresh dir: ok=%v err=%v, want no name", ok, err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	name := func(i int) string { return fmt.Sprintf("http://127.0.0.1:%d/{tenantid}/v2.0", 10000+i) }
	for i := range maxRecordedNames + 5 {
		if err := RecordIssuerName(dir, name(i), start.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	cur, ok, err := CurrentIssuerName(dir)
	if err != nil || !ok || cur != name(maxRecordedNames+4) {
		t.Fatalf("current = %q, %v, %v; want the newest", cur, ok, err)
	}
	names, err := readNames(dir)
	if err != nil || len(names) != maxRecordedNames {
		t.Fatalf("kept %d names (%v), want %d", len(names), err, maxRecordedNames)
	}
	// Recording a name again moves it to the front without a duplicate.
	if err := RecordIssuerName(dir, name(10), start.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if cur, _, _ := CurrentIssuerName(dir); cur != name(10) {
		t.Fatalf("current = %q after re-recording %q", cur, name(10))
	}
	if err := RecordIssuerName(dir, "{tenantid}", start); err == nil {
		t.Fatal("a template that is only the placeholder was recorded")
	}
}

func TestBuiltinVerifierAcceptsEveryRecordedName(t *testing.T) {
	dir := t.TempDir()
	if err := RecordIssuerName(dir, "http://127.0.0.1:1111/{tenantid}/v2.0", time.Now()); err != nil {
		t.Fatal(err)
	}
	iss, err := OpenIssuer(dir, IssuerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v := iss.Verifier(nil, 0)
	mint := func(template string) string {
		t.Helper()
		other, err := OpenIssuer(dir, IssuerOptions{Template: template})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := other.Mint(Claims{Tenant: testTenant, ObjectID: testOID, Roles: []string{"PendingExternalUserProfile.Read.All"}})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct {
		name, template string
		ok             bool
	}{
		{"its own name is accepted", "http://127.0.0.1:1111/{tenantid}/v2.0", true},
		{"the legacy name is accepted", LegacyIssuerTemplate, true},
		{"a name never recorded is refused", "http://127.0.0.1:2222/{tenantid}/v2.0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), mint(tc.template))
			if (err == nil) != tc.ok {
				t.Fatalf("verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	// A node that starts later records its name; this one learns it.
	if err := RecordIssuerName(dir, "http://127.0.0.1:2222/{tenantid}/v2.0", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), mint("http://127.0.0.1:2222/{tenantid}/v2.0")); err != nil {
		t.Fatalf("a name recorded after start: %v", err)
	}
}
