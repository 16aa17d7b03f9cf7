package dns

import "strings"

// Propagated reports whether the zone's nameservers may be taken to answer
// with r: false only while r's creation waits to be seen on every one of
// them, within the bound, with the nameservers known and answering. A
// record the checker never saw created (older than this process, or
// created by hand) is taken as propagated; so is one whose check failed
// (no nameservers listed, none reachable) or ran past the bound, where
// make before break falls back to "a later batch".
func (c *PropagationChecker) Propagated(zone string, r Record) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pending[zone+"|"+r.Name+"|"+r.Type+"|"+strings.ToLower(r.Content)]
	return !ok || p.Action != ActionCreate || !p.SeenAt.IsZero() || p.Late || p.Err != ""
}

// holdUnpropagated moves to p.Waiting each removal whose name would be
// left, for its record type, only with records the zone's nameservers do
// not answer with yet (Plan lets a removal go once its replacements are
// listed; this waits until they are served). A removal that leaves no
// record of its type at all (another type stays) is Plan's business and
// not held here.
func (r *Reconciler) holdUnpropagated(zone string, p *ZonePlan, actual []Record) {
	if r.cfg.Propagated == nil || len(p.Deletes) == 0 {
		return
	}
	deleting := make(map[string]bool, len(p.Deletes))
	for _, d := range p.Deletes {
		deleting[d.ID] = true
	}
	kept, served := map[string]bool{}, map[string]bool{} // by name|type
	for _, rec := range actual {
		if (rec.Type != "A" && rec.Type != "AAAA") || deleting[rec.ID] {
			continue
		}
		k := rec.Name + "|" + rec.Type
		kept[k] = true
		served[k] = served[k] || r.cfg.Propagated(zone, rec)
	}
	out := p.Deletes[:0]
	for _, d := range p.Deletes {
		if k := d.Name + "|" + d.Type; kept[k] && !served[k] {
			p.Waiting = append(p.Waiting, d)
			continue
		}
		out = append(out, d)
	}
	p.Deletes = out
}
