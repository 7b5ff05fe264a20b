package main

import (
	"strings"
	"testing"

	"github.com/extdir/extdir/auth"
)

// A 403 keeps Graph's code and message and adds what would have been
// enough: the permission, or for a delegated call the scope or the role.
func TestForbiddenSaysWhatIsMissing(t *testing.T) {
	ts := startServer(t)
	tests := []struct {
		name  string
		token string
		want  []string
	}{
		{"an application without the role is told the application permission",
			ts.token("--roles", "ExternalUserProfile.Read.All"),
			[]string{"Insufficient privileges to complete the operation.", "application permission PendingExternalUserProfile.Read.All or PendingExternalUserProfile.ReadWrite.All"}},
		{"a delegated call without the scope is told the delegated permission",
			ts.token("--scp", "ExternalUserProfile.Read.All", "--wids", auth.RoleGlobalReader),
			[]string{"delegated permission PendingExternalUserProfile.Read.All or PendingExternalUserProfile.ReadWrite.All"}},
		{"a user without a role is told the roles that would do",
			ts.token("--scp", "PendingExternalUserProfile.Read.All"),
			[]string{"directory roles Extended Directory User Administrator, Teams Administrator, Global Administrator, Global Reader"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.req("GET", pendingPath, tc.token, nil)
			if r.status != 403 || r.errorCode(t) != "Authorization_RequestDenied" {
				t.Fatalf("%d %s", r.status, r.body)
			}
			msg := r.errorMessage(t)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
	// A write names the write permission and the writer roles only.
	r := ts.req("POST", pendingPath, ts.token("--scp", "PendingExternalUserProfile.ReadWrite.All", "--wids", auth.RoleGlobalReader),
		map[string]any{"displayName": "x", "phoneNumber": "+15550001111"})
	msg := string(r.body)
	if r.status != 403 || !strings.Contains(msg, "Extended Directory User Administrator, Teams Administrator, Global Administrator (the wids claim)") {
		t.Errorf("write refused: %d %s", r.status, msg)
	}
}
