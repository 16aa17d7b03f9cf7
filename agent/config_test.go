package agent

import (
	"testing"

	"github.com/goavail/goavail/config"
)

// TestDNSGroups_UnsetTTLIsPassedAsUnset: a group whose file sets no ttl
// reaches the planner as ttl 0 (a restored record keeps its own ttl);
// a ttl set in [Cloudflare] or in the group's table is passed as it is,
// and a proxied group's ttl is automatic.
func TestDNSGroups_UnsetTTLIsPassedAsUnset(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []int
	}{
		{"unset", "[Cloudflare]\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n" +
			"[[Records]]\ndns_domain=\"example.net\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.2\"]\nttl = 300\n", []int{0, 300}},
		{"set in [Cloudflare]", "[Cloudflare]\nttl = 120\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n" +
			"[[Records]]\ndns_domain=\"example.net\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.2\"]\n", []int{120, 120}},
		{"proxied", "[Cloudflare]\ndns_proxied = true\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n", []int{1}},
	} {
		cfg, err := config.Parse(tc.file)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		gs := dnsGroups(cfg)
		for i, want := range tc.want {
			if gs[i].TTL != want {
				t.Errorf("%s: group %d ttl %d, want %d", tc.name, i, gs[i].TTL, want)
			}
		}
	}
}
