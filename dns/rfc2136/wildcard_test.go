package rfc2136

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	mdns "github.com/miekg/dns"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/namedlab"
)

// TestReconciler_NameCoveredOnlyByAWildcard: a managed name with no
// records of its own, under *.example.com, reads with the wildcard's
// synthesized address; the first write, conditional on it, is refused
// (NXRRSET: the name has no RRset), the provider finds the RRset
// synthesized, and the same pass lists it empty and creates the address
// ("RRset does not exist"). The next pass finds the RRset real and has
// nothing to do; the wildcard is untouched.
func TestReconciler_NameCoveredOnlyByAWildcard(t *testing.T) {
	s := namedlab.Start(t, zone, append(slices.Clone(seed), "* 300 IN A 192.0.2.50")...)
	p := newProvider(t, s, s.Secret)
	p.o.Names = func(string) []string { return []string{"www.example.com", "app.example.com"} }
	if got := s.Lookup(t, "app.example.com", "A"); !slices.Equal(got, []string{"192.0.2.50"}) {
		t.Fatalf("app.example.com A = %v, want the wildcard's address", got)
	}
	ip1, ip2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	var logs bytes.Buffer
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Health: func() dns.Health { return dns.Health{ip1: true, ip2: true} },
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	r.SetGroups([]dns.Group{{Zone: zone, Hostnames: []string{"www.example.com", "app.example.com"}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60}}, time.Minute)
	rep := r.Pass(context.Background())
	if rep.Err != nil {
		t.Fatalf("pass failed: %v\n%s", rep.Err, logs.String())
	}
	if got := sorted(s.Lookup(t, "app.example.com", "A")); !slices.Equal(got, []string{"192.0.2.1", "192.0.2.2"}) {
		t.Fatalf("app.example.com A = %v, want both addresses\n%s", got, logs.String())
	}
	if n := rep.FenceRefused(); n != 1 {
		t.Errorf("%d writes refused, want 1 (the one conditional on the synthesized records)", n)
	}
	rep = r.Pass(context.Background())
	if rep.Err != nil || rep.FenceRefused() != 0 {
		t.Fatalf("second pass: err %v, %d refused; want neither\n%s", rep.Err, rep.FenceRefused(), logs.String())
	}
	if w := p.synthesized(zone); len(w) != 0 {
		t.Errorf("still taken for synthesized after the create made them real: %v", w)
	}
	if got := s.Lookup(t, "other.example.com", "A"); !slices.Equal(got, []string{"192.0.2.50"}) {
		t.Errorf("the wildcard answers %v, want it untouched", got)
	}
}

// TestProvider_ExistTellsRealFromSynthesized: the prerequisite-only UPDATE
// tells RRsets of their own from synthesized ones, several at a time, and
// changes nothing (the SOA serial stays).
func TestProvider_ExistTellsRealFromSynthesized(t *testing.T) {
	s := namedlab.Start(t, zone, append(slices.Clone(seed), "* 300 IN A 192.0.2.50", "* 300 IN TXT \"wild\"")...)
	p := newProvider(t, s, s.Secret)
	serial := s.Lookup(t, zone, "SOA")
	k := func(name string, typ uint16) setKey { return setKey{name, typ} }
	keys := []setKey{k("www.example.com.", mdns.TypeA), k("app.example.com.", mdns.TypeA), k("mail.example.com.", mdns.TypeA),
		k("_goavail.example.com.", mdns.TypeTXT), k("www.example.com.", mdns.TypeTXT)}
	real, err := p.exist(context.Background(), zone, keys)
	if err != nil {
		t.Fatal(err)
	}
	want := map[setKey]bool{keys[0]: true, keys[2]: true, keys[4]: true}
	if len(real) != len(want) {
		t.Errorf("real RRsets %v, want %v", real, want)
	}
	for k := range want {
		if !real[k] {
			t.Errorf("%v taken for synthesized", k)
		}
	}
	if got := s.Lookup(t, zone, "SOA"); !slices.Equal(got, serial) {
		t.Errorf("the check changed the zone: SOA %v, was %v", got, serial)
	}
}
