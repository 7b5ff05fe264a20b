package graph

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
)

// Observer is told what the server does, for metrics and traces:
// internal/telemetry implements it. Server.Observer nil observes nothing,
// and then a request pays for none of it: no call, no clock reading, no
// allocation.
//
// Every value an Observer is given as a label is bounded: a route template
// from the route table (never the raw path), a method from a fixed set, a
// status, a grant type, an OAuth error code, a throttle limit. Ids, tenants
// and paths reach it only as the span attributes of RequestStart.
type Observer interface {
	// RequestStart is called as a request arrives, before anything is done
	// with it, and returns the context to serve it under: ctx itself, or
	// ctx with the request's span. An inner request of a $batch has
	// Step.BatchStep set and comes with its batch's context, so that its
	// span is a child of the batch's.
	RequestStart(ctx context.Context, r *http.Request, info RequestInfo) context.Context
	// RequestDone is called once the request is answered (or its
	// connection dropped), with the context RequestStart returned and the
	// info completed: Route, Method, Status and Duration.
	RequestDone(ctx context.Context, info RequestInfo)
	// StartSpan opens a child operation of the request in ctx (the token
	// verification), returning the context to run it under; EndSpan, given
	// that context, closes it with the operation's error.
	StartSpan(ctx context.Context, name string) context.Context
	EndSpan(ctx context.Context, err error)
	// TokenIssued counts a token the token endpoint issued, by grant type
	// (client_credentials, password, authorization_code, refresh_token,
	// device_code).
	TokenIssued(grantType string)
	// TokenRefused counts a refusal of the token endpoint, by grant type
	// ("other" for one extdir does not know) and reason (the OAuth error
	// code: invalid_client, invalid_grant, ..., server_error).
	TokenRefused(grantType, reason string)
	// Throttled counts a request the throttle refused with 429, by the
	// bucket that refused it: "units" or "writes".
	Throttled(limit string)
	// RequestShed counts a request refused with 503 because the server
	// was overloaded (too many requests in flight). The code that sheds
	// calls it through Server.RequestShed.
	RequestShed()
}

// RequestInfo describes a request to an Observer.
type RequestInfo struct {
	// RequestID and ClientRequestID are the Graph ids of the answer.
	RequestID, ClientRequestID string
	// BatchStep is the id of an inner request in its $batch; "" for a
	// request on its own.
	BatchStep string
	// Header is the response's header, where RequestStart may add one
	// (traceresponse).
	Header http.Header

	// Set for RequestDone.
	//
	// Route is the template of the route that served the request, such as
	// "/beta/directory/{collection}/{id}"; for a path no route has,
	// UnmatchedRoute.
	Route string
	// Method is the request's method, or "other" for one no route uses.
	Method string
	// Status is the status answered; 0 when the connection was dropped
	// without an answer (a fault rule's drop, or a panic of
	// http.ErrAbortHandler).
	Status int
	// Duration is the time from arrival to answer.
	Duration time.Duration
}

// UnmatchedRoute is the Route of a request whose path no route has: all
// such requests share one label value, whatever their paths.
const UnmatchedRoute = "unmatched"

// SpanAuth is the name of the token verification's span.
const SpanAuth = "auth.verify"

// RequestShed tells the Observer, if any, of a request refused with 503
// because the server is overloaded; the load shedding calls it for each.
func (s *Server) RequestShed() {
	if s.Observer != nil {
		s.Observer.RequestShed()
	}
}

// observeStart begins the observation of a request in serveHTTP.
func (s *Server) observeStart(ctx context.Context, r *http.Request, h http.Header, requestID, clientID string) (context.Context, RequestInfo) {
	info := RequestInfo{RequestID: requestID, ClientRequestID: clientID, Header: h}
	if step, ok := r.Context().Value(batchStepKey).(batchStepInfo); ok {
		info.BatchStep = step.id
	}
	return s.Observer.RequestStart(ctx, r, info), info
}

// observeDone completes info and hands it to the Observer. A request
// answered before routing (a CORS preflight, an injected fault) has no
// route recorded, so its template is looked up here, off the path of
// routed requests.
func (s *Server) observeDone(ctx context.Context, r *http.Request, info RequestInfo, route string, status int, d time.Duration) {
	if route == "" {
		route = routeTemplateOf(r.Method, r.URL.Path)
	}
	info.Route, info.Method, info.Status, info.Duration = route, methodLabel(r.Method), status, d
	s.Observer.RequestDone(ctx, info)
}

