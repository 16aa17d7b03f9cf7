package cloudflare

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
)

// TestReconciler_BatchRefusedForOneReasonCostsThreeRequests: through the
// real SDK against the emulator (which refuses a ttl under 60 with 9021,
// as Cloudflare does outside Enterprise zones), 64 restores of a group
// with ttl 30 cost 3 batch requests, not 127, and are quarantined with
// 9021 as a set.
func TestReconciler_BatchRefusedForOneReasonCostsThreeRequests(t *testing.T) {
	emu, cf := newFencedEmu(t)
	var addrs []netip.Addr
	h := dns.Health{}
	for i := 1; i <= 64; i++ {
		a := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		addrs = append(addrs, a)
		h[a] = true
	}
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return h }, Log: discard()})
	r.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: addrs, TTL: 30}}, time.Minute)
	emu.ResetRequests()
	r.Pass(context.Background())
	if n := countBatches(emu); n != 3 {
		t.Errorf("%d batch requests, want 3", n)
	}
	q := r.Quarantined()
	if len(q) != 64 || q[0].Code != 9021 || !q[0].Set {
		t.Errorf("quarantined %d, first %+v; want 64 as a set with 9021", len(q), q)
	}
}
