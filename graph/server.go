// Package graph serves the Microsoft Graph beta API of extdir over HTTP: the
// route table, the handlers, the Graph wire format (context URLs, headers,
// the error envelope) and paging tokens.
package graph

import (
	"context"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/extdir/extdir"
	"github.com/extdir/extdir/auth"
	"github.com/extdir/extdir/store"
)

// MaxBodyBytes is the largest request body accepted (1 MiB).
const MaxBodyBytes = 1 << 20

// Server is the HTTP API. Set its fields, then call Handler once.
type Server struct {
	Store    store.Store
	Verifier auth.Verifier
	// OAuth serves the built-in issuer's discovery document, keys and
	// token endpoint (oauth.go); nil answers them with 404.
	OAuth *auth.Provider
	// DevPrincipal, when set, is the caller of every /beta request without
	// an Authorization header (extdir serve --dev-no-auth). A request with
	// one is still verified.
	DevPrincipal *auth.Principal
	// PublicURL is the origin written into @odata.context, @odata.nextLink
	// and Location (e.g. "https://extdir.example.com"); empty means the
	// request's own scheme and host.
	PublicURL string
	// Logger receives every failure and, unless AccessLog is set, one line
	// per request; nil discards.
	Logger *slog.Logger
	// AccessLog, when set, receives the line of each request instead of
	// Logger (extdir's server writes it through a buffer).
	AccessLog *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Throttle, when set, limits each (application, tenant) pair
	// (throttle.go); nil never throttles.
	Throttle *Throttle
	// Faults, when set, injects failures and latency for resilience tests
	// (faults.go); nil injects none.
	Faults *Faults
	// CORS, when set, answers browsers' cross-origin requests (cors.go);
	// nil answers none.
	CORS *CORS
	// Admin, when set, serves the admin API under /admin (admin.go); nil
	// answers every /admin path with 404.
	Admin *Admin
	// Console, when set, serves the web console at /console/ (console.go);
	// nil answers its paths with 404.
	Console *Console
	// Journal, when set, keeps the last requests for the admin API's
	// /admin/requests (journal.go); nil keeps none.
	Journal *Journal
	// Directory is the domain's lifecycle over Store: every change to a
	// profile goes through it. nil: Handler makes one on Store and Now; give
	// one to share it (and its clock) with the rest of the process, such as
	// the retention sweep.
	Directory *extdir.Directory
	// Observer, when set, is told of every request, token and throttled
	// request, for metrics and traces (observe.go); nil observes nothing.
	Observer Observer
	// Metrics, when set, serves GET /metrics to loopback clients (the
	// Prometheus exposition); nil answers it with 404.
	Metrics http.Handler
	// Limiter, when set, bounds the requests served at once and sheds the
	// rest with 503 (overload.go); nil admits every request.
	Limiter *Limiter
	// RequestTimeout, when positive, is the deadline of every request
	// outside the operational endpoints, passed to the store with the
	// request's context (overload.go); 0 sets none.
	RequestTimeout time.Duration

	dir      *extdir.Directory
	clock    func() time.Time // s.now, bound once
	starting atomic.Pointer[string]
}

// SetStarting makes /readyz answer 503 with the reason until SetReady: the
// server serves, but is not yet what it was asked to be (a --seed loading).
func (s *Server) SetStarting(reason string) { s.starting.Store(&reason) }

// SetReady ends SetStarting.
func (s *Server) SetReady() { s.starting.Store(nil) }

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Handler returns the whole HTTP surface: the Graph API under /beta and the
// operational endpoints.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.AccessLog == nil {
		s.AccessLog = s.Logger
	}
	s.clock = s.now
	s.dir = s.Directory
	if s.dir == nil {
		s.dir = &extdir.Directory{Store: s.Store, Now: s.now}
	}
	return s.overload(http.HandlerFunc(s.serveHTTP))
}

type ctxKey int

const (
	idsKey ctxKey = iota
	loggerKey
)

