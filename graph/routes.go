package graph

import (
	"net/http"
	"strings"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
)

// call is one routed request: what the handler needs, nothing global.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	caller *auth.Principal
	// kind is bound by a {collection} or {cast} segment.
	kind extdir.Kind
	// id is bound by an {id} segment.
	id string
	// pathTenant is bound by the {tenant} segment of the OAuth endpoints;
	// the tenant a /beta call acts in is always caller.Tenant, the token's.
	pathTenant string
	// asset is bound by an {asset} segment: a file name, as given.
	asset string
}

type route struct {
	method  string
	pattern string
	// public routes need no bearer token.
	public bool
	handle func(*Server, *call) error
}

// routes is the whole HTTP surface of extdir, in match order: the first
// route whose pattern and method match serves the request. Literal segments
// match case-insensitively, as Graph's do. {collection} is a profile
// collection (pendingExternalUserProfiles, externalUserProfiles), {cast} a
// type cast (microsoft.graph.pendingExternalUserProfile), {tenant} a tenant
// id outside /beta, {asset} a file name (its case kept), {id} any other
// segment.
var routes = []route{
	{"GET", "/healthz", true, (*Server).healthz},
	{"GET", "/readyz", true, (*Server).readyz},
	// The Prometheus metrics, for loopback clients (observe.go).
	{"GET", "/metrics", true, (*Server).metrics},

	// The web console (console.go): a page and its files; what it does, it
	// does through the API below, signed in as a user.
	{"GET", "/console", true, (*Server).consolePage},
	{"GET", "/console/{asset}", true, (*Server).consoleFile},

	// The built-in issuer as an Entra-shaped OAuth 2.0 provider (oauth.go).
	{"GET", "/{tenant}/v2.0/.well-known/openid-configuration", true, (*Server).openIDConfiguration},
	{"GET", "/{tenant}/discovery/v2.0/keys", true, (*Server).signingKeys},
	{"POST", "/{tenant}/oauth2/v2.0/token", true, (*Server).token},
	// Users signing in to it (signin.go).
	{"GET", "/{tenant}/oauth2/v2.0/authorize", true, (*Server).authorize},
	{"POST", "/{tenant}/oauth2/v2.0/authorize", true, (*Server).authorizeSignIn},
	{"POST", "/{tenant}/oauth2/v2.0/devicecode", true, (*Server).deviceCode},
	{"GET", "/{tenant}/oauth2/v2.0/deviceauth", true, (*Server).devicePage},
	{"POST", "/{tenant}/oauth2/v2.0/deviceauth", true, (*Server).deviceSignIn},

	{"GET", "/beta/directory/{collection}", false, (*Server).listProfiles},
	{"POST", "/beta/directory/{collection}", false, (*Server).createProfile},
	{"GET", "/beta/directory/{collection}/$count", false, (*Server).countProfiles},
	{"GET", "/beta/directory/{collection}/{id}", false, (*Server).getProfile},
	{"PATCH", "/beta/directory/{collection}/{id}", false, (*Server).updateProfile},
	{"DELETE", "/beta/directory/{collection}/{id}", false, (*Server).deleteProfile},
	{"POST", "/beta/directory/{collection}/{id}/redeem", false, (*Server).redeemProfile},
	{"POST", "/beta/directory/{collection}/{id}/microsoft.graph.redeem", false, (*Server).redeemProfile},

	{"GET", "/beta/directory/deletedItems", false, (*Server).listDeletedWithoutCast},
	{"GET", "/beta/directory/deletedItems/{cast}", false, (*Server).listDeleted},
	{"GET", "/beta/directory/deletedItems/{cast}/$count", false, (*Server).countDeleted},
	{"GET", "/beta/directory/deletedItems/{id}", false, (*Server).getDeleted},
	{"DELETE", "/beta/directory/deletedItems/{id}", false, (*Server).purgeDeleted},
	{"POST", "/beta/directory/deletedItems/{id}/restore", false, (*Server).restoreDeleted},
	{"POST", "/beta/directory/deletedItems/{id}/microsoft.graph.restore", false, (*Server).restoreDeleted},

	// The audit log of every change to a profile (audit.go).
	{"GET", "/beta/auditLogs/directoryAudits", false, (*Server).listAudits},
	{"GET", "/beta/auditLogs/directoryAudits/{id}", false, (*Server).getAudit},

	// Protocol: the service's CSDL (metadata.go) and JSON batching (batch.go).
	{"GET", "/beta/$metadata", true, (*Server).metadata},
	{"POST", batchPattern, false, (*Server).batch},

	// The admin API (admin.go): loopback clients, or the bearer of the
	// admin token; never a Graph token. Each handler checks adminGate.
	{"POST", "/admin/reset", true, (*Server).adminReset},
	{"POST", "/admin/seed", true, (*Server).adminSeed},
	{"GET", "/admin/export", true, (*Server).adminExport},
	{"POST", "/admin/import", true, (*Server).adminImport},
	{"GET", "/admin/requests", true, (*Server).adminRequests},
	{"DELETE", "/admin/requests", true, (*Server).adminClearRequests},
	{"GET", "/admin/clock", true, (*Server).adminGetClock},
	{"PUT", "/admin/clock", true, (*Server).adminPutClock},
	{"DELETE", "/admin/clock", true, (*Server).adminResetClock},
	{"GET", faultAdminPath, true, (*Server).getFaults},
	{"PUT", faultAdminPath, true, (*Server).putFaults},
	{"DELETE", faultAdminPath, true, (*Server).deleteFaults},
}

