package auth

import (
	"maps"
	"slices"
	"strings"
)

// Directory role template ids (the "wids" claim) that let a delegated caller
// use the external profile API, as listed on Graph's permission pages.
const (
	// RoleExtendedDirectoryUserAdministrator may read and write profiles.
	RoleExtendedDirectoryUserAdministrator = "dd13091a-6207-4fc0-82ba-3641e056ab95"
	// RoleTeamsAdministrator may read and write profiles.
	RoleTeamsAdministrator = "69091246-20e8-4a56-aa4d-066075b2a7a8"
	// RoleGlobalAdministrator may read and write profiles.
	RoleGlobalAdministrator = "62e90394-69f5-4237-9190-012177145e10"
	// RoleGlobalReader may read profiles only.
	RoleGlobalReader = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
	// RoleReportsReader, RoleSecurityReader and RoleSecurityAdministrator
	// may read the audit log (AuditLog.Read.All), as may Global Reader and
	// Global Administrator.
	RoleReportsReader         = "4a5d8f65-41da-4de4-8968-e035b65339cf"
	RoleSecurityReader        = "5d6b6bb7-de71-4623-b4af-96380a352509"
	RoleSecurityAdministrator = "194ae4cb-b126-40b2-bd5b-6091b380977d"
)

// writerRoles and readerRoles are the roles a delegated caller needs on top
// of the scope: Graph checks both the app's consent and the user's role.
var (
	writerRoles = []string{RoleExtendedDirectoryUserAdministrator, RoleTeamsAdministrator, RoleGlobalAdministrator}
	readerRoles = []string{RoleExtendedDirectoryUserAdministrator, RoleTeamsAdministrator, RoleGlobalAdministrator, RoleGlobalReader}
	// auditRoles read the audit log, as Graph's directoryAudit pages list.
	auditRoles = []string{RoleReportsReader, RoleSecurityReader, RoleSecurityAdministrator, RoleGlobalReader, RoleGlobalAdministrator}
)

// PermissionAuditLogRead reads the audit log.
const PermissionAuditLogRead = "AuditLog.Read.All"

// rolesFor are the directory roles that, with the scope, let a user use
// perm.
func rolesFor(perm string) []string {
	switch {
	case perm == PermissionAuditLogRead:
		return auditRoles
	case strings.Contains(perm, ".ReadWrite."):
		return writerRoles
	}
	return readerRoles
}

// Principal is a verified caller.
type Principal struct {
	Tenant   string   // tid claim
	ObjectID string   // oid claim
	AppID    string   // azp, or appid (v1 tokens)
	Roles    []string // app-only permissions ("roles" array claim)
	Scopes   []string // delegated permissions ("scp", space-separated)
	RoleIDs  []string // "wids": directory role template ids
	Username string   // preferred_username of a user's token, for the record only
}

// Delegated reports a delegated (user) token: one with an scp claim. A
// token whose scp claim is blank comes out of Verify with neither scopes nor
// roles, so it is allowed nothing rather than treated as app-only.
func (p *Principal) Delegated() bool { return len(p.Scopes) > 0 }

// Allowed reports whether p holds permission perm (such as
// "PendingExternalUserProfile.ReadWrite.All"). A ReadWrite permission also
// grants the matching Read one. An app-only caller needs perm in its roles; a
// delegated caller needs it in its scopes and, in its wids, a directory role
// allowed to read or, for a ".ReadWrite." permission, to write.
func (p *Principal) Allowed(perm string) bool {
	if perm == "" {
		return false
	}
	if !p.Delegated() {
		return grants(p.Roles, perm)
	}
	if !grants(p.Scopes, perm) {
		return false
	}
	allowed := rolesFor(perm)
	return slices.ContainsFunc(p.RoleIDs, func(id string) bool {
		// Role ids are GUIDs; their case carries no meaning.
		return slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, id) })
	})
}

// grants reports whether one of held is perm or, when perm is a Read
// permission, its ReadWrite counterpart. It compares in place rather than
// building the counterpart string because it runs on every request.
func grants(held []string, perm string) bool {
	prefix, suffix, isRead := strings.Cut(perm, ".Read.")
	for _, h := range held {
		if h == perm {
			return true
		}
		if isRead && len(h) == len(prefix)+len(".ReadWrite.")+len(suffix) &&
			strings.HasPrefix(h, prefix) && strings.HasSuffix(h, suffix) &&
			h[len(prefix):len(h)-len(suffix)] == ".ReadWrite." {
			return true
		}
	}
	return false
}

// roleNames are the display names of the roles above, for messages.
var roleNames = map[string]string{
	RoleExtendedDirectoryUserAdministrator: "Extended Directory User Administrator",
	RoleTeamsAdministrator:                 "Teams Administrator",
	RoleGlobalAdministrator:                "Global Administrator",
	RoleGlobalReader:                       "Global Reader",
	RoleReportsReader:                      "Reports Reader",
	RoleSecurityReader:                     "Security Reader",
	RoleSecurityAdministrator:              "Security Administrator",
}

// DirectoryRoles returns the display name of each directory role that this
// API knows, by template id, for a client that shows a token's wids.
func DirectoryRoles() map[string]string { return maps.Clone(roleNames) }

// Refusal says, for a 403, what p lacks for perm: what would have been
// enough. It names permissions and roles only, never anything of the token.
func (p *Principal) Refusal(perm string) string {
	write := strings.Contains(perm, ".ReadWrite.")
	either := perm
	if !write {
		either = perm + " or " + strings.Replace(perm, ".Read.", ".ReadWrite.", 1)
	}
	if !p.Delegated() {
		return "The application needs the application permission " + either + " (the roles claim)."
	}
	if !grants(p.Scopes, perm) {
		return "The application needs the delegated permission " + either + " (the scp claim)."
	}
	allowed := rolesFor(perm)
	names := make([]string, len(allowed))
	for i, id := range allowed {
		names[i] = roleNames[id]
	}
	return "The signed-in user needs one of the directory roles " + strings.Join(names, ", ") + " (the wids claim)."
}
