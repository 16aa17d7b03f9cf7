package dns

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// sizedZone is a fenceZone with a batch size of its own.
type sizedZone struct {
	*fenceZone
	size int
}

func (z sizedZone) BatchSize() int { return z.size }

// TestReconciler_BatchSizePerZone: behind a ZoneMux each zone's batches
// have its own provider's size, not the smallest of all: 7 creates are 4
// writes at a provider of 4 (2 a batch, room for the fence) and one write
// at a provider of 20.
func TestReconciler_BatchSizePerZone(t *testing.T) {
	small, large := &fenceZone{}, &fenceZone{}
	zones := map[string]string{"example.com": "cloudflare", "example.net": "rfc2136"}
	m := &ZoneMux{Providers: map[string]Provider{"cloudflare": sizedZone{small, 4}, "rfc2136": sizedZone{large, 20}}, Of: func(z string) string { return zones[z] }}
	var addrs []netip.Addr
	h := Health{}
	for i := 1; i <= 7; i++ {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		addrs = append(addrs, a)
		h[a] = true
	}
	r := NewReconciler(ReconcilerConfig{Provider: m, Health: func() Health { return h }, Log: discard()})
	r.SetGroups([]Group{
		{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: addrs, TTL: 60},
		{Zone: "example.net", Hostnames: []string{"www.example.net"}, Addrs: addrs, TTL: 60},
	}, time.Minute)
	if rep := r.Pass(context.Background()); rep.Err != nil {
		t.Fatal(rep.Err)
	}
	if len(small.writes) != 4 {
		t.Errorf("example.com (batch size 4): %d writes, want 4: %q", len(small.writes), small.writes)
	}
	if len(large.writes) != 1 {
		t.Errorf("example.net (batch size 20): %d writes, want 1: %q", len(large.writes), large.writes)
	}
}

// TestZoneMux_BatchSizeFor: each zone's provider's size; 200 for a
// provider that states none or a zone with no provider.
func TestZoneMux_BatchSizeFor(t *testing.T) {
	zones := map[string]string{"example.com": "cloudflare", "example.net": "rfc2136", "example.org": "plain", "example.io": "route53"}
	m := &ZoneMux{Providers: map[string]Provider{"cloudflare": &fakeFencer{batch: 200}, "rfc2136": &fakeFencer{batch: 1000}, "plain": &fenceZone{}},
		Of: func(z string) string { return zones[z] }}
	for z, want := range map[string]int{"example.com": 200, "example.net": 1000, "example.org": 200, "example.io": 200} {
		if got := m.BatchSizeFor(z); got != want {
			t.Errorf("BatchSizeFor(%s) = %d, want %d", z, got, want)
		}
	}
}

// checkingFencer is a fakeFencer with a CheckZones that records its zones.
type checkingFencer struct {
	fakeFencer
	checked []string
	err     error
}

func (c *checkingFencer) CheckZones(_ context.Context, zones []string) error {
	c.checked = append(c.checked, zones...)
	return c.err
}

// TestZoneMux_CheckZones: each zone goes to its own provider's CheckZones
// and no other; the errors come back joined, each naming its provider; a
// provider without CheckZones is skipped; a zone whose provider was not
// set up is a PermanentError.
func TestZoneMux_CheckZones(t *testing.T) {
	refused := &PermanentError{Err: errors.New("TSIG key goavail. refused")}
	cf, rfc := &checkingFencer{}, &checkingFencer{err: refused}
	zones := map[string]string{"a.com": "cloudflare", "b.com": "rfc2136", "c.com": "cloudflare", "d.com": "plain", "e.com": "route53"}
	m := &ZoneMux{Providers: map[string]Provider{"cloudflare": cf, "rfc2136": rfc, "plain": &fakeFencer{}}, Of: func(z string) string { return zones[z] }}
	err := m.CheckZones(context.Background(), []string{"a.com", "b.com", "c.com", "d.com"})
	if !slices.Equal(cf.checked, []string{"a.com", "c.com"}) || !slices.Equal(rfc.checked, []string{"b.com"}) {
		t.Fatalf("checked: cloudflare %v, rfc2136 %v", cf.checked, rfc.checked)
	}
	var perm *PermanentError
	if !errors.As(err, &perm) || !strings.Contains(err.Error(), "provider rfc2136: TSIG key goavail. refused") {
		t.Fatalf("err = %v, want rfc2136's PermanentError, naming the provider", err)
	}
	rfc.err = nil
	if err := m.CheckZones(context.Background(), []string{"a.com", "b.com"}); err != nil {
		t.Fatalf("all good: %v", err)
	}
	if err := m.CheckZones(context.Background(), []string{"e.com"}); !errors.As(err, &perm) {
		t.Fatalf("zone of a provider not set up: %v, want a PermanentError", err)
	}
}
