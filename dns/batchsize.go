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
	if r.batchFor != nil {
		if n := r.batchFor(zone); n > 0 {
			return n
		}
	}
	return r.cfg.BatchSize
}
