package cluster

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// The electorate. memberlist admits any agent that has the key and reaches
// one member, but the majority that makes the writer lease safe
// (min_peers_agree+1 of the configured agents, checked by config) is only
// a majority of the agents this one lists in peers. So only the agents at
// a configured peer address vote and endorse: any other agent (one that
// lists this one as a seed but is not listed back, say) is ignored with a
// warning. A hostname peer counts as the one address it resolves to; a
// hostname that resolves to several addresses is refused (it could admit
// several agents for one entry of peers).

const resolveTimeout = 5 * time.Second

// nodeAddr is a member's gossip address as "IP:port", the form withPort
// gives a configured peer.
func nodeAddr(n *memberlist.Node) string {
	a, ok := netip.AddrFromSlice(n.Addr)
	if !ok {
		return ""
	}
	return netip.AddrPortFrom(a.Unmap(), n.Port).String()
}

// refreshElectorate resolves the configured peers to the addresses whose
// agents vote. It runs before each join attempt, so a hostname that moves
// is followed.
func (c *Cluster) refreshElectorate(ctx context.Context) {
	addrs := map[string]bool{}
	for _, p := range c.cfg.Peers {
		hp := withPort(p, c.cfg.Port)
		if ap, err := netip.ParseAddrPort(hp); err == nil {
			addrs[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()] = true
			continue
		}
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			c.warnOnce("peer:"+p, "Members.peers entry is neither an address nor host:port; no agent votes through it", "peer", p, "err", err)
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, resolveTimeout)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
		cancel()
		pn, perr := strconv.Atoi(port)
		switch {
		case err != nil || perr != nil:
			c.warnOnce("peer:"+p, "cannot resolve Members.peers entry; the agent there does not vote until it resolves", "peer", p, "err", err)
		case len(ips) != 1:
			c.warnOnce("peer:"+p, "Members.peers entry resolves to several addresses: it is refused, since one entry must stand for one agent (min_peers_agree is checked against the number of entries); list each agent by its address",
				"peer", p, "addresses", ips)
		default:
			addrs[netip.AddrPortFrom(ips[0].Unmap(), uint16(pn)).String()] = true
		}
	}
	c.mu.Lock()
	c.electorate = addrs
	c.mu.Unlock()
}

// elector reports whether the agent name is at a configured peer address,
// so that its view votes and its ballot endorses. c.mu held.
func (c *Cluster) electorLocked(name string) bool {
	if c.cfg.anyVoter {
		return true
	}
	a, ok := c.addrOf[name]
	return ok && c.electorate[a]
}

// warnOnce logs a warning the first time key is seen.
func (c *Cluster) warnOnce(key, msg string, args ...any) {
	c.mu.Lock()
	done := c.warned[key]
	c.warned[key] = true
	c.mu.Unlock()
	if !done {
		c.cfg.Log.Warn(msg, args...)
	}
}

// noteAddr records the address a member was seen at. A known name seen at
// a new address is a second agent using it (memberlist lets a newcomer take
// over the name of a node it thinks dead, with no conflict report, though
// the old agent may be alive across a partition): it is treated as a name
// conflict, so neither votes nor endorses for ConflictHold.
func (c *Cluster) noteAddr(n *memberlist.Node) {
	addr := nodeAddr(n)
	if addr == "" || n.Name == c.cfg.NodeName {
		return
	}
	c.mu.Lock()
	prev, known := c.addrOf[n.Name]
	c.addrOf[n.Name] = addr
	outsider := !c.cfg.anyVoter && !c.electorate[addr] && len(c.electorate) > 0
	c.mu.Unlock()
	if known && prev != addr {
		c.noteConflict(n.Name, prev, addr)
	}
	if outsider {
		c.warnOnce("outsider:"+n.Name+"@"+addr, "an agent that is not in Members.peers joined: its view neither votes nor endorses a writer; list every other agent in peers on every agent",
			"node_name", n.Name, "address", addr, "peers", c.cfg.Peers)
	}
}
