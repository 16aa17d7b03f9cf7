package config

import (
	"strings"
	"testing"
)

// The original goavail's [Route53] block is read in its meaning: a record
// group of its own at Route 53, written as weighted sets, with one notice.
func TestParse_OriginalRoute53Block(t *testing.T) {
	c, err := Parse(`
failure_threshold = 3
interval = 1
[Route53]
aws_domain = "Example.com."
aws_region = "eu-west-1"
ttl = 60
aws_zoneid = "/hostedzone/Z0123456789ABC"
ip_addresses = ["192.0.2.10", "2001:db8::10"]
hostnames = ["www", "api.example.com"]
`)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Groups) != 1 {
		t.Fatalf("groups = %d, want 1", len(c.Groups))
	}
	g := c.Groups[0]
	if g.Provider != ProviderRoute53 || !g.Weighted || g.Zone != "example.com" || g.TTL != 60 || !g.TTLSet || g.Proxied {
		t.Errorf("group = %+v", g)
	}
	if want := []string{"www.example.com", "api.example.com"}; strings.Join(g.Hostnames, ",") != strings.Join(want, ",") {
		t.Errorf("hostnames = %v, want %v", g.Hostnames, want)
	}
	if ids := c.Route53ZoneIDs(); ids["example.com"] != "Z0123456789ABC" || len(ids) != 1 {
		t.Errorf("zone ids = %v", ids)
	}
	if c.Route53.AWSRegion != "eu-west-1" || c.Route53.Timeout.D() != DefaultRoute53Timeout {
		t.Errorf("route53 = %+v", c.Route53)
	}
	var notice string
	for _, n := range c.Notices {
		if strings.HasPrefix(n, "[Route53]") {
			notice = n
		}
	}
	if !strings.Contains(notice, "weighted") {
		t.Errorf("no [Route53] notice in %q", c.Notices)
	}
	if eff := c.Effective(); !strings.Contains(eff, `provider = "route53"`) || !strings.Contains(eff, `aws_zoneid = "Z0123456789ABC"`) {
		t.Errorf("effective config lacks the Route 53 group or block:\n%s", eff)
	}
}

// A [[Records]] table names Route 53 as its provider; its sets are simple.
func TestParse_Route53Provider(t *testing.T) {
	c, err := Parse("[[Records]]\nprovider = \"Route53\"\ndns_domain = \"example.org\"\nhostnames = [\"www\"]\nip_addresses = [\"192.0.2.1\"]\n")
	if err != nil {
		t.Fatal(err)
	}
	if g := c.Groups[0]; g.Provider != ProviderRoute53 || g.Weighted {
		t.Errorf("group = %+v", g)
	}
	if c.Route53.AWSRegion != "us-east-1" {
		t.Errorf("default region = %q", c.Route53.AWSRegion)
	}
	for _, n := range c.Notices {
		if strings.HasPrefix(n, "[Route53]") {
			t.Errorf("a notice for a block that is not there: %q", n)
		}
	}
}

func TestParse_Route53Errors(t *testing.T) {
	group := "[[Records]]\nprovider = \"route53\"\ndns_domain = \"example.org\"\nhostnames = [\"www\"]\nip_addresses = [\"192.0.2.1\"]\n"
	for _, tc := range []struct{ in, want string }{
		{group + "[Route53]\naws_secret_access_key = \"x\"\n", "AWS credentials never go in the config file"},
		{group + "[Route53]\naws_access_key_id = \"x\"\n", "AWS credentials never go in the config file"},
		{group + "[Route53]\naws_region = \"mars\"\n", `Route53.aws_region = "mars": not an AWS region`},
		{group + "[Route53]\ntimeout = \"5m\"\n", "Route53.timeout = 5m0s: must be from 1s to 1m"},
		{group + "[Route53]\naws_zoneid = \"Z1\"\n", "Route53.aws_zoneid: set aws_domain too"},
		{"[Route53]\naws_domain = \"example.org\"\nhostnames = [\"www\"]\nip_addresses = [\"192.0.2.1\"]\naws_zoneid = \"not-an-id\"\n", `Route53.aws_zoneid = "not-an-id": not a hosted zone id`},
		{"[Route53]\naws_domain = \"example.org\"\nhostnames = [\"www\"]\nip_addresses = [\"192.0.2.1\"]\n" +
			"[[Records]]\ndns_domain = \"example.org\"\nhostnames = [\"api\"]\nip_addresses = [\"192.0.2.2\"]\n", "a zone lives at one provider"},
		{"[Route53]\naws_domain = \"example.org\"\nhostnames = [\"www\"]\n", "Route53.ip_addresses: missing"},
		{"[Cloudflare]\ndns_domain = \"example.org\"\nhostnames = [\"www\"]\nip_addresses = [\"192.0.2.1\"]\n[Route53]\naws_zoneid = \"Z1\"\n", "Route53.aws_zoneid: no group uses Route 53"},
		{group + "dns_proxied = true\n", "Records[0].dns_proxied: Route 53 has no proxy"},
	} {
		_, err := Parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}
