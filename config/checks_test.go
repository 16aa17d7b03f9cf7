package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

const webGroup = `
interval = "2s"
probe_timeout = "1s"
failure_threshold = 2

[[Records]]
dns_domain = "example.com"
hostnames = ["www", "api"]
ip_addresses = ["192.0.2.10", "192.0.2.11"]
match = "any"

[[Records.Checks]]
type = "https"
path = "/healthz"
valid_status_codes = ["2xx", 301]
fail_if_body_not_matches_regexp = ["ok"]
headers = { X-Probe = "goavail" }
tls_min_days_left = 14
rise_threshold = 4

[[Records.Checks]]
type = "tcp"
port = 8443
interval = "10s"
addresses = ["192.0.2.11"]

[[Records.Checks]]
type = "icmp"
`

// TestChecks_DefaultsAndPerAddress: unset keys take the global values and
// the blackbox-like defaults; a check with addresses applies to those only.
func TestChecks_DefaultsAndPerAddress(t *testing.T) {
	c, err := Parse(webGroup)
	if err != nil {
		t.Fatal(err)
	}
	g := c.Groups[0]
	if !g.MatchAny || len(g.Checks) != 3 {
		t.Fatalf("match any %t, %d checks", g.MatchAny, len(g.Checks))
	}
	h := g.Checks[0]
	if h.Port != 443 || h.Method != "GET" || h.Host != "www.example.com" || h.Interval != 2*time.Second || h.Timeout != time.Second ||
		h.Fall != 2 || h.Rise != 4 || !h.TLSVerify || h.TLSMinDaysLeft != 14 || h.Key() != "https:443/healthz" ||
		h.FollowRedirects { // unset means not followed, unlike blackbox_exporter (see README, Health checks)
		t.Errorf("https check = %+v", h)
	}
	if got := slices.Collect(func(yield func(string) bool) {
		for _, r := range h.StatusCodes {
			yield(r.String())
		}
	}); strings.Join(got, ",") != "2xx,301" {
		t.Errorf("status codes = %v", got)
	}
	tcp := g.Checks[1]
	if tcp.Interval != 10*time.Second || tcp.Timeout != time.Second || tcp.Key() != "tcp:8443" {
		t.Errorf("tcp check = %+v", tcp)
	}
	ac := c.AddrChecks()
	a10, a11 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")
	if len(ac[a10].Checks) != 2 || len(ac[a11].Checks) != 3 || !ac[a10].Any {
		t.Errorf("addr checks: .10 %d, .11 %d", len(ac[a10].Checks), len(ac[a11].Checks))
	}
	if got := c.ICMPAddrs(); len(got) != 2 {
		t.Errorf("ICMPAddrs = %v", got)
	}
}

// TestChecks_OriginalPortsKey: the original goavail's ports key becomes TCP
// checks on every address, with a notice saying so.
func TestChecks_OriginalPortsKey(t *testing.T) {
	c, err := Parse(`
ports = [8000, 80]
[Cloudflare]
dns_domain = "example.com"
hostnames = ["www"]
ip_addresses = ["192.0.2.1", "192.0.2.2"]
`)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, chk := range c.Groups[0].Checks {
		keys = append(keys, chk.Key())
	}
	if strings.Join(keys, ",") != "tcp:8000,tcp:80" {
		t.Errorf("checks = %v, want tcp:8000,tcp:80", keys)
	}
	if len(c.Notices) != 1 || !strings.Contains(c.Notices[0], "TCP check") {
		t.Errorf("notices = %q", c.Notices)
	}
	if len(c.ICMPAddrs()) != 0 {
		t.Errorf("ports replace ICMP, yet ICMPAddrs = %v", c.ICMPAddrs())
	}
}

// TestFingerprint_CoversChecks: agents that check differently never share a
// fingerprint; one with only the implicit ICMP check keeps the fingerprint
// it had before checks existed.
func TestFingerprint_CoversChecks(t *testing.T) {
	base := "[Cloudflare]\ndns_domain = \"example.com\"\nhostnames = [\"www\"]\nip_addresses = [\"192.0.2.1\"]\n"
	fp := func(extra string) [8]byte {
		t.Helper()
		c, err := Parse(base + extra)
		if err != nil {
			t.Fatal(err)
		}
		return c.Fingerprint()
	}
	implicit := fp("")
	variants := map[string]string{
		"explicit icmp":  "[[Cloudflare.Checks]]\ntype = \"icmp\"\n",
		"tcp":            "[[Cloudflare.Checks]]\ntype = \"tcp\"\nport = 80\n",
		"tcp other port": "[[Cloudflare.Checks]]\ntype = \"tcp\"\nport = 81\n",
		"https":          "[[Cloudflare.Checks]]\ntype = \"https\"\n",
		"https path":     "[[Cloudflare.Checks]]\ntype = \"https\"\npath = \"/x\"\n",
		"https days":     "[[Cloudflare.Checks]]\ntype = \"https\"\ntls_min_days_left = 3\n",
		"https any":      "match = \"any\"\n[[Cloudflare.Checks]]\ntype = \"https\"\n",
	}
	seen := map[[8]byte]string{implicit: "implicit icmp"}
	for name, extra := range variants {
		f := fp(extra)
		if prev, ok := seen[f]; ok {
			t.Errorf("%s and %s share a fingerprint", name, prev)
		}
		seen[f] = name
	}
	c, _ := Parse(base)
	if c.Groups[0].checksFingerprint() != "" {
		t.Errorf("the implicit ICMP check changed the fingerprint: %q", c.Groups[0].checksFingerprint())
	}
}
