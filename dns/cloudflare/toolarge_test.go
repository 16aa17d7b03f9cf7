package cloudflare

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
)

// TestReconciler_BatchSizeOverThePlan: batch_size 3,500 on a zone whose
// plan takes 200 changes a batch. The first batch is refused for its size
// (1004, "exceeds the limit of 200"); the pass makes the zone's batches
// smaller and removes every dead address in that pass. Before, the
// refusal was split like a bad change's, the split budget ran out, and
// 3,251 of the 5,000 removals were quarantined (dead addresses left in
// DNS until the quarantine's retry).
func TestReconciler_BatchSizeOverThePlan(t *testing.T) {
	emu := cfemu.New()
	defer emu.Close()
	emu.AddZone("example.com")
	g := dns.Group{Zone: "example.com", TTL: 60}
	for h := 0; h < 50; h++ {
		g.Hostnames = append(g.Hostnames, fmt.Sprintf("h%d.example.com", h))
	}
	health := dns.Health{}
	for a := 0; a < 101; a++ {
		addr := netip.AddrFrom4([4]byte{198, 18, byte(a / 250), byte(a%250 + 1)})
		g.Addrs = append(g.Addrs, addr)
		health[addr] = a == 100
		for _, h := range g.Hostnames {
			emu.Seed("example.com", cfemu.Record{Name: h, Type: "A", Content: addr.String(), TTL: 60})
		}
	}
	cf, err := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, BatchSize: 3500, RequestTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return health }, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	r.SetGroups([]dns.Group{g}, time.Minute)
	rep := r.Pass(context.Background())
	if rep.Err != nil {
		t.Fatalf("pass: %v", rep.Err)
	}
	p := rep.Plans[0]
	if len(p.Deletes) != 5000 || len(p.Quarantined) != 0 || len(p.Failed) != 0 {
		t.Fatalf("pass: %d deletes, %d quarantined, %d failed; want 5000, 0, 0", len(p.Deletes), len(p.Quarantined), len(p.Failed))
	}
	a := 0
	for _, rec := range emu.Records("example.com") {
		if rec.Type == "A" {
			a++
		}
	}
	if a != 50 {
		t.Fatalf("%d A records left, want 50 (the one live address per name)", a)
	}
	if n := strings.Count(logs.String(), "dns batch refused as too large"); n != 1 {
		t.Errorf("%d warnings about the batch size, want 1:\n%s", n, logs.String())
	}
	refused := 0
	for _, q := range emu.Requests() {
		if q.Status == 400 {
			refused++
		}
	}
	if refused != 1 {
		t.Errorf("%d batches refused, want 1 (the first; the rest are sent at the plan's size)", refused)
	}
	// The fresh zone's fence, made in a request of its own before the
	// refused batch, is the one the next batch chains on: no listing again.
	if n := p.FenceRefused; n != 0 {
		t.Errorf("%d writes refused as stale, want 0", n)
	}
}
