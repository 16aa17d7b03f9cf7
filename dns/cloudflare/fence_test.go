package cloudflare

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
)

// fenceRecords are the TXT records at the zone's fence name.
func fenceRecords(emu *cfemu.Server, zone string) (genesis int, stamps []string, other []string) {
	for _, r := range emu.Records(zone) {
		if r.Type != "TXT" || r.Name != "_goavail."+zone {
			continue
		}
		switch {
		case r.Content == dns.GenesisContent:
			genesis++
		case strings.HasPrefix(r.Content, dns.FencePrefix+" "):
			stamps = append(stamps, r.Content)
		default:
			other = append(other, r.Content)
		}
	}
	return genesis, stamps, other
}

// TestFence_FirstWriteMakesTheFence: a zone goavail never wrote gets its
// genesis record and a stamp naming the writer with the first write, and
// a TXT record of someone else's at the fence name is left alone.
func TestFence_FirstWriteMakesTheFence(t *testing.T) {
	emu := cfemu.New()
	t.Cleanup(emu.Close)
	emu.AddZone("example.com")
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 60})
	emu.Seed("example.com", cfemu.Record{Name: "_goavail.example.com", Type: "TXT", Content: "not goavail's"})
	cf, err := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return dns.Health{ip1: false, ip2: true} }, Log: discard(),
		Stamp: func() dns.FenceStamp { return dns.FenceStamp{Deployment: "prod", Writer: "agent-1", Term: 7} }})
	r.SetGroups([]dns.Group{small}, time.Minute)
	if rep := r.Pass(context.Background()); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if got := aRecords(emu); got != "www.example.com A 192.0.2.2" {
		t.Errorf("records %s", got)
	}
	genesis, stamps, other := fenceRecords(emu, "example.com")
	if genesis != 1 || len(stamps) != 1 || len(other) != 1 {
		t.Fatalf("genesis %d, stamps %q, other %q; want 1, 1, 1", genesis, stamps, other)
	}
	s, err := dns.ParseFenceStamp(stamps[0])
	if err != nil || s.Deployment != "prod" || s.Writer != "agent-1" || s.Term != 7 {
		t.Errorf("stamp %q: %+v, %v", stamps[0], s, err)
	}
	// The next write replaces the stamp; the genesis stays.
	r2 := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return dns.Health{ip1: true, ip2: true} }, Log: discard(),
		Stamp: func() dns.FenceStamp { return dns.FenceStamp{Deployment: "prod", Writer: "agent-2", Term: 8} }})
	r2.SetGroups([]dns.Group{small}, time.Minute)
	if rep := r2.Pass(context.Background()); rep.Err != nil || rep.FenceRefused() != 0 {
		t.Fatalf("second write: %v, refusals %d", rep.Err, rep.FenceRefused())
	}
	if got := aRecords(emu); got != "www.example.com A 192.0.2.1,www.example.com A 192.0.2.2" {
		t.Errorf("after the second write: records %s", got)
	}
	if genesis, stamps, _ := fenceRecords(emu, "example.com"); genesis != 1 || len(stamps) != 1 || strings.Contains(stamps[0], "agent-1") {
		t.Errorf("after the second write: genesis %d, stamps %q", genesis, stamps)
	}
}

// TestFence_StaleWriteRefusedByTheEmulator: writer A lists the zone; before
// A's batch goes, writer B (a newer writer) changes the zone. Cloudflare
// (the emulator) refuses A's batch whole, because its delete names the
// fence stamp B replaced; A lists again and plans on B's zone.
func TestFence_StaleWriteRefusedByTheEmulator(t *testing.T) {
	emu, cf := newFencedEmu(t)
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 60})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.3", TTL: 60})
	cfB, err := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := dns.NewReconciler(dns.ReconcilerConfig{Provider: cfB, Health: func() dns.Health { return dns.Health{ip1: true, ip2: true, ip3: false} }, Log: discard(),
		Stamp: func() dns.FenceStamp { return dns.FenceStamp{Deployment: "goavail", Writer: "b", Term: 2} }})
	b.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}}, time.Minute)
	p := &raceProvider{Adapter: cf, afterList: func() {
		if rep := b.Pass(context.Background()); rep.Err != nil {
			t.Errorf("b: %v", rep.Err)
		}
	}}
	a := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Health: func() dns.Health { return dns.Health{ip1: false, ip2: true, ip3: true} }, Log: discard(),
		Stamp: func() dns.FenceStamp { return dns.FenceStamp{Deployment: "goavail", Writer: "a", Term: 1} }})
	a.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}}, time.Minute)
	emu.ResetRequests()
	rep := a.Pass(context.Background())
	if rep.Err != nil || rep.FenceRefused() != 1 {
		t.Fatalf("a: err %v, refusals %d, want nil and 1", rep.Err, rep.FenceRefused())
	}
	var refused, committed int
	for _, req := range emu.Requests() {
		if !strings.HasSuffix(req.Path, "/batch") {
			continue
		}
		switch req.Status {
		case http.StatusNotFound:
			refused++
		case http.StatusOK:
			committed++
		}
	}
	if refused != 1 || committed != 2 { // b's write, then a's re-planned one
		t.Errorf("batches: %d refused, %d committed; want 1 and 2", refused, committed)
	}
	// a's second plan, on b's zone (ip1, ip2): restore ip3, remove ip1.
	if got := aRecords(emu); got != "www.example.com A 192.0.2.2,www.example.com A 192.0.2.3" {
		t.Errorf("records %s", got)
	}
}

// TestFence_GenesisRace: two agents that both found no fence write at
// once: the second's genesis is refused as identical, and nothing of its
// write is applied.
func TestFence_GenesisRace(t *testing.T) {
	emu := cfemu.New()
	t.Cleanup(emu.Close)
	emu.AddZone("example.com")
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
	cf, err := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fa, err := cf.ReadFence(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	fb, err := cf.ReadFence(ctx, "example.com")
	if err != nil {
		t.Fatal(err)
	}
	add := func(c string) []dns.Record {
		return []dns.Record{{Name: "www.example.com", Type: "A", Content: c, TTL: 60}}
	}
	if _, err := cf.ApplyFenced(ctx, "example.com", fa, dns.FenceStamp{Deployment: "goavail", Writer: "a"}, add("192.0.2.2"), nil); err != nil {
		t.Fatal(err)
	}
	_, err = cf.ApplyFenced(ctx, "example.com", fb, dns.FenceStamp{Deployment: "goavail", Writer: "b"}, add("192.0.2.3"), nil)
	var moved *dns.FenceMovedError
	if !errors.As(err, &moved) {
		t.Fatalf("b's racing first write: %v, want a FenceMovedError", err)
	}
	if got := aRecords(emu); got != "www.example.com A 192.0.2.1,www.example.com A 192.0.2.2" {
		t.Errorf("records %s", got)
	}
	if genesis, stamps, _ := fenceRecords(emu, "example.com"); genesis != 1 || len(stamps) != 1 {
		t.Errorf("genesis %d, stamps %q", genesis, stamps)
	}
}
