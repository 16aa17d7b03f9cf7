package route53

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/r53emu"
)

// TestReview_NoNameEmptyAcrossBatches: passes whose writes take several
// change batches (3 names of 300 values each, 599 records an edit) also
// change names of several sets: www (weighted sets a and z) loses both its
// addresses while a third comes up; api (failover) loses its PRIMARY's.
// After every committed batch of every pass, journaled by the emulator,
// each managed name has an A value (invariant 3), and in the end www
// serves only the live address.
func TestReview_NoNameEmptyAcrossBatches(t *testing.T) {
	names := []string{"big0.example.com", "big1.example.com", "big2.example.com", "www.example.com", "api.example.com"}
	l := newLab(t, labOpts{names: names, rate: -1})
	var bigAddrs []netip.Addr
	var vals []string
	for i := range 300 {
		a := netip.AddrFrom4([4]byte{198, 19, byte(i / 250), byte(i%250 + 1)})
		bigAddrs, vals = append(bigAddrs, a), append(vals, a.String())
	}
	for _, n := range names[:3] {
		l.emu.Seed(zone, set(n, "A", "", nil, 60, vals...))
	}
	l.emu.Seed(zone, set("www.example.com", "A", "a", i64(1), 60, "198.18.0.1"))
	l.emu.Seed(zone, set("www.example.com", "A", "z", i64(1), 60, "198.18.0.2"))
	l.emu.Seed(zone, r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "p", Failover: "PRIMARY", TTL: i64(60), Values: []string{"198.18.1.1"}})
	l.emu.Seed(zone, r53emu.RRSet{Name: "api.example.com", Type: "A", SetIdentifier: "s", Failover: "SECONDARY", TTL: i64(60), Values: []string{"198.18.1.2"}})
	w := []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")}
	a := []netip.Addr{netip.MustParseAddr("198.18.1.1"), netip.MustParseAddr("198.18.1.2")}
	health := dns.Health{w[0]: false, w[1]: false, w[2]: true, a[0]: false, a[1]: true}
	for i, b := range bigAddrs {
		health[b] = i >= 2 // two dead at each big name
	}
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: l.p, Health: func() dns.Health { return health },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	r.SetGroups([]dns.Group{
		{Zone: zone, Hostnames: names[:3], Addrs: bigAddrs, TTL: 60},
		{Zone: zone, Hostnames: []string{"www.example.com"}, Addrs: w, TTL: 60},
		{Zone: zone, Hostnames: []string{"api.example.com"}, Addrs: a, TTL: 60},
	}, time.Minute)
	l.emu.StartJournal()
	for pass := range 3 {
		if rep := r.Pass(context.Background()); rep.Err != nil {
			t.Fatalf("pass %d: %v", pass, rep.Err)
		}
	}
	batches := 0
	for _, e := range l.emu.Journal() {
		if !e.Committed {
			continue
		}
		batches++
		for _, n := range names {
			if values := find(e.Zones[zone], n, "A"); len(values) == 0 {
				t.Errorf("after batch %d (version %d), %s has no A set", batches, e.Version, n)
			}
		}
	}
	if batches < 4 {
		t.Errorf("%d batches committed, want the first pass's write split (3 big edits) and more", batches)
	}
	got := find(l.emu.Sets(zone), "www.example.com", "A")
	var served []string
	for _, s := range got {
		served = append(served, fmt.Sprintf("%s:%v", s.SetIdentifier, s.Values))
	}
	if len(got) != 1 || len(got[0].Values) != 1 || got[0].Values[0] != "198.18.0.3" {
		t.Errorf("www serves %v, want only 198.18.0.3", served)
	}
}
