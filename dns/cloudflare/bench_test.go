package cloudflare

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
)

// BenchmarkMassOutage_APICalls: 50 hostnames × 101 addresses, 100 of them go
// down at once. Reports the API requests of the pass that removes them
// (the zone id is already cached), for the Free plan's batch size and a paid
// plan's.
func BenchmarkMassOutage_APICalls(b *testing.B) {
	for _, batch := range []int{200, 3500} {
		b.Run(fmt.Sprintf("batch_size=%d", batch), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				emu := cfemu.New()
				emu.AddZone("example.com")
				emu.SetMaxBatch(batch) // the plan's limit: 200 Free, 3,500 paid
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
				cf, _ := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, BatchSize: batch, RequestTimeout: 30 * time.Second})
				cf.zoneID(context.Background(), "example.com")
				emu.ResetRequests()
				r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return health }, Log: discard()})
				r.SetGroups([]dns.Group{g}, time.Minute)
				// A batch the emulator refuses as too large is split; the
				// passes go on until the zone is in step (a pass that has
				// spent its time budget leaves the rest to the next).
				passes := 0
				for ; passes < 10; passes++ {
					rep := r.Pass(context.Background())
					if rep.Err != nil {
						b.Fatal(rep.Err)
					}
					if len(rep.Plans) == 1 && len(rep.Plans[0].Deletes) == 0 {
						break
					}
				}
				a := 0
				for _, rec := range emu.Records("example.com") {
					if rec.Type == "A" {
						a++
					}
				}
				if a != 50 {
					b.Fatalf("%d A records left after %d passes, want 50", a, passes)
				}
				b.ReportMetric(float64(passes), "passes")
				calls, lists := 0, 0
				for _, q := range emu.Requests() {
					calls++
					if strings.HasSuffix(q.Path, "/dns_records") {
						lists++
					}
				}
				b.ReportMetric(float64(calls), "api-calls")
				b.ReportMetric(float64(lists), "list-calls")
				b.ReportMetric(5000, "records-deleted")
				emu.Close()
			}
		})
	}
}
