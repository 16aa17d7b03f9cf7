package dns

import "slices"

// assumedRecords is assumed(zg) for zone, kept until the groups change
// (gen): a dry run without a provider plans against the same records at
// every pass, and making them anew was most of a pass's garbage at 100,000
// addresses.
func (r *Reconciler) assumedRecords(zone string, zg []Group, gen uint64) []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.assumedAt != gen || r.assumedBy == nil {
		r.assumedAt, r.assumedBy = gen, map[string][]Record{}
	}
	recs, ok := r.assumedBy[zone]
	if !ok {
		recs = assumed(zg)
		r.assumedBy[zone] = recs
	}
	return recs
}

// assumed is the zone as the config describes it, for dry-run without
// credentials: every hostname has a record for every primary address.
func assumed(groups []Group) []Record {
	var out []Record
	for _, g := range groups {
		for _, h := range g.Hostnames {
			for _, a := range g.Addrs {
				if slices.Contains(g.Backups, a) || slices.Contains(g.Fallbacks, a) {
					continue // the primaries serve, as configured
				}
				out = append(out, Record{ID: "assumed", Name: h, Type: RecordType(a), Content: a.String(), TTL: g.TTL, Proxied: g.Proxied, Comment: g.Comment})
			}
		}
	}
	return out
}
