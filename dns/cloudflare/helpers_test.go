package cloudflare

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
)

var (
	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
	ip3 = netip.MustParseAddr("192.0.2.3")
)

// fakeClock is a Clock that moves only when told to. Its timers fire when
// Advance passes their deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) NewTimer(d time.Duration) dns.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1), at: c.now.Add(d), armed: true}
	c.timers = append(c.timers, t)
	c.fireLocked()
	return t
}

// Advance moves the clock on by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fireLocked()
}

// Deadline is when the earliest armed timer fires, and whether one is.
func (c *fakeClock) Deadline() (time.Time, bool) {
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

func (c *fakeClock) fireLocked() {
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

type fakeTimer struct {
	c     *fakeClock
	ch    chan time.Time
	at    time.Time
	armed bool
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }
func (t *fakeTimer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	select { // like Go 1.23 timers: no stale tick after a Reset
	case <-t.ch:
	default:
	}
	t.at, t.armed = t.c.now.Add(d), true
	t.c.fireLocked()
}
func (t *fakeTimer) Stop() {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	t.armed = false
}

type health struct {
	mu sync.Mutex
	h  dns.Health
}

func (h *health) set(a netip.Addr, up bool) { h.mu.Lock(); h.h[a] = up; h.mu.Unlock() }
func (h *health) get() dns.Health {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := dns.Health{}
	for k, v := range h.h {
		out[k] = v
	}
	return out
}

var small = dns.Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60, Comment: "managed by goavail"}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
