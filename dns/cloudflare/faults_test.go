package cloudflare

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
)

// TestFaults_ConvergeAfterEachFault runs the reconcile loop, through the
// real SDK, against the emulator while it injects one fault each: a burst
// of 5xx, a 429 with Retry-After, answers slower than the client timeout,
// the API away (connection refused) for 30 s, and failed batches. After
// each fault ends the zone converges with nothing lost: the down address
// removed, the missing one created, unmanaged records untouched. During a
// Retry-After no request at all is sent. The subtests run in parallel; the
// 30 s outage bounds the run.
func TestFaults_ConvergeAfterEachFault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inject func(emu *cfemu.Server)
		check  func(t *testing.T, reqs []cfemu.Request)
	}{
		{name: "burst of 5xx", inject: func(emu *cfemu.Server) {
			emu.Inject(cfemu.Fault{Status: http.StatusServiceUnavailable, Count: 4})
		}},
		{name: "429 with Retry-After", inject: func(emu *cfemu.Server) {
			emu.Inject(cfemu.Fault{Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second, Count: 1})
		}, check: func(t *testing.T, reqs []cfemu.Request) {
			i := slices.IndexFunc(reqs, func(r cfemu.Request) bool { return r.Status == http.StatusTooManyRequests })
			if i < 0 || i+1 >= len(reqs) {
				t.Fatalf("no request after the 429: %+v", reqs)
			}
			if gap := reqs[i+1].At.Sub(reqs[i].At); gap < 3*time.Second-50*time.Millisecond {
				t.Errorf("a request went out %s after a 429 with Retry-After: 3", gap)
			}
		}},
		{name: "answers slower than the client timeout", inject: func(emu *cfemu.Server) {
			emu.Inject(cfemu.Fault{Delay: 3 * time.Second, Count: 3})
		}},
		{name: "failed batches", inject: func(emu *cfemu.Server) {
			emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/batch", Status: http.StatusInternalServerError, Count: 2})
		}, check: func(t *testing.T, reqs []cfemu.Request) {
			n := 0
			for _, r := range reqs {
				if strings.HasSuffix(r.Path, "/batch") {
					n++
				}
			}
			if n < 3 {
				t.Errorf("%d batch requests; the two failed ones were not retried", n)
			}
		}},
		{name: "API away for 30 s", inject: func(emu *cfemu.Server) {
			emu.Stop()
			time.AfterFunc(30*time.Second, func() {
				if err := emu.Restart(); err != nil {
					panic(err)
				}
			})
		}, check: func(t *testing.T, reqs []cfemu.Request) {
			if len(reqs) == 0 || time.Since(reqs[0].At) > 2*time.Minute {
				t.Errorf("requests after the outage: %+v", reqs)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			emu := cfemu.New()
			defer emu.Close()
			emu.AddZone("example.com")
			emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
			emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 60})
			txt := emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "TXT", Content: "keep me"})
			cf, err := New(Options{BaseURL: emu.BaseURL(), Credentials: Credentials{Token: emu.Token}, BatchSize: 200, RequestTimeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			health := dns.Health{ip1: false, ip2: true, ip3: true}
			r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return health }, Log: slog.New(slog.DiscardHandler)})
			r.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}}, 2*time.Second)
			tc.inject(emu)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			defer func() { cancel(); <-done }()

			const want = "A 192.0.2.2,A 192.0.2.3,TXT keep me"
			got := ""
			for deadline := time.Now().Add(100 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				var parts []string
				for _, rec := range emu.Records("example.com") {
					if strings.HasPrefix(rec.Content, dns.FencePrefix) {
						continue // the zone fence, goavail's own
					}
					parts = append(parts, rec.Type+" "+rec.Content)
					if rec.ID == txt.ID && rec.Content != txt.Content {
						t.Fatalf("the unmanaged TXT record changed: %+v", rec)
					}
				}
				slices.Sort(parts)
				if got = strings.Join(parts, ","); got == want {
					break
				}
			}
			if got != want {
				t.Fatalf("did not converge: %s, want %s; last pass %+v", got, want, r.Last())
			}
			if tc.check != nil {
				tc.check(t, emu.Requests())
			}
		})
	}
}
