package auth

import (
	"strings"
	"testing"

	"github.com/extdir/extdir"
)

func TestAllowed(t *testing.T) {
	pendingRead := extdir.KindPending.ReadPermission()
	pendingWrite := extdir.KindPending.WritePermission()
	externalRead := extdir.KindExternal.ReadPermission()
	externalWrite := extdir.KindExternal.WritePermission()

	app := func(roles ...string) Principal { return Principal{Tenant: testTenant, ObjectID: testOID, Roles: roles} }
	user := func(scopes []string, wids ...string) Principal {
		return Principal{Tenant: testTenant, ObjectID: testOID, Scopes: scopes, RoleIDs: wids}
	}

	tests := []struct {
		name string
		p    Principal
		perm string
		want bool
	}{
		// App-only: roles decide alone.
		{"app with Read may read", app(pendingRead), pendingRead, true},
		{"app with Read may not write", app(pendingRead), pendingWrite, false},
		{"app with ReadWrite may write", app(pendingWrite), pendingWrite, true},
		{"app with ReadWrite may read", app(pendingWrite), pendingRead, true},
		{"app with the other kind's ReadWrite may not read", app(externalWrite), pendingRead, false},
		{"app with the other kind's Read may not read", app(externalRead), pendingRead, false},
		{"app without roles may not read", app(), pendingRead, false},
		{"app with a scope-less user role list may not read", Principal{RoleIDs: []string{RoleGlobalAdministrator}}, pendingRead, false},
		{"app with a lowercase permission may not read", app(strings.ToLower(pendingRead)), pendingRead, false},
		{"app with a longer permission name may not read", app("X" + pendingWrite), pendingRead, false},
		{"app with Read may not use a ReadWrite infix elsewhere", app(pendingRead), "PendingExternalUserProfile.ReadWrite.All.Read.", false},
		{"app with any role may not ask for nothing", app(pendingWrite), "", false},

		// Delegated: scope and directory role together.
		{"user with scope and Extended Directory User Administrator may write", user([]string{pendingWrite}, RoleExtendedDirectoryUserAdministrator), pendingWrite, true},
		{"user with scope and Teams Administrator may write", user([]string{pendingWrite}, RoleTeamsAdministrator), pendingWrite, true},
		{"user with scope and Global Administrator may write", user([]string{pendingWrite}, RoleGlobalAdministrator), pendingWrite, true},
		{"user with scope and uppercase role id may write", user([]string{pendingWrite}, strings.ToUpper(RoleGlobalAdministrator)), pendingWrite, true},
		{"user with scope and Global Reader may read", user([]string{pendingRead}, RoleGlobalReader), pendingRead, true},
		{"user with ReadWrite scope and Global Reader may read", user([]string{pendingWrite}, RoleGlobalReader), pendingRead, true},
		{"user with ReadWrite scope and Global Reader may not write", user([]string{pendingWrite}, RoleGlobalReader), pendingWrite, false},
		{"user with ReadWrite scope and Teams Administrator may read", user([]string{pendingWrite}, RoleTeamsAdministrator), pendingRead, true},
		{"user with Read scope and Global Administrator may not write", user([]string{pendingRead}, RoleGlobalAdministrator), pendingWrite, false},
		{"user with scope and no wids may not read", user([]string{pendingWrite}), pendingRead, false},
		{"user with scope and an unrelated role may not read", user([]string{pendingWrite}, "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"), pendingRead, false},
		{"user with a role but without the scope may not read", user([]string{"User.Read"}, RoleGlobalAdministrator), pendingRead, false},
		{"user with the other kind's scope may not write", user([]string{externalWrite}, RoleGlobalAdministrator), pendingWrite, false},
		{"user whose token also has roles still needs the scope", Principal{Scopes: []string{"User.Read"}, Roles: []string{pendingWrite}, RoleIDs: []string{RoleGlobalAdministrator}}, pendingWrite, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Allowed(tt.perm); got != tt.want {
				t.Errorf("Allowed(%q) = %v, want %v", tt.perm, got, tt.want)
			}
		})
	}
}

func TestDelegated(t *testing.T) {
	tests := []struct {
		name string
		p    Principal
		want bool
	}{
		{"token with scopes is delegated", Principal{Scopes: []string{"User.Read"}}, true},
		{"token with roles only is app-only", Principal{Roles: []string{"x"}}, false},
		{"token with neither is app-only", Principal{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Delegated(); got != tt.want {
				t.Errorf("Delegated() = %v, want %v", got, tt.want)
			}
		})
	}
}
