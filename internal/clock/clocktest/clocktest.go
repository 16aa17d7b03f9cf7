package clocktest

import (
	"sync"
	"time"

	"github.com/goavail/goavail/internal/clock"
)

// Clock is a clock.Clock that moves only when told to. Its timers fire when
// Advance passes their deadline.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

// New returns a Clock at a fixed instant (2023-11-14 22:13:20 UTC).
func New() *Clock { return &Clock{now: time.Unix(1_700_000_000, 0)} }

// Now is the fake time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// NewTimer returns a timer that fires when Advance passes now+d.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d), armed: true}
	c.timers = append(c.timers, t)
	c.fireLocked()
	return t
}

// Advance moves the clock on by d and fires the timers that are due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fireLocked()
}

// Deadline is when the earliest armed timer fires, and whether one is.
func (c *Clock) Deadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at time.Time
	ok := false
	for _, t := range c.timers {
		if t.armed && (!ok || t.at.Before(at)) {
			at, ok = t.at, true
		}
	}
	return at, ok
}

func (c *Clock) fireLocked() {
	for _, t := range c.timers {
		if t.armed && !c.now.Before(t.at) {
			t.armed = false
			select {
			case t.ch <- c.now:
			default:
			}
		}
	}
}

type timer struct {
	c     *Clock
	ch    chan time.Time
	at    time.Time
	armed bool
}

func (t *timer) C() <-chan time.Time { return t.ch }
func (t *timer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	select { // like Go 1.23 timers: no stale tick after a Reset
	case <-t.ch:
	default:
	}
	t.at, t.armed = t.c.now.Add(d), true
	t.c.fireLocked()
}
func (t *timer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.armed = false
}
