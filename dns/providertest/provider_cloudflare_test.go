package providertest_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/dns/cloudflare"
	"github.com/goavail/goavail/internal/cfemu"
)

// cloudflareProvider is the Cloudflare adapter (dns/cloudflare, through
// cloudflare-go) against the emulator (internal/cfemu).
//   - stale: another goavail writer's fenced write (a second adapter).
//     Cloudflare's fence is a record every goavail write replaces, so it
//     refuses a write after another goavail write; a hand edit of an A
//     record does not move it (zonefence.go), and the next pass heals it.
//   - transient: the next batch is answered 503.
//   - permanent: every batch to the zone is answered 403 (the token may
//     not edit it).
//   - pages: the emulator's per_page cap.
func cloudflareProvider() provider {
	return provider{name: "cloudflare", start: startCloudflare}
}

func startCloudflare(t *testing.T, e env) *world {
	t.Helper()
	emu := cfemu.New()
	t.Cleanup(emu.Close)
	ids := map[string]string{}
	for _, z := range e.zones {
		ids[z.name] = emu.AddZone(z.name)
		for _, r := range z.seed {
			emu.Seed(z.name, cfemu.Record{Name: r.name, Type: r.typ, Content: r.content, TTL: r.ttl, Comment: r.comment, Tags: r.tags})
		}
		if z.refuseWrites {
			emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/zones/" + ids[z.name] + "/dns_records/batch", Status: http.StatusForbidden, Count: 1 << 30})
		}
	}
	timeout := e.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	adapter := func() *cloudflare.Adapter {
		cf, err := cloudflare.New(cloudflare.Options{BaseURL: emu.BaseURL(), Credentials: cloudflare.Credentials{Token: emu.Token}, RequestTimeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		return cf
	}
	cf := adapter()
	return &world{
		provider:      cf,
		keepsComments: true,
		read: func(t *testing.T, zone string, names ...string) []rec {
			var out []rec
			for _, r := range emu.Records(zone) {
				if slices.Contains(names, r.Name) {
					out = append(out, rec{name: r.Name, typ: r.Type, content: r.Content, ttl: r.TTL, comment: r.Comment, tags: r.Tags})
				}
			}
			return out
		},
		stale: func(t *testing.T, zone string, r rec) {
			other := adapter()
			ctx := context.Background()
			f, err := other.ReadFence(ctx, zone)
			if err != nil {
				t.Fatalf("the other writer reads the fence: %v", err)
			}
			if _, err := other.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "goavail", Writer: "other", Term: 2},
				[]dns.Record{{Name: r.name, Type: r.typ, Content: r.content, TTL: r.ttl}}, nil); err != nil {
				t.Fatalf("the other writer's write: %v", err)
			}
		},
		transient: func(t *testing.T, zone string) {
			emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/zones/" + ids[zone] + "/dns_records/batch", Status: http.StatusServiceUnavailable, Count: 1})
		},
		loseAnswer: func(t *testing.T, zone string) {
			emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/zones/" + ids[zone] + "/dns_records/batch", LoseAnswer: true, Count: 1})
		},
		writes: func(zone string) (ok, failed int) {
			for _, r := range emu.Requests() {
				if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/zones/"+ids[zone]+"/dns_records/batch") {
					if r.Status == http.StatusOK {
						ok++
					} else {
						failed++
					}
				}
			}
			return ok, failed
		},
		pageSize: func(t *testing.T, n int) string { emu.SetMaxPerPage(n); return "" },
		latency: func(t *testing.T, d time.Duration) {
			emu.Inject(cfemu.Fault{Method: http.MethodGet, PathSuffix: "/dns_records", Delay: d, Count: 1 << 30})
		},
		pagesRead: func() int {
			n := 0
			for _, r := range emu.Requests() {
				q, _ := url.ParseQuery(r.Query)
				if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/dns_records") && q.Get("page") != "" && q.Get("page") != "1" {
					n++
				}
			}
			return n
		},
	}
}