// routePatterns holds each route's pattern split into segments once.
var routePatterns = func() [][]string {
	out := make([][]string, len(routes))
	for i, rt := range routes {
		out[i] = strings.Split(strings.TrimPrefix(rt.pattern, "/"), "/")
	}
	return out
}()

// splitPath splits a URL path into segments, dropping one trailing slash and
// turning OData key syntax, collection('id'), into collection/id.
func splitPath(path string) []string {
	path = strings.TrimPrefix(path, "/")
	path = strings.TrimSuffix(path, "/")
	if path == "" {
		return nil
	}
	parts := strings.Split(path, "/")
	out := make([]string, 0, len(parts)+1)
	for _, p := range parts {
		if open := strings.IndexByte(p, '('); open > 0 && strings.HasSuffix(p, ")") {
			key := p[open+1 : len(p)-1]
			if len(key) >= 2 && key[0] == '\'' && key[len(key)-1] == '\'' {
				key = key[1 : len(key)-1]
			}
			out = append(out, p[:open], key)
			continue
		}
		out = append(out, p)
	}
	return out
}

// matchSegment reports whether seg fits the pattern segment, binding it.
func matchSegment(pat, seg string, c *call) bool {
	switch pat {
	case "{collection}":
		k, ok := extdir.KindByCollection(seg)
		c.kind = k
		return ok
	case "{cast}":
		k, ok := extdir.KindByQualifiedName(seg)
		c.kind = k
		return ok
	case "{tenant}":
		if !validTenantSegment(seg) {
			return false
		}
		c.pathTenant = seg
		return true
	case "{asset}":
		c.asset = seg
		return seg != ""
	case "{id}":
		if seg == "" || strings.HasPrefix(seg, "$") {
			return false
		}
		// Ids are issued as lowercase GUIDs; Graph matches them case-insensitively.
		c.id = strings.ToLower(seg)
		return true
	}
	return strings.EqualFold(pat, seg)
}

