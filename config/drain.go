package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// drained checks a group's drain key: every entry must be one of the
// group's addresses, once, and at least one address must stay in DNS (a
// drain that empties the group's hostnames needs goavail drain --force,
// never a file).
func drained(where string, drain []string, addrs []netip.Addr, errs []error) ([]netip.Addr, []error) {
	var out []netip.Addr
	for _, s := range drain {
		a, err := netip.ParseAddr(strings.TrimSpace(s))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s.drain: %q is not an IPv4 or IPv6 address", where, s))
		case !slices.Contains(addrs, a.Unmap()):
			errs = append(errs, fmt.Errorf("%s.drain: %q is not one of this group's ip_addresses", where, s))
		case slices.Contains(out, a.Unmap()):
			errs = append(errs, fmt.Errorf("%s.drain: %q is listed twice", where, s))
		default:
			out = append(out, a.Unmap())
		}
	}
	if len(addrs) > 0 && len(out) == len(addrs) {
		errs = append(errs, fmt.Errorf("%s.drain: drains every address of the group, which would take its hostnames out of DNS; leave at least one out", where))
	}
	return out, errs
}

// outsideZone refuses a hostname with a dot that is not inside zone: the
// original goavail silently appended the zone ("cloud.example.org" became
// "cloud.example.org.example.com"); a name in another zone belongs in a
// [[Records]] table of its own.
func outsideZone(host, zone string) error {
	h := normalizeName(host)
	if h == "@" || h == zone || strings.HasSuffix(h, "."+zone) || !strings.Contains(h, ".") {
		return nil
	}
	first, _, _ := strings.Cut(h, ".")
	return fmt.Errorf("not in zone %s: write %q or %q for a name in this zone, or put it in a [[Records]] table with its own dns_domain", zone, first, h+"."+zone)
}