// observeUnrunStep reports the inner request of a batch that did not run
// because a request it depends on failed, once it has its 424: it gets a
// span and a count like every inner request. ctx carries its ids.
func (s *Server) observeUnrunStep(ctx context.Context, inner *http.Request, stepID string, rec *batchRecorder) {
	if s.Observer == nil {
		return
	}
	ids, _ := ctx.Value(idsKey).(ids)
	info := RequestInfo{RequestID: ids.request, ClientRequestID: ids.client, BatchStep: stepID, Header: rec.header}
	ctx = s.Observer.RequestStart(ctx, inner, info)
	s.observeDone(ctx, inner, info, "", rec.status, 0)
}

// verify checks a bearer token, in a span of its own when observed.
func (s *Server) verify(ctx context.Context, token string) (*auth.Principal, error) {
	o := s.Observer
	if o == nil {
		return s.Verifier.Verify(ctx, token)
	}
	ctx = o.StartSpan(ctx, SpanAuth)
	p, err := s.Verifier.Verify(ctx, token)
	o.EndSpan(ctx, err)
	return p, err
}

// observeToken counts the outcome of a token request: err nil is a token
// issued, an *auth.OAuthError a refusal for its code, any other error the
// server's own failure.
func (s *Server) observeToken(grantType string, err error) {
	o := s.Observer
	if o == nil {
		return
	}
	grant := grantLabel(grantType)
	if err == nil {
		o.TokenIssued(grant)
		return
	}
	var refused *auth.OAuthError
	if errors.As(err, &refused) {
		o.TokenRefused(grant, refused.Code)
		return
	}
	o.TokenRefused(grant, "server_error")
}

// grantLabel bounds a client-supplied grant_type to the ones extdir knows.
func grantLabel(grantType string) string {
	switch grantType {
	case "client_credentials", auth.GrantPassword, auth.GrantAuthorizationCode, auth.GrantRefreshToken:
		return grantType
	case auth.GrantDeviceCode, "device_code":
		return "device_code"
	case "":
		return "none"
	}
	return "other"
}

// methodLabel bounds a client-supplied method to the ones HTTP defines.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// routeTemplateOf is routeTemplate, bound in init for the reason
// serveStep is: the route table names the batch handler, which reports its
// unrun steps through observeDone.
var routeTemplateOf func(method, path string) string

func init() {
	routeTemplateOf = routeTemplate
}

// routeTemplate is the template of the route table that a request's path
// matches, as route matches it: the route of the method if one has the
// path, else the first route with the path, else UnmatchedRoute.
func routeTemplate(method, path string) string {
	segs := splitPath(path)
	first := ""
	for i, pat := range routePatterns {
		if len(pat) != len(segs) {
			continue
		}
		probe := &call{}
		depth := 0
		for depth < len(pat) && matchSegment(pat[depth], segs[depth], probe) {
			depth++
		}
		if depth != len(pat) {
			continue
		}
		if routes[i].method == method {
			return routes[i].pattern
		}
		if first == "" {
			first = routes[i].pattern
		}
	}
	if first == "" {
		return UnmatchedRoute
	}
	return first
}

// metrics serves GET /metrics, Server.Metrics, to loopback clients only;
// without it the path answers 404, as it does when the metrics have a
// listener of their own.
func (s *Server) metrics(c *call) error {
	if s.Metrics == nil {
		return extdir.Errorf(extdir.ENotFound, "The metrics are not served on this listener: extdir serve was started with --metrics=false or --metrics-listen.")
	}
	if !loopbackClient(c.r) {
		return extdir.Errorf(extdir.EForbidden, "The metrics are served to loopback clients only; start extdir serve with --metrics-listen to serve them on an address of their own.")
	}
	s.Metrics.ServeHTTP(c.w, c.r)
	return nil
}

// loopbackClient reports a request from this host that no reverse proxy
// forwarded: a proxy on this host makes every client look local.
func loopbackClient(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback() && !proxied(r)
}
