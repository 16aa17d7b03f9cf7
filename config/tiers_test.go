package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestFingerprint_TiersKeepOldFingerprints: a config without backups or
// fallbacks keeps the fingerprint it had before the keys existed (an agent
// of the previous release must agree with an upgraded one), and each tier
// key changes it.
func TestFingerprint_TiersKeepOldFingerprints(t *testing.T) {
	base := `[Cloudflare]
dns_domain = "example.com"
hostnames = ["www", "api"]
ip_addresses = ["192.0.2.1", "192.0.2.2", "2001:db8::1"]
%s
[[Records]]
dns_domain = "example.net"
hostnames = ["@"]
ip_addresses = ["192.0.2.3"]
all_down = "fail-static"
`
	fp := func(extra string) string {
		t.Helper()
		c, err := Parse(fmt.Sprintf(base, extra))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%x", c.Fingerprint())
	}
	// Computed by the release before backup_addresses (commit 01ba36b).
	if got := fp(""); got != "f954aa28a9393343" {
		t.Errorf("fingerprint without tiers = %s, want the previous release's f954aa28a9393343", got)
	}
	seen := map[string]string{fp(""): "none"}
	for _, extra := range []string{
		`backup_addresses = ["198.51.100.1"]`,
		`backup_addresses = ["198.51.100.2"]`,
		`backup_addresses = ["198.51.100.1"]` + "\nmin_primary_up = 2",
		`fallback_addresses = ["198.51.100.1"]`,
		`backup_addresses = ["198.51.100.1"]` + "\n" + `fallback_addresses = ["203.0.113.1"]`,
	} {
		f := fp(extra)
		if prev, ok := seen[f]; ok {
			t.Errorf("%q and %q share a fingerprint", extra, prev)
		}
		seen[f] = extra
	}
}

// TestParse_Tiers: backups are watched (in Addrs), fallbacks are not, and
// goavail validate's effective config shows the three tiers.
func TestParse_Tiers(t *testing.T) {
	c, err := Parse(`[[Records]]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
backup_addresses = ["198.51.100.1"]
fallback_addresses = ["203.0.113.1"]
min_primary_up = 2
`)
	if err != nil {
		t.Fatal(err)
	}
	g := c.Groups[0]
	if got := fmt.Sprint(g.Addrs, g.Backups, g.Fallbacks, g.MinPrimaryUp, c.Addrs()); got != "[192.0.2.1 192.0.2.2 192.0.2.3 198.51.100.1] [198.51.100.1] [203.0.113.1] 2 [192.0.2.1 192.0.2.2 192.0.2.3 198.51.100.1]" {
		t.Errorf("parsed %s", got)
	}
	eff := c.Effective()
	for _, want := range []string{`ip_addresses = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]`, `backup_addresses = ["198.51.100.1"]`, `fallback_addresses = ["203.0.113.1"]`, `min_primary_up = 2`} {
		if !strings.Contains(eff, want) {
			t.Errorf("effective config lacks %s:\n%s", want, eff)
		}
	}
	c, _ = Parse("[Cloudflare]\ndns_domain = \"example.com\"\nhostnames = [\"www\"]\nip_addresses = [\"192.0.2.1\"]\n")
	if eff := c.Effective(); strings.Contains(eff, "backup") || strings.Contains(eff, "min_primary_up") || c.Groups[0].MinPrimaryUp != 1 {
		t.Errorf("a group without tiers shows them, or min_primary_up is not 1:\n%s", eff)
	}
}
