package graph

import (
	"net/http"
	"slices"
	"strings"
)

// CORS lets browser applications call extdir as they call Graph, whose API
// and token endpoints answer cross-origin requests: a preflight (OPTIONS with
// Access-Control-Request-Method) is answered before authentication, and
// every response to an allowed origin says which headers a script may read.
// extdir authenticates with bearer tokens, never cookies, so no credentials
// mode is offered.
type CORS struct {
	// Origins are the allowed origins ("https://app.example.com"); "*"
	// allows any.
	Origins []string
}

// corsAllowedHeaders are the request headers the Graph clients send;
// whatever else a preflight names that is a plain header name is allowed
// too (MSAL.js adds x-client-* headers), since CORS guards cookies and
// extdir reads none.
var corsAllowedHeaders = []string{"Authorization", "Content-Type", "ConsistencyLevel", "If-Match", "If-None-Match", "client-request-id", "return-client-request-id", "Prefer"}

// corsExposedHeaders are the response headers a script may read.
var corsExposedHeaders = strings.Join([]string{"request-id", "client-request-id", "Location", "ETag", "Retry-After", "OData-Version", "x-ms-throttle-limit-percentage", "traceresponse"}, ", ")

const corsAllowedMethods = "GET, POST, PATCH, PUT, DELETE, OPTIONS"

// corsPath reports whether a path answers cross-origin requests: the API
// and the OAuth endpoints, not the admin and health endpoints.
func corsPath(path string) bool {
	p := strings.ToLower(path)
	return strings.HasPrefix(p, "/beta/") || p == "/beta" ||
		(!strings.HasPrefix(p, "/admin/") && (strings.Contains(p, "/oauth2/v2.0/") || strings.Contains(p, "/v2.0/.well-known/") || strings.Contains(p, "/discovery/v2.0/keys")))
}

func (c *CORS) allows(origin string) bool {
	return slices.Contains(c.Origins, "*") || slices.ContainsFunc(c.Origins, func(o string) bool { return strings.EqualFold(o, origin) })
}

// handle adds the CORS headers of r's response and answers a preflight
// itself; it reports whether it did.
func (c *CORS) handle(w http.ResponseWriter, r *http.Request) (answered bool) {
	if c == nil {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" || !corsPath(r.URL.Path) {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if !c.allows(origin) {
		if preflight {
			// Without the allow headers the browser refuses the call.
			w.WriteHeader(http.StatusForbidden)
			return true
		}
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if !preflight {
		h.Set("Access-Control-Expose-Headers", corsExposedHeaders)
		return false
	}
	h.Set("Access-Control-Allow-Methods", corsAllowedMethods)
	h.Set("Access-Control-Allow-Headers", strings.Join(preflightHeaders(r.Header.Get("Access-Control-Request-Headers")), ", "))
	h.Set("Access-Control-Max-Age", "3600")
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
	return true
}

// preflightHeaders is the allowed list and each requested header that is a
// plain field name.
func preflightHeaders(requested string) []string {
	out := slices.Clone(corsAllowedHeaders)
	for name := range strings.SplitSeq(requested, ",") {
		name = strings.TrimSpace(name)
		if name == "" || len(name) > 64 || !isFieldName(name) {
			continue
		}
		if !slices.ContainsFunc(out, func(h string) bool { return strings.EqualFold(h, name) }) {
			out = append(out, name)
		}
	}
	return out
}

func isFieldName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
