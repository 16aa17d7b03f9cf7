package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/goavail/goavail/monitor"
)

// ErrNotWriter is wrapped by Fence when this agent may not write.
var ErrNotWriter = errors.New("this agent does not hold the DNS writer lease")

// Decision returns the latest agreement.
func (c *Cluster) Decision() Decision {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.decision
	d.States = maps.Clone(d.States)
	return d
}

// countsFor says whose endorsements count: a configured peer's, not in a
// name conflict. c.mu is held while it is used.
func (c *Cluster) countsFor(now time.Time) func(string) bool {
	return func(p string) bool { return !c.conflicted(p, now) && c.electorLocked(p) }
}

// leaseLocked is this agent's writer lease at now (monotonic). Alone, the
// agent holds it while its agreement is quorate. c.mu held.
func (c *Cluster) leaseLocked(now time.Time) Lease {
	d := c.decision
	if !d.Quorate || d.LocalIsolated || d.LocalDuplicate || c.conflicted(c.cfg.NodeName, now) {
		return Lease{}
	}
	if c.elector == nil {
		return Lease{Held: true, Until: now.Add(time.Hour), Endorsers: []string{c.cfg.NodeName}}
	}
	l := c.elector.Lease(now, c.countsFor(now))
	if l.Held && c.onLease != nil {
		c.onLease(l, now)
	}
	return l
}

// Lease returns this agent's writer lease as it stands now. Until is a
// reading of the Mono clock (CLOCK_BOOTTIME by default), not a wall time.
func (c *Cluster) Lease() Lease {
	now := c.cfg.Mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaseLocked(now)
}

// Term returns the highest writer term this agent knows (0 alone).
func (c *Cluster) Term() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.elector == nil {
		return 0
	}
	return c.elector.Term()
}

// holderLocked names the peer whose fresh view claims the writer lease
// with the highest term, or "". c.mu held.
func (c *Cluster) holderLocked(now time.Time) string {
	best, term := "", uint64(0)
	for name, p := range c.peers {
		if p.view.Held > term && now.Sub(p.fresh) <= c.cfg.Rules.StaleAfter && !c.conflicted(name, now) {
			best, term = name, p.view.Held
		}
	}
	return best
}

// IsWriter reports whether this agent applies DNS changes now, and names
// the writer: this agent, the peer whose fresh view says it holds the
// lease, or "none: …" with the reason.
func (c *Cluster) IsWriter() (bool, string) {
	now := c.cfg.Mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	if l := c.leaseLocked(now); l.Held {
		return true, c.cfg.NodeName
	}
	d := c.decision
	need := c.cfg.Rules.MinPeersAgree + 1
	switch {
	case d.LocalDuplicate || c.conflicted(c.cfg.NodeName, now):
		return false, fmt.Sprintf("none here: another agent uses this node_name %q", c.cfg.NodeName)
	case c.elector == nil && !d.Quorate:
		return false, fmt.Sprintf("none: %d of %d voting agents needed", len(d.Voters), need)
	}
	if w := c.holderLocked(now); w != "" {
		return false, w
	}
	if !d.Quorate {
		return false, fmt.Sprintf("none: %d of %d voting agents needed", len(d.Voters), need)
	}
	return false, fmt.Sprintf("none: no agent holds the writer lease yet (%d endorsements needed)", need)
}

// Fence checks, right before a DNS write, that this agent holds the writer
// lease with time to spare, and returns a context that ends when the lease
// does: every request sent under it leaves within the lease. The deadline
// is absolute, from clock readings taken with the lease, so nothing after
// them (the log line, a GC pause) lengthens it; and the context's Err also
// reads the lease's clock, which counts through a system suspend that the
// context's timer does not see (see fenceCtx). It logs the lease it writes
// under (the chaos suite checks writes against it).
func (c *Cluster) Fence(ctx context.Context) (context.Context, context.CancelFunc, error) {
	c.mu.Lock()
	// One reading of each clock, together with the lease: the lease's
	// clock (Mono) for the lease, the process's for the context's timer.
	now := c.cfg.Mono()
	timerNow := time.Now()
	l := c.leaseLocked(now)
	c.mu.Unlock()
	if !l.Held {
		_, w := c.IsWriter()
		return ctx, func() {}, fmt.Errorf("%w (writer: %s)", ErrNotWriter, w)
	}
	if c.elector == nil {
		return ctx, func() {}, nil
	}
	left := l.Until.Sub(now)
	if left < c.elector.margin { // fixed at the start, like the lease's length
		return ctx, func() {}, fmt.Errorf("%w: the lease ends in %s, too soon to send a request", ErrNotWriter, left.Round(time.Millisecond))
	}
	fctx, cancel := newFenceCtx(ctx, timerNow.Add(left), l.Until, c.cfg.Mono)
	// l.Until is a Mono reading: the log gives it as a wall time.
	c.cfg.Log.Info("dns write under the writer lease", "term", l.Term, "lease_until", c.cfg.Now().Add(l.Until.Sub(c.cfg.Mono())).Format(time.RFC3339Nano), "left", left.Round(time.Millisecond), "endorsers", l.Endorsers)
	return fctx, cancel, nil
}

