package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"time"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/monitor"
)

// peerEntry is what this agent keeps of another: its latest view (runs
// is its View.Runs, for the release rule).
type peerEntry struct {
	view     View
	states   map[netip.Addr]monitor.State
	runs     map[netip.Addr]int
	received time.Time // by the wall clock
	fresh    time.Time // by the monotonic clock
}

// broadcast seals this agent's view, with its ballot for the writer, and
// queues it for every live peer.
func (c *Cluster) broadcast(mine View) {
	if c.ml == nil {
		return
	}
	c.seq++
	now := c.cfg.Mono()
	c.mu.Lock()
	d := c.decision
	ready := d.Quorate && !d.LocalIsolated && !c.conflicted(c.cfg.NodeName, now)
	want := ""
	if ready {
		want = d.Writer
	}
	mine.Ready = ready
	mine.Vote, mine.Term = c.elector.Vote(now, want)
	if l := c.elector.Lease(now, c.countsFor(now)); l.Held && ready {
		mine.Held = l.Term
	}
	mine.Echoes = maps.Clone(c.echoes)
	c.elector.Sent(c.seq, now)
	c.mu.Unlock()

	c.stage(c.seq, mine) // delta.go: one delta per peer, coalesced
}

// receive checks one peer message and stores its view and its ballot. It
// reports whether a view was stored.
func (c *Cluster) receive(msg []byte) bool {
	now := c.cfg.Now()
	e, reason, err := c.open(msg, now)
	if err != nil {
		c.drop(reason, err, now)
		return false
	}
	v, err := decodePayload(e.Payload) // delta.go: compressed or not
	if err != nil {
		c.drop(DropMalformed, fmt.Errorf("view from %s: %w", e.Sender, err), now)
		return false
	}
	c.mu.Lock()
	held := c.echoes[e.Sender]
	whole := c.mergeLocked(e.Sender, e.Incarnation, e.Seq, &v) // delta.go
	if whole {
		c.peers[e.Sender] = &peerEntry{view: v, states: v.States(), runs: v.Runs(), received: now, fresh: c.cfg.Mono()}
		c.echoes[e.Sender] = Echo{Inc: e.Incarnation, Seq: e.Seq}
	}
	if c.elector != nil {
		c.elector.Observe(e.Sender, Ballot{Vote: v.Vote, Term: v.Term, Echo: v.Echoes[c.cfg.NodeName]})
	}
	c.mu.Unlock()
	if !whole {
		c.drop(DropDeltaBase, deltaBaseError(e.Sender, v.Base, held), now)
	}
	return whole
}

func (c *Cluster) open(msg []byte, now time.Time) (crypto.Envelope, string, error) {
	fp, _, _ := c.settings()
	e, err := c.sealer.Open(msg)
	switch {
	case errors.Is(err, crypto.ErrTooLarge):
		return e, DropOversized, err
	case errors.Is(err, crypto.ErrTruncated):
		return e, DropTruncated, err
	case errors.Is(err, crypto.ErrAuth):
		return e, DropWrongKey, err
	case err != nil:
		return e, DropGarbage, err
	case e.Sender == c.cfg.NodeName:
		if c.ml != nil {
			c.noteConflict(e.Sender)
		}
		return e, DropSelf, fmt.Errorf("a message claims this agent's own name %q: node names must be unique", e.Sender)
	case e.Fingerprint != fp:
		return e, DropWrongConfig, fmt.Errorf("agent %s decides by other rules (config fingerprint %x, ours %x: the groups' zones, hostnames, addresses or all_down, or min_peers_agree, view_stale_after, isolation_threshold or allow_split_brain differ; compare goavail validate on both); its views are ignored until the configurations match", e.Sender, e.Fingerprint, fp)
	}
	if err := c.guard.Check(e, now); err != nil {
		switch {
		case errors.Is(err, crypto.ErrReordered):
			return e, DropReordered, err
		case errors.Is(err, crypto.ErrReplay):
			return e, DropReplayed, err
		case errors.Is(err, crypto.ErrClockSkew):
			return e, DropClockSkew, err
		}
		return e, DropTooManyPeers, err
	}
	return e, "", nil
}

// drop counts a rejected message and logs it, at most once per reason
// every dropLogEvery.
func (c *Cluster) drop(reason string, err error, now time.Time) {
	c.mu.Lock()
	c.dropped[reason]++
	total := c.dropped[reason]
	last, logged := c.dropLog[reason]
	due := !logged || now.Sub(last) >= dropLogEvery
	if due {
		c.dropLog[reason] = now
	}
	c.mu.Unlock()
	level := slog.LevelWarn
	if reason == DropReordered || reason == DropDeltaBase { // benign: the newer view is already here, or the next heals
		level = slog.LevelDebug
	}
	if due {
		c.cfg.Log.Log(context.Background(), level, "dropped peer message", "reason", reason, "total", total, "err", err)
	}
}

// PeerViews returns the latest view of every peer, by node name.
func (c *Cluster) PeerViews() map[string]View {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]View, len(c.peers))
	for n, p := range c.peers {
		out[n] = p.view
	}
	return out
}

// Dropped returns how many peer messages were dropped, by reason.
func (c *Cluster) Dropped() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.dropped)
}
