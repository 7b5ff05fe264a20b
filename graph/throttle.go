package graph

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rate is a token bucket's size and refill: N requests per period, refilled
// continuously.
type Rate struct {
	N   int
	Per time.Duration
}

// Graph's identity and access limits for one application+tenant pair
// (learn.microsoft.com/graph/throttling-limits, "Identity and access service
// limits"): 3,500 resource units per 10 seconds in a small tenant (5,000 in a
// medium one, 8,000 in a large one) and 3,000 writes per 2 minutes 30
// seconds.
var (
	DefaultThrottleUnits  = Rate{N: 3500, Per: 10 * time.Second}
	DefaultThrottleWrites = Rate{N: 3000, Per: 150 * time.Second}
)

// ParseRate reads "N/period", such as "3500/10s".
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q is not N/period, such as 3500/10s", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return Rate{}, fmt.Errorf("rate %q: the count must be a positive integer", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(per))
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("rate %q: the period must be a positive duration, such as 10s", s)
	}
	return Rate{N: count, Per: d}, nil
}

// String writes the rate as ParseRate reads it.
func (r Rate) String() string { return strconv.Itoa(r.N) + "/" + r.Per.String() }

// perSecond is the refill speed.
func (r Rate) perSecond() float64 { return float64(r.N) / r.Per.Seconds() }

// Throttle limits the requests of each (application, tenant) pair with two
// token buckets, as Graph's identity and access service does: one of
// resource units, which every request draws from, and one of writes, which
// POST, PATCH, PUT and DELETE also draw from. Every extdir path costs one
// unit: Graph's table gives 1 to every identity path it does not list, and
// the $select and $top discounts cannot take a cost below 1. A refused
// request draws nothing, so a client that waits Retry-After gets through.
type Throttle struct {
	Units  Rate
	Writes Rate

	mu      sync.Mutex
	buckets map[throttleKey]*throttleBuckets
}

// NewThrottle returns a throttle with the given limits.
func NewThrottle(units, writes Rate) *Throttle {
	return &Throttle{Units: units, Writes: writes, buckets: make(map[throttleKey]*throttleBuckets)}
}

type throttleKey struct{ app, tenant string }

type throttleBuckets struct {
	units, writes float64 // tokens left
	at            time.Time
}

// maxIdleBuckets bounds the memory of pairs that stopped calling: past it,
// buckets that have refilled completely (and so equal a new one) are
// dropped.
const maxIdleBuckets = 4096

// verdict is the outcome of one request against its pair's buckets.
type verdict struct {
	ok bool
	// retryAfter is how long until the refused request would pass.
	retryAfter time.Duration
	// writeLimit tells which bucket refused it.
	writeLimit bool
	// used is the share of the unit bucket spent once the request passed.
	used float64
}

// take charges one request of the pair, a write or not, at now.
func (t *Throttle) take(key throttleKey, write bool, now time.Time) verdict {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[key]
	if !ok {
		if len(t.buckets) >= maxIdleBuckets {
			t.dropFull(now)
		}
		b = &throttleBuckets{units: float64(t.Units.N), writes: float64(t.Writes.N), at: now}
		t.buckets[key] = b
	}
	t.refill(b, now)
	if b.units < 1 {
		return verdict{retryAfter: wait(1-b.units, t.Units)}
	}
	if write && b.writes < 1 {
		return verdict{retryAfter: wait(1-b.writes, t.Writes), writeLimit: true}
	}
	b.units--
	if write {
		b.writes--
	}
	return verdict{ok: true, used: 1 - b.units/float64(t.Units.N)}
}

func (t *Throttle) refill(b *throttleBuckets, now time.Time) {
	elapsed := now.Sub(b.at).Seconds()
	if elapsed <= 0 {
		return
	}
	b.units = math.Min(float64(t.Units.N), b.units+elapsed*t.Units.perSecond())
	b.writes = math.Min(float64(t.Writes.N), b.writes+elapsed*t.Writes.perSecond())
	b.at = now
}

func (t *Throttle) dropFull(now time.Time) {
	for k, b := range t.buckets {
		t.refill(b, now)
		if b.units >= float64(t.Units.N) && b.writes >= float64(t.Writes.N) {
			delete(t.buckets, k)
		}
	}
}

// wait is how long the bucket takes to refill the missing tokens.
func wait(missing float64, r Rate) time.Duration {
	return time.Duration(missing / r.perSecond() * float64(time.Second))
}

// admit charges the call to its caller's (application, tenant) pair and
// answers 429 when the pair is over its limits. The $batch request itself is
// free: Graph evaluates the requests in a batch one by one, and each comes
// back here as a request of its own.
func (s *Server) admit(c *call, rt *route) bool {
	t := s.Throttle
	if t == nil || c.caller == nil || rt.pattern == batchPattern {
		return true
	}
	key := throttleKey{app: c.caller.AppID, tenant: c.caller.Tenant}
	write := c.r.Method != http.MethodGet && c.r.Method != http.MethodHead
	v := t.take(key, write, s.now())
	h := c.w.Header()
	if v.ok {
		h.Set("x-ms-resource-unit", "1")
		// Graph warns callers past 80% of their limit.
		if v.used > 0.8 {
			h.Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(v.used, 'f', 1, 64))
		}
		return true
	}
	limit, reason, bucket := "ReadWrite", "ResourceUnitLimitExceeded", "units"
	if v.writeLimit {
		limit, reason, bucket = "Write", "WriteLimitExceeded", "writes"
	}
	if s.Observer != nil {
		s.Observer.Throttled(bucket)
	}
	h.Set("x-ms-throttle-scope", "Tenant_Application/"+limit+"/"+key.app+"/"+key.tenant)
	h.Set("x-ms-throttle-information", reason)
	writeThrottled(c.w, c.r, v.retryAfter)
	return false
}

// retryAfterSeconds rounds a wait up to the whole seconds of Retry-After,
// at least 1, so that a client that honours it is not refused again.
func retryAfterSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

// writeThrottled writes Graph's 429. Its body is Graph's documented
// throttling response, whose innerError carries a code, a message and a
// status besides the ids that writeError writes, so it has its own writer.
func writeThrottled(w http.ResponseWriter, r *http.Request, retryAfter time.Duration) {
	ids := requestIDs(r)
	w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds(retryAfter)))
	b := make([]byte, 0, 320)
	b = append(b, `{"error":{"code":"TooManyRequests","message":"Please retry again later.","innerError":{"code":"429","date":`...)
	b = appendString(b, ids.date().UTC().Format("2006-01-02T15:04:05"))
	b = append(b, `,"message":"Please retry after","request-id":`...)
	b = appendString(b, ids.request)
	b = append(b, `,"client-request-id":`...)
	b = appendString(b, ids.client)
	b = append(b, `,"status":"429"}}}`...)
	writeJSON(w, http.StatusTooManyRequests, b)
}

// Reset refills every bucket, as if no request had been made.
func (t *Throttle) Reset() {
	t.mu.Lock()
	clear(t.buckets)
	t.mu.Unlock()
}