// decide runs the agreement rule on this agent's view and the peers', and
// reports a change of the agreed states, the preferred writer or the lease.
func (c *Cluster) decide(mine View) {
	now, mono := c.cfg.Now(), c.cfg.Mono()
	c.mu.Lock()
	self := PeerView{Node: c.cfg.NodeName, States: mine.States(), Runs: mine.Runs(), Failing: mine.Failing(), Duplicate: c.conflicted(c.cfg.NodeName, mono)}
	rules := c.cfg.Rules
	var peers []PeerView
	for name, p := range c.peers {
		_, alive := c.members[name]
		if !alive && now.Sub(p.received) > 10*rules.StaleAfter {
			delete(c.peers, name) // long gone: forget
			// and its echo: it holds no copy of our entries (delta.go)
			delete(c.echoes, name)
			continue
		}
		if !c.electorLocked(name) {
			continue // not a configured peer: it does not vote
		}
		peers = append(peers, PeerView{Node: name, Alive: alive, Received: c.heardLocked(p, now, mono), States: p.states, Runs: p.runs, Failing: p.view.Failing(),
			NotReady: !p.view.Ready, Duplicate: c.conflicted(name, mono)})
	}
	prev, prevLease := c.decision, c.lease
	d := c.agreement.Decide(now, self, peers)
	c.decision = d
	c.rounds.Add(1)
	lease := c.leaseLocked(mono)
	c.lease = lease
	c.mu.Unlock()

	if prev.Writer != d.Writer || prev.Quorate != d.Quorate {
		writer := d.Writer // as /status and /metrics say it: no writer without a quorum
		if !d.Quorate {
			writer = "none"
		}
		c.cfg.Log.Info("preferred dns writer", "writer", writer, "this_agent", d.Quorate && d.Writer == c.cfg.NodeName, "quorate", d.Quorate, "voters", d.Voters)
	}
	leaseChanged := lease.Held != prevLease.Held
	if leaseChanged && lease.Held {
		c.cfg.Log.Info("writer lease acquired: this agent writes DNS", "term", lease.Term, "endorsers", lease.Endorsers, "lease_until", now.Add(lease.Until.Sub(mono)).Format(time.RFC3339Nano))
	} else if leaseChanged {
		c.cfg.Log.Info("writer lease lost: this agent no longer writes DNS", "term", prevLease.Term)
	}
	if d.LocalIsolated && !prev.LocalIsolated {
		down := 0
		for _, st := range self.States {
			if st == monitor.Down {
				down++
			}
		}
		c.cfg.Log.Warn("this agent sees nearly every address down or losing its latest probes, and abstains: its uplink is the likelier fault",
			"down", down, "failing", self.Failing, "watched", len(self.States), "threshold", rules.IsolationThreshold)
	}
	for _, a := range d.Changed {
		c.cfg.Log.Info("agreed", "addr", a, "from", prev.States[a], "to", d.States[a], "voters", d.Voters, "need", rules.MinPeersAgree+1)
	}
	logReleases(c.cfg.Log, prev, d, rules)
	if !d.Quorate && (prev.Quorate || prev.Writer == "") && !(d.LocalIsolated && len(peers) == 0) { // alone and isolated: the line above says it
		c.cfg.Log.Warn("too few voting agents to change anything; no agent writes DNS from here", "voting", d.Voters, "need", rules.MinPeersAgree+1, "stale", d.Stale, "dead", d.Dead, "abstaining", d.Abstaining, "duplicates", d.Duplicates, "this_agent_abstains", d.LocalIsolated)
	}
	if (len(d.Changed) > 0 || prev.Writer != d.Writer || prev.Quorate != d.Quorate || leaseChanged) && c.cfg.OnChange != nil {
		c.cfg.OnChange(d)
	}
}

// WriterAnnex returns the writer as this agent sees it and that writer's
// latest annex (see SetAnnex): this agent's own while it holds the lease,
// else that of the peer whose fresh view says it holds it. With no writer
// it returns "" and nil.
func (c *Cluster) WriterAnnex() (string, []byte) {
	now := c.cfg.Mono()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leaseLocked(now).Held {
		return c.cfg.NodeName, c.annex
	}
	if w := c.holderLocked(now); w != "" {
		return w, c.peers[w].view.Annex
	}
	return "", nil
}
