package graph

import (
	"container/list"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/extdir/extdir"
)

// Overload. A server that takes every request it is sent serves them all
// more slowly as they pile up, until every answer comes too late for its
// client, which has given up and asked again: the work is done and wasted.
// So the server serves a bounded number of requests at once (Limiter); one
// beyond the bound waits a little for a place, in a queue as long as the
// bound, then is turned away with Graph's 503 and a Retry-After, which
// costs next to nothing and tells Graph's SDKs to come back. And every admitted request has a deadline
// (Server.RequestTimeout) that reaches the store, so that a slow query is
// cancelled rather than left running for a client that is gone.

// InflightPerCore is how many requests DefaultMaxInflight admits per core.
// A read spends its time on a core and gains nothing from more requests in
// flight than a few per core. A durable write spends most of its time
// waiting for an fsync that the whole batch of writes waiting shares
// (store/sqlite/commit.go: up to 256 a batch, one batch executing while
// the one before syncs), so the more writes in flight, the larger the
// batches: on this project's 2-core machine durable creates per second
// rose by half from 128 in flight to 256, and by a tenth more to 512, with
// the latency growing (docs/benchmarks.md, Overload). 128 per core keeps
// the group commit fed and bounds what a burst holds in memory to some
// megabytes per core; the CPU half of a write scales with the cores, so the
// limit does too.
const InflightPerCore = 128

// DefaultMaxInflight is the default of extdir serve --max-inflight.
func DefaultMaxInflight() int { return InflightPerCore * runtime.GOMAXPROCS(0) }

// DefaultMaxInflightWait is how long a request beyond the limit waits for
// a place by default: a few times the p99 latency of a request at the
// limit (some 40 ms for a durable create on this project's machine), so
// that a burst is queued rather than refused, and short enough that a
// request turned away has not waited long for nothing.
const DefaultMaxInflightWait = 100 * time.Millisecond

// DefaultRequestTimeout bounds an admitted request by default: well past
// any request the store serves in its normal course, and under the 60 s
// write timeout of extdir serve, so that the answer can still be written.
const DefaultRequestTimeout = 30 * time.Second

// Limiter bounds the requests a Server serves at once. Make one with
// NewLimiter; set OnShed before the server serves.
type Limiter struct {
	// OnShed, when set, is called once for every request the limiter turns
	// away with 503, on that request's goroutine, before the answer is
	// written: the hook for a counter of shed requests. It must be quick
	// and safe for concurrent use.
	OnShed func()

	max  int
	wait time.Duration

	// mu guards inflight, held and queue. A place that a request frees goes
	// straight to the longest waiter, under mu, so that the counts are
	// exact at every moment: with a channel of places, the waiter that got
	// one still counted as waiting until its goroutine ran, and a request
	// arriving in between was shed from a queue that had room.
	mu       sync.Mutex
	inflight int
	held     int // refused requests waiting out the wait before their 503
	// queue holds the waiters in arrival order; each is handed its place
	// by closing its channel. At most max wait, so that a flood cannot
	// park an unbounded number of goroutines.
	queue list.List // of chan struct{}

	shed atomic.Int64 // shed requests, for the log line
	// logMu and lastLog space the warnings: one line for a burst, not one
	// per request, when logging is what the server can least afford.
	logMu   sync.Mutex
	lastLog time.Time
	logged  int64 // shed when the last line was written
}

// holdPerPlace bounds the refusals held back (acquire) to this many per
// place: four times the limit beyond the limit and its queue.
const holdPerPlace = 4

// NewLimiter admits n requests at once (at least 1); as many again may
// wait, each up to wait for one to finish, and are shed after that (at
// once when wait is 0). A request beyond those is shed too, its 503 held
// back for the wait as well (acquire says why).
func NewLimiter(n int, wait time.Duration) *Limiter {
	return &Limiter{max: max(n, 1), wait: max(wait, 0)}
}

// Max is the number of requests admitted at once.
func (l *Limiter) Max() int { return l.max }

// InFlight is the number of requests admitted and not yet finished.
func (l *Limiter) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inflight
}

// Waiting is the number of requests waiting for a place.
func (l *Limiter) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.queue.Len()
}

// Shed is the number of requests turned away so far.
func (l *Limiter) Shed() int64 { return l.shed.Load() }

