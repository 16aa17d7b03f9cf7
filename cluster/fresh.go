package cluster

import "time"

// heardLocked is when a peer's view counts as made, for staleness: the
// moment (converted to the wall clock now) this agent sent the view of its
// own that the peer's view echoes. A view is fresh only while the view of
// ours it echoes is younger than StaleAfter, by our own monotonic clock, so
// a view delivered late (the replay guard lets one through up to
// MaxClockSkew after it was sealed) does not vote as new, and a peer that
// does not hear us (a one-way loss) neither votes nor is chosen as writer.
// A peer that echoes no view of this incarnation that we still remember
// was heard at the zero time: stale. c.mu held.
func (c *Cluster) heardLocked(p *peerEntry, wall, mono time.Time) time.Time {
	if c.elector == nil {
		return p.received
	}
	e, ok := p.view.Echoes[c.cfg.NodeName]
	if !ok || e.Inc != c.inc {
		return time.Time{}
	}
	sent, ok := c.elector.sent[e.Seq]
	if !ok {
		return time.Time{}
	}
	return wall.Add(-mono.Sub(sent))
}
