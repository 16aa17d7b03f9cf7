package dns

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// noteDrift logs, once per zone and per distinct finding, the managed
// records whose ttl or proxied flag differs from what their group sets: a
// record goavail removes and later restores comes back with the configured
// values (or those the state file remembers), so the first outage would
// otherwise change them by surprise. A group ttl of 0 keeps each record's
// own ttl and is never a difference.
func (r *Reconciler) noteDrift(zone string, groups []Group, actual []Record) {
	diffs := Drift(groups, actual)
	key := strings.Join(diffs, "; ")
	r.mu.Lock()
	if r.drift == nil {
		r.drift = map[string]string{}
	}
	same := r.drift[zone] == key
	r.drift[zone] = key
	r.mu.Unlock()
	if same || key == "" {
		return
	}
	r.cfg.Log.Warn("records differ from the config in ttl/proxied: a record removed and restored comes back as configured; "+
		"set the group's ttl and dns_proxied to the zone's values (or ttl = 0 to keep each record's own) if those are right",
		"zone", zone, "records", len(diffs), "differences", key)
}

// Drift lists, sorted, the managed records among actual whose ttl or
// proxied flag differs from what their group sets, one line each ("www.example.com
// A 192.0.2.1: ttl 300 (config 60)"). A group ttl of 0 keeps each
// record's own ttl and is never a difference.
func Drift(groups []Group, actual []Record) []string {
	var diffs []string
	for _, rec := range actual {
		g, ok := managingGroup(groups, rec)
		if !ok {
			continue
		}
		var what []string
		if g.TTL != 0 && rec.TTL != g.TTL {
			what = append(what, fmt.Sprintf("ttl %d (config %d)", rec.TTL, g.TTL))
		}
		if rec.Proxied != g.Proxied {
			what = append(what, fmt.Sprintf("proxied %v (config %v)", rec.Proxied, g.Proxied))
		}
		if len(what) > 0 {
			diffs = append(diffs, fmt.Sprintf("%s %s %s: %s", rec.Name, rec.Type, rec.Content, strings.Join(what, ", ")))
		}
	}
	slices.Sort(diffs)
	return diffs
}

// managingGroup is the group that manages rec: rec's name among its
// hostnames and its content among its addresses, of the matching type.
func managingGroup(groups []Group, rec Record) (Group, bool) {
	a, err := netip.ParseAddr(rec.Content)
	if err != nil {
		return Group{}, false
	}
	a = a.Unmap()
	for _, g := range groups {
		if slices.Contains(g.Hostnames, rec.Name) && RecordType(a) == rec.Type && slices.Contains(g.Addrs, a) {
			return g, true
		}
	}
	return Group{}, false
}
