package dns

import "strings"

// Propagated reports whether the zone's nameservers may be taken to answer
// with r: false only while r's creation waits to be seen on every one of
// them, within the bound, with the nameservers known and answering.
//
// A record whose creation the checker was not told of (created by hand, by
// this agent before a restart, or by the writer before a hand-over) is
// checked too when the provider says it was created less than the bound
// ago (r.Created): it is not propagated until the checker sees it. Older
// ones, or with no creation time, are taken as propagated; so is a record
// whose check failed (no nameservers listed, none reachable) or ran past
// the bound: make before break then falls back to "a later batch".
func (c *PropagationChecker) Propagated(zone string, r Record) bool {
	k := zone + "|" + r.Name + "|" + r.Type + "|" + strings.ToLower(r.Content)
	now := c.cfg.Now()
	c.mu.Lock()
	for sk, at := range c.served {
		if now.Sub(at) > c.cfg.Bound {
			delete(c.served, sk)
		}
	}
	p, ok := c.pending[k]
	if ok {
		c.mu.Unlock()
		return p.Action != ActionCreate || !p.SeenAt.IsZero() || p.Late || p.Err != ""
	}
	if _, seen := c.served[k]; seen || r.Created.IsZero() || now.Sub(r.Created) >= c.cfg.Bound || c.cfg.NameServers == nil {
		c.mu.Unlock()
		return true
	}
	c.pending[k] = &Propagation{Zone: zone, Action: ActionCreate, Record: r, AppliedAt: r.Created, adopted: true}
	c.mu.Unlock()
	c.Recheck()
	return false
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
