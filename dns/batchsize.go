package dns

// zoneBatchSize returns the provider's batch size per zone when it has
// one (a ZoneMux: each zone's own provider's), else nil.
func zoneBatchSize(p Provider) func(zone string) int {
	if b, ok := p.(interface{ BatchSizeFor(zone string) int }); ok {
		return b.BatchSizeFor
	}
	return nil
}

// batchSize is the most changes in one of zone's batch requests: the
// provider's BatchSizeFor(zone) when it has one and ReconcilerConfig.BatchSize
// was not set, else the one size for every zone.
func (r *Reconciler) batchSize(zone string) int {
	n := r.cfg.BatchSize
	if r.batchFor != nil {
		if z := r.batchFor(zone); z > 0 {
			n = z
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.batchCap[zone]; ok && c < n {
		return c
	}
	return n
}

// capBatch lowers zone's batch size to n changes after the provider
// refused a batch of more as too large, for as long as goavail runs, and
// says so once per lowering: batch_size (or the provider's size) is over
// what this zone takes.
func (r *Reconciler) capBatch(zone string, was, n int) {
	r.mu.Lock()
	if r.batchCap == nil {
		r.batchCap = map[string]int{}
	}
	old, ok := r.batchCap[zone]
	lowered := !ok || n < old
	if lowered {
		r.batchCap[zone] = n
	}
	r.mu.Unlock()
	if lowered {
		r.cfg.Log.Warn("dns batch refused as too large: this zone's batches are now smaller until goavail restarts; lower batch_size (Cloudflare: 200 changes on the Free plan, 3,500 on paid plans) to match",
			"zone", zone, "refused_changes", was, "batch_changes", n)
	}
}

// rechunk cuts every batch of queue that is not a half of a split pair
// into batches of at most n changes.
func rechunk(queue []batch, n int) []batch {
	var out []batch
	for _, b := range queue {
		if b.pair != nil || len(b.changes) <= n {
			out = append(out, b)
			continue
		}
		for c := b.changes; len(c) > 0; {
			k := min(len(c), n)
			out = append(out, batch{changes: c[:k]})
			c = c[k:]
		}
	}
	return out
}
