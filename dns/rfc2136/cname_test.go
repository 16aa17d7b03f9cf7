package rfc2136

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/namedlab"
)

// TestReconciler_ManagedNameIsACNAME: named answers NOERROR to an UPDATE
// adding A records beside a CNAME and adds nothing. The creation at the
// CNAME is refused before it is sent and quarantined, naming the CNAME;
// the zone's other change (a new address at www) lands in the same pass.
func TestReconciler_ManagedNameIsACNAME(t *testing.T) {
	s := namedlab.Start(t, zone, append(slices.Clone(seed), "alias 300 IN CNAME www")...)
	p := newProvider(t, s, s.Secret)
	p.o.Names = func(string) []string { return []string{"www.example.com", "alias.example.com"} }
	ip1, ip2, ip3 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	var logs bytes.Buffer
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Health: func() dns.Health { return dns.Health{ip1: true, ip2: true, ip3: true} },
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	r.SetGroups([]dns.Group{
		{Zone: zone, Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60},
		{Zone: zone, Hostnames: []string{"alias.example.com"}, Addrs: []netip.Addr{ip1}, TTL: 60},
	}, time.Minute)
	rep := r.Pass(context.Background())
	if len(rep.Plans) != 1 {
		t.Fatalf("plans %+v", rep.Plans)
	}
	q := rep.Plans[0].Quarantined
	if len(q) != 1 || q[0].Record.Name != "alias.example.com" {
		t.Fatalf("quarantined %+v, want alias.example.com's creation\n%s", q, logs.String())
	}
	if !strings.Contains(logs.String(), "alias.example.com is a CNAME (to www.example.com.)") {
		t.Errorf("the log does not name the CNAME:\n%s", logs.String())
	}
	if got := sorted(s.Lookup(t, "www.example.com", "A")); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}) {
		t.Errorf("www A = %v, want the new address added beside the refused creation", got)
	}
	if got := s.Lookup(t, "alias.example.com", "CNAME"); !slices.Equal(got, []string{"www.example.com."}) {
		t.Errorf("alias CNAME = %v", got)
	}
}
