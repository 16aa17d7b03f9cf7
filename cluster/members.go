package cluster

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// Addr is where this agent listens for gossip ("" when alone).
func (c *Cluster) Addr() string {
	if c.ml == nil {
		return ""
	}
	n := c.ml.LocalNode()
	return n.Addr.String() + ":" + strconv.Itoa(int(n.Port))
}

// Members returns the names of the live members, this agent included.
func (c *Cluster) Members() []string {
	if c.ml == nil {
		return []string{c.cfg.NodeName}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.members))
}

// member returns a copy of a live member, if it is one.
func (c *Cluster) member(name string) (memberlist.Node, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.members[name]
	return n, ok
}

// Conflict is a node name that two agents use at once.
type Conflict struct {
	Name  string
	Addrs []string // the addresses claiming it, as memberlist saw them; sorted
	Local bool     // the name is this agent's own
	Last  time.Time
}

// conflict is a Conflict as kept: Last by the monotonic clock.
type conflict struct {
	addrs []string
	last  time.Time
}

// noteConflict records that name is claimed from two addresses, and logs
// it when it is new.
func (c *Cluster) noteConflict(name string, addrs ...string) {
	now := c.cfg.Mono()
	c.mu.Lock()
	prev, known := c.conflicts[name]
	active := known && now.Sub(prev.last) < c.cfg.ConflictHold
	all := slices.Clone(prev.addrs)
	if !active {
		all = nil
	}
	for _, a := range addrs {
		if a != "" && !slices.Contains(all, a) {
			all = append(all, a)
		}
	}
	slices.Sort(all)
	c.conflicts[name] = conflict{addrs: all, last: now}
	c.mu.Unlock()
	if !active {
		if name == c.cfg.NodeName {
			c.cfg.Log.Error("another agent uses this agent's node_name: give each agent its own node_name (it defaults to the host name); this agent neither votes nor writes while the conflict lasts",
				"node_name", name, "addresses", all)
		} else {
			c.cfg.Log.Error("two agents use the same node_name: give each its own node_name (it defaults to the host name); their views neither vote nor endorse a writer while the conflict lasts",
				"node_name", name, "addresses", all)
		}
	}
	signal(c.local)
}

// conflicted reports whether name is in an active conflict; c.mu held.
func (c *Cluster) conflicted(name string, now time.Time) bool {
	k, ok := c.conflicts[name]
	return ok && now.Sub(k.last) < c.cfg.ConflictHold
}

// Conflicts returns the node name conflicts that last, sorted by name.
func (c *Cluster) Conflicts() []Conflict {
	now := c.cfg.Mono()
	wall := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Conflict
	for name, k := range c.conflicts {
		if now.Sub(k.last) < c.cfg.ConflictHold {
			out = append(out, Conflict{Name: name, Addrs: slices.Clone(k.addrs), Local: name == c.cfg.NodeName, Last: wall.Add(k.last.Sub(now))})
		}
	}
	slices.SortFunc(out, func(a, b Conflict) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// joinLoop joins the configured peers, retrying with backoff while none
// answers, and keeps re-joining any that are missing (a partition that
// healed, a peer that restarted).
func (c *Cluster) joinLoop(ctx context.Context) {
	wait := time.Duration(0)
	alone := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		c.refreshElectorate(ctx)
		if c.ml.NumMembers() > len(c.cfg.Peers) {
			wait = c.cfg.rejoinEvery
			continue
		}
		n, err := c.ml.Join(c.peerAddrs())
		switch {
		case n > 0:
			if alone || wait != c.cfg.rejoinEvery {
				c.cfg.Log.Info("joined cluster", "reached", n, "members", c.Members())
			}
			alone, wait = false, c.cfg.rejoinEvery
		default:
			if !alone {
				c.cfg.Log.Warn("no peer reachable; running alone and retrying", "peers", c.cfg.Peers, "err", err)
			}
			alone = true
			wait = min(max(2*wait, joinRetryMin), joinRetryMax)
		}
	}
}

func (c *Cluster) peerAddrs() []string {
	out := make([]string, len(c.cfg.Peers))
	for i, p := range c.cfg.Peers {
		out[i] = withPort(p, c.cfg.Port)
	}
	return out
}

// withPort adds the default port to a peer given without one.
func withPort(peer string, port int) string {
	if ap, err := netip.ParseAddrPort(peer); err == nil {
		return ap.String()
	}
	if a, err := netip.ParseAddr(peer); err == nil {
		return netip.AddrPortFrom(a, uint16(port)).String()
	}
	if _, p, err := splitHostPort(peer); err == nil && p != "" {
		return peer
	}
	return peer + ":" + strconv.Itoa(port)
}
