package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoad_ShippedExample keeps the repository's goavail.toml loadable and
// checks the values it documents.
func TestLoad_ShippedExample(t *testing.T) {
	c, err := Load("../goavail.toml")
	if err != nil {
		t.Fatalf("shipped goavail.toml does not load: %v", err)
	}
	if c.FailureThreshold != 3 || c.RiseThreshold != 3 || c.Interval.D() != time.Second || c.ProbeTimeout.D() != 800*time.Millisecond {
		t.Errorf("thresholds/timing = %d/%d/%s/%s", c.FailureThreshold, c.RiseThreshold, c.Interval.D(), c.ProbeTimeout.D())
	}
	if len(c.Groups) != 2 {
		t.Fatalf("groups = %d, want 2", len(c.Groups))
	}
	g0, g1 := c.Groups[0], c.Groups[1]
	if g0.Zone != "example.com" || strings.Join(g0.Hostnames, ",") != "www.example.com,api.example.com" || g0.TTL != 60 || g0.Proxied {
		t.Errorf("group 0 = %+v", g0)
	}
	if g1.Zone != "example.net" || strings.Join(g1.Hostnames, ",") != "example.net,www.example.net" || g1.TTL != 1 || !g1.Proxied || g1.Comment != DefaultComment {
		t.Errorf("group 1 = %+v", g1)
	}
	if got := len(c.Addrs()); got != 5 {
		t.Errorf("Addrs() = %d addresses, want 5", got)
	}
}

// TestParse_OriginalLayout checks that a config written for the original
// goavail parses unchanged, with its integer interval read as seconds.
func TestParse_OriginalLayout(t *testing.T) {
	c, err := Parse(`
failure_threshold = 5
interval = 2

[Members]
members_port = 7947
min_peers_agree = 0
crypto_key = "1234567891012345"

[Cloudflare]
dns_proxied = false
dns_domain = "example.com"
hostnames = ["test", "test2.example.com"]
ip_addresses = ["192.0.2.1"]
`)
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval.D() != 2*time.Second || c.FailureThreshold != 5 || c.RiseThreshold != 5 {
		t.Errorf("interval %s, thresholds %d/%d", c.Interval.D(), c.FailureThreshold, c.RiseThreshold)
	}
	if c.ProbeTimeout.D() != time.Second {
		t.Errorf("probe timeout default = %s, want 1s", c.ProbeTimeout.D())
	}
	want := []string{"test.example.com", "test2.example.com"}
	if strings.Join(c.Groups[0].Hostnames, ",") != strings.Join(want, ",") {
		t.Errorf("hostnames = %v, want %v", c.Groups[0].Hostnames, want)
	}
	if c.Groups[0].Addrs[0] != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("addrs = %v", c.Groups[0].Addrs)
	}
	if c.Members.MembersPort != 7947 || len(c.Members.CryptoKey) != 1 {
		t.Errorf("members = %+v", c.Members)
	}
}

// TestParse_Durations covers the interval spellings an operator may use.
func TestParse_Durations(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{`interval = 5`, 5 * time.Second},
		{`interval = "500ms"`, 500 * time.Millisecond},
		{`interval = 1.5`, 1500 * time.Millisecond},
		{`interval = "1m"`, time.Minute},
	} {
		c, err := Parse(tc.in + "\n[Cloudflare]\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n")
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if c.Interval.D() != tc.want {
			t.Errorf("%s: got %s, want %s", tc.in, c.Interval.D(), tc.want)
		}
	}
}

// TestLoad_BadConfigs pairs every testdata/*.toml with the exact error in the
// .err file beside it, in the manner of blackbox_exporter's bad-config tests.
func TestLoad_BadConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.toml")
	if len(files) < 10 {
		t.Fatalf("found %d bad configs in testdata, want at least 10", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".toml") + ".err")
			if err != nil {
				t.Fatalf("missing golden error: %v", err)
			}
			text, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(string(text))
			if err == nil {
				t.Fatal("loaded without error")
			}
			if got := err.Error(); got != strings.TrimSpace(string(want)) {
				t.Errorf("error mismatch\n got: %s\nwant: %s", got, strings.TrimSpace(string(want)))
			}
		})
	}
}

func TestRedacted_HidesCryptoKey(t *testing.T) {
	c, err := Parse("[Members]\ncrypto_key = \"0123456789abcdef\"\n[Cloudflare]\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	out := c.Effective()
	if strings.Contains(out, "0123456789abcdef") {
		t.Fatalf("effective config leaks the crypto key:\n%s", out)
	}
	if !strings.Contains(out, `crypto_key = ["<redacted>"]`) || !strings.Contains(out, `"www.example.com"`) {
		t.Errorf("effective config lacks expected lines:\n%s", out)
	}
	if len(c.Members.CryptoKey) != 1 || c.Members.CryptoKey[0] != "0123456789abcdef" {
		t.Errorf("Effective modified the config")
	}
}

func TestParse_CryptoKeyList(t *testing.T) {
	base := "[Cloudflare]\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n"
	c, err := Parse("[Members]\npeers=[\"192.0.2.7\"]\nmin_peers_agree = 1\ncrypto_key = [\"env:NEW\", \"file:/etc/goavail/old\"]\n" + base)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Members.CryptoKey, ","); got != "env:NEW,file:/etc/goavail/old" {
		t.Errorf("crypto_key list = %q", got)
	}
	if _, err := Parse("[Members]\ncrypto_key = 5\n" + base); err == nil || !strings.Contains(err.Error(), "give a string or a list of strings") {
		t.Errorf("crypto_key = 5: %v", err)
	}
}