type ids struct {
	request, client string
	// journal is the request's journal entry in the making; nil when the
	// journal is off.
	journal *journalCall
	// now is the server's clock, for the dates that answers carry.
	now func() time.Time
}

// date is the time of day by the server's clock.
func (i ids) date() time.Time {
	if i.now != nil {
		return i.now()
	}
	return time.Now()
}

func requestIDs(r *http.Request) ids {
	v, _ := r.Context().Value(idsKey).(ids)
	return v
}

// logger is the server's logger with the request's id attached. It is built
// on demand: most requests log nothing but their access line, and With
// costs a handler clone.
func logger(r *http.Request) *slog.Logger {
	if l, ok := r.Context().Value(loggerKey).(*slog.Logger); ok {
		return l.With(slog.String("request_id", requestIDs(r).request))
	}
	return slog.New(slog.DiscardHandler)
}

// statusRecorder remembers the status for the access log and, for the
// journal, the start of the body.
type statusRecorder struct {
	http.ResponseWriter
	status int
	body   *capture // nil unless journaled
	// route is the template of the route that took the request, set by
	// route once it is known, for the Observer's labels.
	route string
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body != nil {
		_, _ = w.body.Write(b)
	}
	return w.ResponseWriter.Write(b)
}

// serveHTTP is the one entry point: request ids, logging, panic recovery,
// then the route table.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := uuid.NewString()
	clientID := r.Header.Get("client-request-id")
	if clientID == "" || len(clientID) > 128 {
		clientID = requestID
	}
	// Keys in canonical form, and the constant values shared: Header.Set
	// would canonicalize (and allocate) each name on every request, and
	// net/http only reads the values.
	h := w.Header()
	h["Request-Id"] = []string{requestID}
	h["Client-Request-Id"] = []string{clientID}
	h["Odata-Version"] = odataVersion
	h["Cache-Control"] = noCache

	jc := s.startJournal(r, requestID, clientID)
	ctx := context.WithValue(r.Context(), idsKey, ids{request: requestID, client: clientID, journal: jc, now: s.clock})
	ctx = context.WithValue(ctx, loggerKey, s.Logger)
	var observed RequestInfo
	if s.Observer != nil {
		ctx, observed = s.observeStart(ctx, r, h, requestID, clientID)
	}
	r = r.WithContext(ctx)
	rec := &statusRecorder{ResponseWriter: w}
	if jc != nil && jc.respBody.limit > 0 {
		rec.body = &jc.respBody
	}

	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				if jc != nil {
					jc.finish(s.Journal, 0, time.Since(start), rec.Header().Get(FaultHeader))
				}
				if s.Observer != nil {
					s.observeDone(ctx, r, observed, rec.route, 0, time.Since(start))
				}
				panic(v)
			}
			logger(r).Error("panic", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			if rec.status == 0 {
				writeError(rec, r, errInternalPanic)
			}
		}
		elapsed := time.Since(start)
		s.AccessLog.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", requestID),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", elapsed),
			slog.String("client_request_id", clientID))
		if jc != nil {
			jc.finish(s.Journal, rec.status, elapsed, rec.Header().Get(FaultHeader))
		}
		if s.Observer != nil {
			s.observeDone(ctx, r, observed, rec.route, rec.status, elapsed)
		}
	}()
	if s.CORS.handle(rec, r) {
		return
	}
	if s.injectFault(rec, r) {
		return
	}
	s.route(rec, r)
}

// Constant header values, shared by every response.
var (
	odataVersion = []string{"4.0"}
	noCache      = []string{"no-cache"}
)

var errInternalPanic = &internalError{"panic while serving the request"}

type internalError struct{ msg string }

func (e *internalError) Error() string { return e.msg }

// origin is the externally visible scheme://host of the service.
func (s *Server) origin(r *http.Request) string {
	if s.PublicURL != "" {
		return strings.TrimSuffix(s.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
