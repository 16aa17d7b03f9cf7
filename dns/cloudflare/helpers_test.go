package cloudflare

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/clock/clocktest"
)

var (
	ip1 = netip.MustParseAddr("192.0.2.1")
	ip2 = netip.MustParseAddr("192.0.2.2")
	ip3 = netip.MustParseAddr("192.0.2.3")
)

// fakeClock is the shared fake clock (internal/clock/clocktest).
type fakeClock = clocktest.Clock

func newFakeClock() *fakeClock { return clocktest.New() }

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