func TestFingerprint_IsTheMonitoredSet(t *testing.T) {
	fp := func(cfg string) [8]byte {
		t.Helper()
		c, err := Parse(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c.Fingerprint()
	}
	a := fp("interval = 1\n[Cloudflare]\ndns_domain=\"example.com\"\nhostnames=[\"www\",\"api\"]\nip_addresses=[\"192.0.2.1\",\"192.0.2.2\"]\n")
	reordered := fp("interval = 2\n[Cloudflare]\ndns_domain=\"example.com\"\nhostnames=[\"api\",\"www\"]\nip_addresses=[\"192.0.2.2\",\"192.0.2.1\"]\n")
	otherIP := fp("[Cloudflare]\ndns_domain=\"example.com\"\nhostnames=[\"www\",\"api\"]\nip_addresses=[\"192.0.2.1\",\"192.0.2.3\"]\n")
	if a != reordered {
		t.Error("the order of names and addresses, or the probe interval, changed the fingerprint")
	}
	if a == otherIP {
		t.Error("a different address set has the same fingerprint")
	}
}

func TestParse_Notifications(t *testing.T) {
	base := "[Cloudflare]\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n"
	c, err := Parse(base + "[[Hooks]]\ncommand=[\"/usr/local/bin/notify\", \"-v\"]\nevents=[\"transition\"]\n" +
		"[[Webhooks]]\nurl=\"https://hooks.slack.com/services/T0/B0/s3cr3t\"\nformat=\"slack\"\n[[Webhooks]]\nurl=\"env:WEBHOOK_URL\"\nretries=0\n")
	if err != nil {
		t.Fatal(err)
	}
	if c.Hooks[0].Timeout.D() != DefaultNotifyTimeout || *c.Webhooks[0].Retries != DefaultWebhookRetries || *c.Webhooks[1].Retries != 0 || c.Webhooks[1].Format != "json" {
		t.Errorf("defaults: %+v %+v", c.Hooks, c.Webhooks)
	}
	out := c.Effective()
	if strings.Contains(out, "s3cr3t") || !strings.Contains(out, "https://hooks.slack.com/redacted") || !strings.Contains(out, "env:WEBHOOK_URL") {
		t.Errorf("effective config shows or loses a webhook URL:\n%s", out)
	}
	_, err = Parse(base + "[[Hooks]]\ncommand=[\"notify\"]\nevents=[\"down\"]\n[[Webhooks]]\nurl=\"ftp://x\"\nformat=\"xml\"\n")
	for _, want := range []string{"Hooks[0].command", `Hooks[0].events: "down" is not an event`, "Webhooks[0].url", `Webhooks[0].format = "xml"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("bad notifications: %v; want %q", err, want)
		}
	}
}

func TestParse_AllDownPolicy(t *testing.T) {
	c, err := Parse("[Cloudflare]\nall_down = \"fail-static\"\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n" +
		"[[Records]]\ndns_domain=\"example.net\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.2\"]\nall_down=\"fail-open\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Groups[0].FailStatic || c.Groups[1].FailStatic {
		t.Errorf("all_down: groups %+v", c.Groups)
	}
	if _, err := Parse("[Cloudflare]\nall_down = \"panic\"\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n"); err == nil ||
		!strings.Contains(err.Error(), `Cloudflare.all_down = "panic": must be fail-open or fail-static`) {
		t.Errorf("bad all_down: %v", err)
	}
}

// TestWarnings_TTLUnder60: a ttl of 30 to 59 is valid but warned about
// (Enterprise zones only); 60 and 1 are not.
func TestWarnings_TTLUnder60(t *testing.T) {
	for _, tc := range []struct {
		ttl  string
		warn bool
	}{{"30", true}, {"59", true}, {"60", false}, {"1", false}} {
		c, err := Parse("[Cloudflare]\nttl = " + tc.ttl + "\ndns_domain=\"example.com\"\nhostnames=[\"www\"]\nip_addresses=[\"192.0.2.1\"]\n")
		if err != nil {
			t.Fatal(err)
		}
		w := strings.Join(c.Warnings(), "\n")
		if got := strings.Contains(w, "ttl = "+tc.ttl+" for www.example.com (zone example.com): Cloudflare accepts a ttl under 60 seconds only on Enterprise zones"); got != tc.warn {
			t.Errorf("ttl %s: warned %v, want %v (%q)", tc.ttl, got, tc.warn, w)
		}
	}
}
