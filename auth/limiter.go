package auth

import (
	"strings"
	"sync"
	"time"
)

// SignInLimits bound failed sign-ins, the brute-force guard of every flow
// that takes a password (Entra's smart lockout does the same job).
type SignInLimits struct {
	// PerUser is how many failures a user name may have in Window before
	// its sign-ins are refused until the window ends; default 5.
	PerUser int
	// PerAddress is the same for one client address, whatever the user
	// names it tries; default 20.
	PerAddress int
	// Window is the period failures are counted in; default 5 minutes.
	Window time.Duration
}

func (l SignInLimits) withDefaults() SignInLimits {
	if l.PerUser <= 0 {
		l.PerUser = 5
	}
	if l.PerAddress <= 0 {
		l.PerAddress = 20
	}
	if l.Window <= 0 {
		l.Window = 5 * time.Minute
	}
	return l
}

// maxLimiterEntries bounds the limiter's memory. Past it, expired entries
// go first, then arbitrary ones: an attacker who floods it with names can
// make it forget counts, but not exhaust the server.
const maxLimiterEntries = 50000

// signInLimiter counts failed sign-ins in fixed windows, per user name and
// per client address, in memory: each node of a deployment counts its own.
type signInLimiter struct {
	limits   SignInLimits
	mu       sync.Mutex
	failures map[string]*failureCount
}

type failureCount struct {
	n     int
	until time.Time // end of the window
}

func newSignInLimiter(l SignInLimits) *signInLimiter {
	return &signInLimiter{limits: l.withDefaults(), failures: map[string]*failureCount{}}
}

func userLimitKey(tenant, upn string) string {
	return "u\x00" + strings.ToLower(tenant) + "\x00" + strings.ToLower(upn)
}

func addressLimitKey(addr string) string { return "a\x00" + addr }

// locked reports whether the user or the address has used up its failures.
func (l *signInLimiter) locked(userKey, addrKey string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.over(userKey, l.limits.PerUser, now) || (addrKey != "" && l.over(addrKey, l.limits.PerAddress, now))
}

func (l *signInLimiter) over(key string, limit int, now time.Time) bool {
	f, ok := l.failures[key]
	return ok && now.Before(f.until) && f.n >= limit
}

// fail counts a failed sign-in against both keys.
func (l *signInLimiter) fail(userKey, addrKey string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range []string{userKey, addrKey} {
		if k == "" {
			continue
		}
		f, ok := l.failures[k]
		if !ok || !now.Before(f.until) {
			l.makeRoom(now)
			f = &failureCount{until: now.Add(l.limits.Window)}
			l.failures[k] = f
		}
		f.n++
	}
}

func (l *signInLimiter) makeRoom(now time.Time) {
	if len(l.failures) < maxLimiterEntries {
		return
	}
	for k, f := range l.failures {
		if !now.Before(f.until) {
			delete(l.failures, k)
		}
	}
	for k := range l.failures {
		if len(l.failures) < maxLimiterEntries {
			return
		}
		delete(l.failures, k)
	}
}
