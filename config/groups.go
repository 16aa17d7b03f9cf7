package config

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// buildGroups turns the [Cloudflare] block and the [[Records]] tables into
// effective groups, checking every name and address.
func (c *Config) buildGroups() ([]Group, []error) {
	cf := c.Cloudflare
	type source struct {
		where string // the key prefix errors name
		rg    RecordGroup
	}
	var raw []source
	if cf.DNSDomain != "" || len(cf.Hostnames) > 0 || len(cf.IPAddresses) > 0 {
		p := cf.DNSProxied
		raw = append(raw, source{"Cloudflare", RecordGroup{DNSDomain: cf.DNSDomain, Hostnames: cf.Hostnames, IPAddresses: cf.IPAddresses, DNSProxied: &p, Drain: cf.Drain, Match: &cf.Match, Checks: cf.Checks,
			BackupAddresses: cf.BackupAddresses, FallbackAddresses: cf.FallbackAddresses, MinPrimaryUp: cf.MinPrimaryUp}})
	}
	if rg, ok := c.route53Group(); ok {
		raw = append(raw, source{"Route53", rg})
	}
	for i, rg := range c.Records {
		raw = append(raw, source{fmt.Sprintf("Records[%d]", i), rg})
	}

	var groups []Group
	var errs []error
	owner := map[string]string{} // FQDN -> where it was first configured
	for _, r := range raw {
		g, gerrs := buildGroup(r.where, r.rg, cf)
		g.where = r.where
		g.Weighted = r.where == "Route53"
		gerrs = append(gerrs, c.buildChecks(r.where, r.rg.Checks, r.rg.Match, &g)...)
		errs = append(errs, gerrs...)
		for _, h := range g.Hostnames {
			if prev, ok := owner[h]; ok {
				errs = append(errs, fmt.Errorf("%s.hostnames: %q is already managed by %s; a hostname belongs to one group", r.where, h, prev))
				continue
			}
			owner[h] = r.where
		}
		if len(gerrs) == 0 {
			groups = append(groups, g)
		}
	}
	return groups, errs
}

func buildGroup(where string, rg RecordGroup, cf Cloudflare) (Group, []error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(where+"."+format, a...)) }

	zone := normalizeName(rg.DNSDomain)
	g := Group{Zone: zone, Proxied: cf.DNSProxied, TTL: cf.TTL, TTLSet: cf.ttlSet || rg.TTL != nil, Comment: cf.Comment}
	var perr error
	if g.Provider, perr = groupProvider(rg.Provider); perr != nil {
		bad("%v", perr)
	}
	policy := cf.AllDown
	if rg.AllDown != nil {
		policy = *rg.AllDown
	}
	switch policy {
	case "", "fail-open":
	case "fail-static":
		g.FailStatic = true
	default:
		bad("all_down = %q: must be fail-open or fail-static", policy)
	}
	if rg.DNSProxied != nil {
		g.Proxied = *rg.DNSProxied
	}
	if rg.TTL != nil {
		g.TTL = *rg.TTL
		if g.TTL != 1 && (g.TTL < 30 || g.TTL > 86400) {
			bad("ttl = %d: must be 1 (automatic) or from 30 to 86400 seconds", g.TTL)
		}
	}
	if rg.Comment != nil {
		g.Comment = *rg.Comment
	}
	if len(g.Comment) > 100 {
		bad("comment: %d characters, Cloudflare's limit on the Free plan is 100", len(g.Comment))
	}
	if zone == "" {
		bad("dns_domain: missing; name the Cloudflare zone, e.g. \"example.com\"")
	} else if err := checkDNSName(zone); err != nil {
		bad("dns_domain = %q: %v", rg.DNSDomain, err)
	}
	if len(rg.Hostnames) == 0 {
		bad("hostnames: missing; list at least one name, e.g. [\"www\"] or [\"@\"] for the apex")
	}
	for _, h := range rg.Hostnames {
		fq := qualify(h, zone)
		err := outsideZone(h, zone)
		if strings.Contains(h, "*") {
			err = errors.New("wildcards are not managed: list each name")
		} else if err == nil || zone == "" {
			err = checkDNSName(fq)
		}
		if err != nil {
			bad("hostnames: %q: %v", h, err)
			continue
		}
		if slices.Contains(g.Hostnames, fq) {
			bad("hostnames: %q is listed twice", h)
			continue
		}
		g.Hostnames = append(g.Hostnames, fq)
	}
	switch {
	case len(rg.IPAddresses) == 0 && len(rg.BackupAddresses) > 0:
		bad("backup_addresses: the group has no ip_addresses; backups stand in for primaries only while too few are up, so list the primaries in ip_addresses")
	case len(rg.IPAddresses) == 0:
		bad("ip_addresses: missing; list the addresses to watch, e.g. [\"192.0.2.10\"]")
	}
	for _, s := range rg.IPAddresses {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		if err != nil || a.Zone() != "" {
			bad("ip_addresses: %q is not an IPv4 or IPv6 address", s)
			continue
		}
		a = a.Unmap()
		if !a.IsGlobalUnicast() && !a.IsLoopback() {
			bad("ip_addresses: %q is not a unicast address", s)
			continue
		}
		if slices.Contains(g.Addrs, a) {
			bad("ip_addresses: %q is listed twice", s)
			continue
		}
		g.Addrs = append(g.Addrs, a)
	}
	errs = tiers(where, rg, &g, errs)
	g.Drained, errs = drained(where, rg.Drain, g.Addrs, errs)
	if g.Proxied && g.TTL != 1 && rg.TTL != nil {
		bad("ttl = %d: proxied records always have automatic TTL; set ttl = 1 or dns_proxied = false", g.TTL)
	}
	if g.Proxied {
		g.TTL = 1
	}
	return g, errs
}

// normalizeName lower-cases a DNS name and drops a trailing dot.
func normalizeName(s string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

// qualify makes a configured hostname fully qualified within zone, the way
// the original goavail did: "www" becomes "www.example.com", "@" the apex,
// and a name already inside the zone stays as it is.
func qualify(host, zone string) string {
	h := normalizeName(host)
	switch {
	case h == "@" || h == zone:
		return zone
	case strings.HasSuffix(h, "."+zone):
		return h
	}
	return h + "." + zone
}

func checkDNSName(name string) error {
	if len(name) > 253 {
		return errors.New("longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("each label must be 1 to 63 characters")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("label %q has %q; use letters, digits, '-' and '_' (punycode for IDNs)", label, r)
			}
		}
	}
	return nil
}

// Addrs returns every monitored address once, in configuration order.
func (c *Config) Addrs() []netip.Addr {
	n := 0
	for _, g := range c.Groups {
		n += len(g.Addrs)
	}
	out := make([]netip.Addr, 0, n) // sized: at 100,000 addresses growing them was most of the garbage
	seen := make(map[netip.Addr]bool, n)
	for _, g := range c.Groups {
		for _, a := range g.Addrs {
			if !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}
