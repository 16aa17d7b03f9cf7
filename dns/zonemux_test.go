package dns

import (
	"context"
	"errors"
	"slices"
	"testing"
)

// fakeFencer records which zones it was asked about.
type fakeFencer struct {
	name  string
	batch int
	calls []string
}

func (f *fakeFencer) Records(_ context.Context, zone string, _ []string) ([]Record, error) {
	f.calls = append(f.calls, "records "+zone)
	return []Record{{Name: zone, Type: "A", Content: f.name}}, nil
}
func (f *fakeFencer) Apply(_ context.Context, zone string, _, _ []Record) error {
	f.calls = append(f.calls, "apply "+zone)
	return nil
}
func (f *fakeFencer) FenceName(zone string) string { return f.name + "." + zone }
func (f *fakeFencer) ReadFence(_ context.Context, zone string) (ZoneFence, error) {
	f.calls = append(f.calls, "readfence "+zone)
	return ZoneFence{Name: f.FenceName(zone)}, nil
}
func (f *fakeFencer) ApplyFenced(_ context.Context, zone string, zf ZoneFence, _ FenceStamp, _, _ []Record) (ZoneFence, error) {
	f.calls = append(f.calls, "applyfenced "+zone)
	return zf, nil
}
func (f *fakeFencer) BatchSize() int { return f.batch }

// TestZoneMux_RoutesEachZoneToItsProvider: every call about a zone goes
// to that zone's provider and no other; a zone whose provider was not set
// up is a PermanentError; the batch size is the smallest.
func TestZoneMux_RoutesEachZoneToItsProvider(t *testing.T) {
	cf, rfc := &fakeFencer{name: "cf", batch: 200}, &fakeFencer{name: "rfc", batch: 1000}
	zones := map[string]string{"example.com": "cloudflare", "example.net": "rfc2136", "example.org": "route53"}
	m := &ZoneMux{Providers: map[string]Provider{"cloudflare": cf, "rfc2136": rfc}, Of: func(z string) string { return zones[z] }}
	ctx := context.Background()
	for _, z := range []string{"example.com", "example.net"} {
		recs, err := m.Records(ctx, z, []string{"A"})
		if err != nil || len(recs) != 1 || recs[0].Content != map[string]string{"example.com": "cf", "example.net": "rfc"}[z] {
			t.Fatalf("records of %s = %v, %v", z, recs, err)
		}
		zf, _ := m.ReadFence(ctx, z)
		m.ApplyFenced(ctx, z, zf, FenceStamp{}, nil, nil)
		m.Apply(ctx, z, nil, nil)
	}
	if want := []string{"records example.com", "readfence example.com", "applyfenced example.com", "apply example.com"}; !slices.Equal(cf.calls, want) {
		t.Errorf("cloudflare calls %v, want %v", cf.calls, want)
	}
	if want := []string{"records example.net", "readfence example.net", "applyfenced example.net", "apply example.net"}; !slices.Equal(rfc.calls, want) {
		t.Errorf("rfc2136 calls %v, want %v", rfc.calls, want)
	}
	if got := m.FenceName("example.net"); got != "rfc.example.net" {
		t.Errorf("fence name of example.net = %q", got)
	}
	var perm *PermanentError
	if _, err := m.Records(ctx, "example.org", nil); !errors.As(err, &perm) {
		t.Errorf("a zone whose provider was not set up: %v, want a PermanentError", err)
	}
	if b := m.BatchSize(); b != 200 {
		t.Errorf("batch size %d, want the smallest, 200", b)
	}
}
