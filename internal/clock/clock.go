// Package clock is extdir's one clock: the wall clock plus an offset that
// a test moves (PUT /admin/clock, extdirtest's Clock). Everything that
// reads the time of day (creation and deletion times, the retention sweep,
// token lifetimes, throttling windows, the request journal) takes its Now,
// so that moving the offset moves all of them together, as wtf's injected
// clock does. Durations measured for logs and metrics keep the real clock.
package clock

import (
	"sync/atomic"
	"time"
)

// Clock is safe for concurrent use; the zero value and nil are the wall
// clock.
type Clock struct {
	offset atomic.Int64 // nanoseconds added to the wall clock
}

// Now is the wall clock plus the offset.
func (c *Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return time.Now().Add(time.Duration(c.offset.Load()))
}

// Offset is how far the clock is from the wall clock.
func (c *Clock) Offset() time.Duration {
	if c == nil {
		return 0
	}
	return time.Duration(c.offset.Load())
}

// Set moves the clock so that Now reads t (and then runs on from there).
func (c *Clock) Set(t time.Time) {
	c.offset.Store(int64(time.Until(t)))
}

// Advance moves the clock d forward (backward for a negative d) and returns
// the new Now.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.offset.Add(int64(d))
	return c.Now()
}

// Reset puts the clock back on the wall clock.
func (c *Clock) Reset() { c.offset.Store(0) }
