package route53

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
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

// TestReview_OnlyItsOwn: through the core, a dead managed address leaves
// a weighted set (TTL 17, a health check) that also holds an address
// goavail does not manage; the set keeps that address, its identifier,
// weight, TTL and health check, and the name's AAAA and TXT sets, another
// name's set and an alias set are not touched (invariant 2).
func TestReview_OnlyItsOwn(t *testing.T) {
	l := newLab(t, labOpts{names: []string{"www.example.com", "alias.example.com"}, rate: -1})
	seedMigrated(l.emu)
	l.emu.Seed(zone, r53emu.RRSet{Name: "www.example.com", Type: "A", SetIdentifier: "www", Weight: i64(7), HealthCheckID: "abcdef11-2222-3333-4444-555555fedcba", TTL: i64(17),
		Values: []string{"198.18.0.1", "198.18.0.2", "203.0.113.9"}})
	l.emu.Seed(zone, set("www.example.com", "AAAA", "", nil, 60, "2001:db8::9"))
	l.emu.Seed(zone, set("www.example.com", "TXT", "", nil, 60, `"v=spf1 -all"`))
	before := l.emu.Sets(zone)
	a := []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2")}
	health := dns.Health{a[0]: false, a[1]: true}
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: l.p, Health: func() dns.Health { return health },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	r.SetGroups([]dns.Group{{Zone: zone, Hostnames: []string{"www.example.com"}, Addrs: a, TTL: 60}}, time.Minute)
	if rep := r.Pass(context.Background()); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	after := l.emu.Sets(zone)
	for _, s := range before {
		if s.Name == "_goavail.example.com." {
			continue
		}
		want := s
		if s.Name == "www.example.com." && s.Type == "A" {
			want.Values = []string{"198.18.0.2", "203.0.113.9"}
		}
		got := find(after, strings.TrimSuffix(s.Name, "."), s.Type)
		if len(got) != 1 || fmt.Sprintf("%+v", flatSet(got[0])) != fmt.Sprintf("%+v", flatSet(want)) {
			t.Errorf("%s %s: %+v, want %+v", s.Name, s.Type, got, want)
		}
	}
}

// flatSet is s with its pointers followed and its values sorted.
func flatSet(s r53emu.RRSet) []any {
	v := slices.Sorted(slices.Values(s.Values))
	var alias any
	if s.AliasTarget != nil {
		alias = *s.AliasTarget
	}
	var w, ttl any
	if s.Weight != nil {
		w = *s.Weight
	}
	if s.TTL != nil {
		ttl = *s.TTL
	}
	return []any{s.Name, s.Type, s.SetIdentifier, w, ttl, s.HealthCheckID, s.Failover, alias, v}
}

// TestReview_IdentifierWithABar: set identifiers are free text: "blue|x"
// and "blue" at one name both hold the dead address. Its removal takes it
// out of both sets, each named by its own record (not "blue|x" read as
// the set "blue").
func TestReview_IdentifierWithABar(t *testing.T) {
	l := newLab(t, labOpts{names: []string{"www.example.com"}, rate: -1})
	l.emu.Seed(zone, set("www.example.com", "A", "blue|x", i64(1), 60, "198.18.0.1", "198.18.0.3"))
	l.emu.Seed(zone, set("www.example.com", "A", "blue", i64(1), 60, "198.18.0.1", "198.18.0.2"))
	a := []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")}
	health := dns.Health{a[0]: false, a[1]: true, a[2]: true}
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: l.p, Health: func() dns.Health { return health },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	r.SetGroups([]dns.Group{{Zone: zone, Hostnames: []string{"www.example.com"}, Addrs: a, TTL: 60}}, time.Minute)
	for range 2 {
		if rep := r.Pass(context.Background()); rep.Err != nil {
			t.Fatal(rep.Err)
		}
	}
	for _, s := range find(l.emu.Sets(zone), "www.example.com", "A") {
		if slices.Contains(s.Values, "198.18.0.1") {
			t.Errorf("set %q still serves the dead address: %v", s.SetIdentifier, s.Values)
		}
	}
}

// TestReview_SetTooBigToRewrite: a removal from a set of 500 values cannot
// be made (Route 53 counts the set's DELETE and CREATE, 999 records, plus
// the fence's); it is quarantined alone, saying so, and the removal at
// another name in the same pass lands.
func TestReview_SetTooBigToRewrite(t *testing.T) {
	l := newLab(t, labOpts{names: []string{"www.example.com", "api.example.com"}, rate: -1})
	var addrs []netip.Addr
	var vals []string
	for i := range 500 {
		a := netip.AddrFrom4([4]byte{198, 19, byte(i / 250), byte(i%250 + 1)})
		addrs, vals = append(addrs, a), append(vals, a.String())
	}
	l.emu.Seed(zone, set("www.example.com", "A", "", nil, 60, vals...))
	l.emu.Seed(zone, set("api.example.com", "A", "", nil, 60, vals[:3]...))
	health := dns.Health{}
	for i, a := range addrs {
		health[a] = i != 0
	}
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: l.p, Health: func() dns.Health { return health },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now})
	r.SetGroups([]dns.Group{{Zone: zone, Hostnames: []string{"www.example.com"}, Addrs: addrs, TTL: 60}, {Zone: zone, Hostnames: []string{"api.example.com"}, Addrs: addrs[:3], TTL: 60}}, time.Minute)
	rep := r.Pass(context.Background())
	if rep.Err != nil {
		t.Fatal(rep.Err)
	}
	p := rep.Plans[0]
	if len(p.Quarantined) != 1 || p.Quarantined[0].Record.Name != "www.example.com" || !strings.Contains(p.Quarantined[0].Message, "split its values into several weighted sets") {
		t.Fatalf("quarantined %+v, want www's removal alone, saying what to do", p.Quarantined)
	}
	if got := find(l.emu.Sets(zone), "api.example.com", "A"); len(got) != 1 || slices.Contains(got[0].Values, vals[0]) {
		t.Errorf("api: %+v, want the dead address removed", got)
	}
}
