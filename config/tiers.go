package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// tiers reads a group's backup_addresses, fallback_addresses and
// min_primary_up into g (whose Addrs are its primaries so far): backups
// join Addrs (they are watched), fallbacks do not (they are not).
func tiers(where string, rg RecordGroup, g *Group, errs []error) []error {
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(where+"."+format, a...)) }
	primaries := slices.Clone(g.Addrs)
	parse := func(key string, list []string) []netip.Addr {
		var out []netip.Addr
		for _, s := range list {
			a, err := netip.ParseAddr(strings.TrimSpace(s))
			if err != nil || a.Zone() != "" {
				bad("%s: %q is not an IPv4 or IPv6 address", key, s)
				continue
			}
			a = a.Unmap()
			switch {
			case !a.IsGlobalUnicast() && !a.IsLoopback():
				bad("%s: %q is not a unicast address", key, s)
			case slices.Contains(out, a):
				bad("%s: %q is listed twice", key, s)
			case slices.Contains(primaries, a):
				bad("%s: %q is also in ip_addresses; an address is in one of ip_addresses, backup_addresses and fallback_addresses", key, s)
			case key == "fallback_addresses" && slices.Contains(g.Backups, a):
				bad("%s: %q is also in backup_addresses; an address is in one of ip_addresses, backup_addresses and fallback_addresses", key, s)
			default:
				out = append(out, a)
			}
		}
		return out
	}
	g.Backups = parse("backup_addresses", rg.BackupAddresses)
	g.Fallbacks = parse("fallback_addresses", rg.FallbackAddresses)
	for _, b := range g.Backups {
		if !slices.ContainsFunc(primaries, func(p netip.Addr) bool { return p.Is4() == b.Is4() }) && len(primaries) > 0 {
			bad("backup_addresses: %s has no primary of its record type in ip_addresses: a backup stands in for the primaries of its own type (A or AAAA), so it would never be published", b)
		}
	}
	for _, f := range g.Fallbacks {
		if !slices.ContainsFunc(primaries, func(p netip.Addr) bool { return p.Is4() == f.Is4() }) && len(primaries) > 0 {
			bad("fallback_addresses: %s has no primary of its record type in ip_addresses: a fallback stands in for the primaries and backups of its own type (A or AAAA), so it would never be published", f)
		}
	}
	g.Addrs = append(g.Addrs, g.Backups...)
	g.MinPrimaryUp = 1
	if rg.MinPrimaryUp != nil {
		g.MinPrimaryUp = *rg.MinPrimaryUp
		if n := len(primaries); g.MinPrimaryUp < 1 || (n > 0 && g.MinPrimaryUp > n) {
			bad("min_primary_up = %d: must be from 1 to the number of ip_addresses (%d)", g.MinPrimaryUp, n)
		}
	}
	return errs
}

// Primaries returns the group's primary addresses: Addrs without the
// backups.
func (g Group) Primaries() []netip.Addr {
	out := make([]netip.Addr, 0, len(g.Addrs))
	for _, a := range g.Addrs {
		if !slices.Contains(g.Backups, a) {
			out = append(out, a)
		}
	}
	return out
}

// tiersFingerprint is the part of the fingerprint for backups, fallbacks
// and min_primary_up: empty for a group without backups or fallbacks, so
// that an upgraded agent agrees with one that does not know the keys.
func (g Group) tiersFingerprint() string {
	if len(g.Backups)+len(g.Fallbacks) == 0 {
		return ""
	}
	str := func(as []netip.Addr) string {
		as = slices.Clone(as)
		slices.SortFunc(as, netip.Addr.Compare)
		s := make([]string, len(as))
		for i, a := range as {
			s[i] = a.String()
		}
		return strings.Join(s, ",")
	}
	return fmt.Sprintf("|backups=%s|fallbacks=%s|min_primary_up=%d", str(g.Backups), str(g.Fallbacks), g.MinPrimaryUp)
}
