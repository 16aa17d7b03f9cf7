package route53

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
)

// TestReview_AliasAtAManagedName: a managed name whose only A set is an
// alias (to CloudFront) has none of the group's addresses, so the core
// plans to create them; Route 53 cannot hold a second A set there. That
// create must not hold back the zone's other changes: the dead address of
// www is removed in the pass, and the alias set stays exactly as it is.
func TestReview_AliasAtAManagedName(t *testing.T) {
	for _, weighted := range []bool{false, true} {
		l := newLab(t, labOpts{names: []string{"www.example.com", "alias.example.com"}, weighted: weighted, rate: -1})
		seedMigrated(l.emu)
		before := find(l.emu.Sets(zone), "alias.example.com", "A")
		var addrs []netip.Addr
		for _, s := range []string{"198.18.0.1", "198.18.0.2", "198.18.0.3"} {
			addrs = append(addrs, netip.MustParseAddr(s))
		}
		health := dns.Health{addrs[0]: false, addrs[1]: true, addrs[2]: true}
		r := dns.NewReconciler(dns.ReconcilerConfig{Provider: l.p, Health: func() dns.Health { return health },
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
		r.SetGroups([]dns.Group{{Zone: zone, Hostnames: []string{"www.example.com", "alias.example.com"}, Addrs: addrs, TTL: 60}}, time.Minute)
		rep := r.Pass(context.Background())
		www := find(l.emu.Sets(zone), "www.example.com", "A")
		if len(www) != 1 || slices.Contains(www[0].Values, "198.18.0.1") {
			t.Errorf("weighted=%v: www is %+v after the pass (err %v), want .1 removed", weighted, www, rep.Err)
		}
		if after := find(l.emu.Sets(zone), "alias.example.com", "A"); len(after) != 1 || after[0].AliasTarget == nil || after[0].AliasTarget.DNSName != before[0].AliasTarget.DNSName {
			t.Errorf("weighted=%v: alias.example.com is %+v, want the alias set as it was", weighted, after)
		}
	}
}