// acquire takes a place for a request, waiting up to the limiter's wait
// for one if the queue has room. It reports false when the request is to
// be shed (after the wait too, when the queue is full), and also when its
// client went away while it waited.
func (l *Limiter) acquire(ctx context.Context) bool {
	l.mu.Lock()
	if l.inflight < l.max && l.queue.Len() == 0 {
		l.inflight++
		l.mu.Unlock()
		return true
	}
	if l.wait == 0 {
		l.mu.Unlock()
		return false
	}
	if l.queue.Len() >= l.max {
		// Not to be admitted. Its 503 still waits out the wait, so that a
		// client asking again at once, Retry-After or not, asks once a wait
		// rather than as fast as the server can refuse: a refusal costs the
		// parsing of a request and an answer, and at four times the limit
		// a storm of them took half of this project's two cores. Held
		// refusals are bounded too; past the bound they go out at once.
		if l.held >= holdPerPlace*l.max {
			l.mu.Unlock()
			return false
		}
		l.held++
		l.mu.Unlock()
		t := time.NewTimer(l.wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		l.mu.Lock()
		l.held--
		l.mu.Unlock()
		return false
	}
	ready := make(chan struct{})
	e := l.queue.PushBack(ready)
	l.mu.Unlock()

	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case <-ready:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	l.mu.Lock()
	select {
	case <-ready:
		// Handed a place as the wait ended: keep it, unless the client is
		// gone, whose place goes to the next.
		l.mu.Unlock()
		if ctx.Err() != nil {
			l.release()
			return false
		}
		return true
	default:
		l.queue.Remove(e)
		l.mu.Unlock()
		return false
	}
}

// release frees a place: to the longest waiter, if any.
func (l *Limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.queue.Front(); e != nil {
		l.queue.Remove(e)
		close(e.Value.(chan struct{}))
		return
	}
	l.inflight--
}

// noteShed counts a shed request, calls OnShed and, at most every ten
// seconds, logs how many were shed since the last line.
func (l *Limiter) noteShed(log *slog.Logger, now time.Time) {
	n := l.shed.Add(1)
	if l.OnShed != nil {
		l.OnShed()
	}
	if !l.logMu.TryLock() {
		return
	}
	defer l.logMu.Unlock()
	if now.Sub(l.lastLog) < 10*time.Second {
		return
	}
	log.Warn("overloaded: requests shed with 503", "shed", n-l.logged, "max_inflight", l.max, "wait", l.wait)
	l.lastLog, l.logged = now, n
}

// Graph-local codes of the overload answers: neither is the directory's
// failure, so writeError does not log them as one.
const (
	eOverloaded     extdir.Code = "overloaded"
	eRequestTimeout extdir.Code = "request_timeout"
)

var (
	errOverloaded     = &extdir.Error{Code: eOverloaded, Message: "The service is busy with other requests. Retry after the number of seconds in Retry-After."}
	errRequestTimeout = &extdir.Error{Code: eRequestTimeout, Message: "The request did not complete within the service's time limit."}
)

// timedOut turns a failure caused by the request's own deadline into the
// request-timeout answer, and leaves any other alone.
func timedOut(r *http.Request, err error) error {
	if errors.Is(err, context.DeadlineExceeded) && errors.Is(r.Context().Err(), context.DeadlineExceeded) {
		logger(r).Warn("request timed out", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("error", err))
		return errRequestTimeout
	}
	return err
}

// unlimited reports the paths that stay open however loaded the server
// is: liveness and readiness, which a load balancer must be able to ask
// (a busy server is alive and ready), the admin API, which an operator or
// a test uses to look at and reset an overloaded server, and /metrics,
// which must keep answering when its figures matter most.
func unlimited(path string) bool {
	seg := strings.TrimPrefix(path, "/")
	if i := strings.IndexByte(seg, '/'); i >= 0 {
		seg = seg[:i]
	}
	for _, p := range [...]string{"healthz", "readyz", "admin", "metrics"} {
		if strings.EqualFold(seg, p) {
			return true
		}
	}
	return false
}

// overload wraps the entry point with the limiter and the request
// deadline. It wraps Handler's handler, not serveHTTP, so that the steps
// of a $batch (dispatched to serveHTTP) share their batch's place and
// deadline instead of queueing behind it.
func (s *Server) overload(next http.Handler) http.Handler {
	if s.Limiter == nil && s.RequestTimeout <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if unlimited(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		if l := s.Limiter; l != nil {
			if !l.acquire(r.Context()) {
				if r.Context().Err() == nil {
					s.shed(w, r)
				}
				return
			}
			defer l.release()
		}
		if s.RequestTimeout > 0 {
			ctx, cancel := context.WithTimeout(r.Context(), s.RequestTimeout)
			defer cancel()
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// shed answers a request the limiter turned away: Graph's 503 with
// Retry-After, and the request ids serveHTTP would have given it.
func (s *Server) shed(w http.ResponseWriter, r *http.Request) {
	requestID := uuid.NewString()
	clientID := r.Header.Get("client-request-id")
	if clientID == "" || len(clientID) > 128 {
		clientID = requestID
	}
	s.Limiter.noteShed(s.Logger, time.Now())
	h := w.Header()
	h["Request-Id"] = []string{requestID}
	h["Client-Request-Id"] = []string{clientID}
	h["Odata-Version"] = odataVersion
	h["Cache-Control"] = noCache
	h["Retry-After"] = retryAfterOne
	ctx := context.WithValue(r.Context(), idsKey, ids{request: requestID, client: clientID, now: s.clock})
	writeError(w, r.WithContext(ctx), errOverloaded)
}

// retryAfterOne is the Retry-After of a shed request, in seconds: an
// overloaded server has a new place every few milliseconds, and a second
// is the least the header can say.
var retryAfterOne = []string{"1"}