// route finds the handler for the request and runs it; every failure, from
// an unknown segment to a store error, leaves through writeError.
func (s *Server) route(w *statusRecorder, r *http.Request) {
	segs := splitPath(r.URL.Path)
	c := &call{w: w, r: r}

	var matched *route
	pathMatched := false
	deepest := 0 // how many leading segments some route accepted
	for i, pat := range routePatterns {
		depth := 0
		probe := &call{}
		for depth < len(pat) && depth < len(segs) && matchSegment(pat[depth], segs[depth], probe) {
			depth++
		}
		if depth > deepest {
			deepest = depth
		}
		if depth != len(pat) || depth != len(segs) {
			continue
		}
		if !pathMatched {
			// A 405 is labelled with the path's route.
			w.route = routes[i].pattern
		}
		pathMatched = true
		if routes[i].method == r.Method {
			w.route = routes[i].pattern
			matched = &routes[i]
			c.kind, c.id, c.pathTenant, c.asset = probe.kind, probe.id, probe.pathTenant, probe.asset
			break
		}
	}

	if w.route == "" {
		w.route = UnmatchedRoute
	}

	// Under /beta every route but the public ones needs a token, and the
	// token is checked before the path: an anonymous caller learns nothing.
	public := matched != nil && matched.public
	if !public && len(segs) > 0 && strings.EqualFold(segs[0], "beta") && !s.authenticate(c) {
		return
	}
	requestIDs(r).journal.setCaller(c)
	if matched != nil && !s.admit(c, matched) {
		return
	}
	switch {
	case matched != nil:
		if err := matched.handle(s, c); err != nil {
			writeError(w, r, err)
		}
	case pathMatched:
		writeError(w, r, errMethodNotAllowed)
	case len(segs) == 0:
		writeError(w, r, extdir.Errorf(extdir.EBadRequest, "Invalid version: the path must start with /beta."))
	case !strings.EqualFold(segs[0], "beta"):
		writeError(w, r, extdir.Errorf(extdir.EBadRequest, "Invalid version: %s. extdir serves the beta version only.", segs[0]))
	default:
		bad := segs[min(deepest, len(segs)-1)]
		writeError(w, r, extdir.Errorf(extdir.EBadRequest, "Resource not found for the segment '%s'.", bad))
	}
}

// authenticate verifies the bearer token and binds the caller; on failure it
// writes the 401 and returns false.
func (s *Server) authenticate(c *call) bool {
	h := c.r.Header.Get("Authorization")
	scheme, token, _ := strings.Cut(h, " ")
	if h == "" && s.DevPrincipal != nil {
		c.caller = s.DevPrincipal
		return true
	}
	if h == "" {
		writeError(c.w, c.r, &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token is empty."})
		return false
	}
	if !strings.EqualFold(scheme, "Bearer") {
		writeError(c.w, c.r, &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure: the Authorization header must be 'Bearer <token>'."})
		return false
	}
	p, err := s.verify(c.r.Context(), strings.TrimSpace(token))
	if err != nil {
		if !isCode(err, extdir.EUnauthenticated) {
			err = &extdir.Error{Code: extdir.EUnauthenticated, Message: "Access token validation failure."}
		}
		writeError(c.w, c.r, err)
		return false
	}
	c.caller = p
	return true
}

// require checks that the caller holds the permission.
func (c *call) require(perm string) error {
	if c.caller == nil {
		return errForbidden
	}
	if !c.caller.Allowed(perm) {
		return extdir.Forbidden(c.caller, perm)
	}
	return nil
}

// actor is the caller as the Directory knows it, and as its audit records
// name it: an app (the token's oid is its service principal) or a user
// with the app it signed in to; the request-id correlates the records.
func (c *call) actor() extdir.Actor {
	p := c.caller
	a := extdir.Actor{Tenant: p.Tenant, ObjectID: p.ObjectID, Permissions: p, CorrelationID: requestIDs(c.r).request}
	a.Initiator.AppID = p.AppID
	if p.Delegated() {
		a.Initiator.User, a.Initiator.UserID, a.Initiator.UPN = true, p.ObjectID, p.Username
	} else {
		a.Initiator.ServicePrincipalID = p.ObjectID
	}
	return a
}
