package servertest

import (
	"sync/atomic"
	"time"
)

// Clock is a clock that the test sets while the server, the pages and the
// SDK read it from other goroutines.
type Clock struct{ nanos atomic.Int64 }

// NewClock returns a clock that reads t until it is set or advanced.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.Set(t)
	return c
}

// Now returns the clock's time in the local time zone, as time.Now does,
// without a monotonic reading.
func (c *Clock) Now() time.Time { return time.Unix(0, c.nanos.Load()) }

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) { c.nanos.Store(t.UnixNano()) }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }
