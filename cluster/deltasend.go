package cluster

import (
	"fmt"
	"time"

	"github.com/goavail/goavail/crypto"
)

// stage records this agent's view, about to be sent as sequence seq, and
// asks every live peer's sender for a message.
func (c *Cluster) stage(seq uint64, mine View) {
	c.out.record(seq, mine)
	live := map[string]bool{}
	for _, name := range c.Members() {
		if name == c.cfg.NodeName {
			continue
		}
		live[name] = true
		ob, ok := c.outboxes[name]
		if !ok {
			ob = make(chan struct{}, 1)
			c.outboxes[name] = ob
			c.senders.Add(1)
			go c.send(name, ob)
		}
		signal(ob)
	}
	for name, ob := range c.outboxes {
		if !live[name] {
			close(ob)
			delete(c.outboxes, name)
		}
	}
}

// send delivers this agent's latest view to one peer, so a slow or
// unreachable peer delays no one else, at most once every sendGap: what
// changed meanwhile goes in one delta. A small message goes in one UDP
// packet, a big one (or any while the peer's echo lags) over memberlist's
// encrypted TCP stream (see route.go); both are sealed.
func (c *Cluster) send(name string, ob chan struct{}) {
	defer c.senders.Done()
	var last time.Time
	var sent uint64 // the sequence last sent
	var rt route
	overdue := time.NewTimer(time.Hour)
	overdue.Stop()
	defer overdue.Stop()
	for {
		select {
		case _, open := <-ob:
			if !open {
				return
			}
		case <-overdue.C:
			// A message sent by UDP is still unechoed: a fresh view goes to
			// the peer by TCP (and to the others as usual).
			rt.ack(c.out.echoOf(name, c.inc))
			if _, _, vi := c.settings(); rt.overdue(time.Now(), routeLag(vi)) {
				c.LocalChanged()
			} else if d := rt.due(routeLag(vi)); !d.IsZero() {
				overdue.Reset(time.Until(d))
			}
			continue
		}
		if wait := sendGap - time.Since(last); wait > 0 {
			time.Sleep(wait)
			select { // a request made while waiting is served by this send
			case _, open := <-ob:
				if !open {
					return
				}
			default:
			}
		}
		last = time.Now()
		node, ok := c.member(name)
		if !ok {
			continue
		}
		msg, seq, delivered, err := c.messageFor(name)
		switch {
		case err != nil:
			c.cfg.Log.Error("encode view", "peer", name, "err", err)
			continue
		case seq == sent: // already sent: the peer would drop it as a replay
			continue
		}
		_, _, vi := c.settings()
		held := rt.tcpUntil
		via := rt.pick(last, len(msg), c.out.echoOf(name, c.inc), routeLag(vi), routeHold(vi))
		if rt.tcpUntil != held {
			c.cfg.Log.Debug("views go by TCP: a packet was not echoed in time (is UDP lost on the way?)", "peer", name, "lag", routeLag(vi), "for", rt.tcpUntil.Sub(last).Round(time.Second))
		}
		if via == viaUDP && (c.cfg.losePacket == nil || !c.cfg.losePacket(name)) {
			if err := c.ml.SendBestEffort(&node, msg); err != nil {
				c.cfg.Log.Debug("send view", "peer", name, "via", via, "err", err)
				via = viaTCP // one packet could not go: the stream may
			}
		}
		if via == viaTCP {
			if err := c.ml.SendReliable(&node, msg); err != nil {
				c.cfg.Log.Debug("send view", "peer", name, "via", via, "err", err)
				continue
			}
			delivered() // only a stream's delivery makes a delta base
		}
		sent = seq
		rt.sent(via, seq, last)
		c.out.sentBy[via].Add(1)
		if d := rt.due(routeLag(vi)); !d.IsZero() && via == viaUDP && len(rt.pending) == 1 {
			overdue.Stop()
			overdue.Reset(time.Until(d))
		}
	}
}

// SentViews returns how many view messages this agent has sent to its
// peers, in UDP packets and over TCP streams.
func (c *Cluster) SentViews() (udp, tcp uint64) {
	return c.out.sentBy[viaUDP].Load(), c.out.sentBy[viaTCP].Load()
}

// messageFor seals the staged view for peer (see forPeer) and returns its
// sequence and the function to call once it is delivered.
func (c *Cluster) messageFor(peer string) ([]byte, uint64, func(), error) {
	c.mu.Lock()
	peerInc := c.echoes[peer].Inc
	fp := c.cfg.Fingerprint
	c.mu.Unlock()
	var echo, refused uint64
	c.out.mu.Lock()
	h := c.out.heard[peer]
	c.out.mu.Unlock()
	if h.echo.Inc == c.inc {
		echo = h.echo.Seq
	}
	if h.refused.Inc == c.inc {
		refused = h.refused.Seq
	}
	v, seq, delivered := c.out.forPeer(peer, peerInc, echo, refused)
	if seq == 0 {
		return nil, 0, nil, fmt.Errorf("no view staged yet")
	}
	payload, err := v.MarshalBinary()
	if err != nil {
		return nil, 0, nil, err
	}
	payload = c.out.compress(payload)
	msg, err := c.sealer.Seal(crypto.Envelope{Sender: c.cfg.NodeName, Incarnation: c.inc, Seq: seq, Time: c.cfg.Now(), Fingerprint: fp, Payload: payload})
	return msg, seq, delivered, err
}

// mergeLocked makes v, message seq of sender's incarnation inc, a whole
// view: a delta is applied onto the stored copy when that copy is of the
// same incarnation and at or past the delta's base. Otherwise it reports
// false: the stored copy (entries and header, all of one message) and the
// echo stay as they were, the echo is forgotten when no copy is stored (so
// the sender sends the whole view), and the refusal is noted for our next
// messages to the sender. Either way what v says of our views is noted for
// the deltas we send. c.mu held.
func (c *Cluster) mergeLocked(sender string, inc, seq uint64, v *View) bool {
	self := c.cfg.NodeName
	c.out.mu.Lock()
	if c.out.heard == nil {
		c.out.heard = map[string]heard{}
	}
	c.out.heard[sender] = heard{echo: v.Echoes[self], refused: v.Refused[self]}
	c.out.mu.Unlock()
	if v.Base == 0 {
		return true
	}
	p := c.peers[sender]
	echo := c.echoes[sender]
	if p != nil && echo.Inc == inc && echo.Seq >= v.Base {
		v.Entries = applyDelta(p.view.Entries, v.Entries, v.Removed)
		if v.AnnexKept {
			v.Annex = p.view.Annex
		}
		v.Base, v.Removed, v.AnnexKept = 0, nil, false
		return true
	}
	c.out.refuse(sender, inc, seq)
	if p == nil {
		delete(c.echoes, sender)
	}
	return false
}

// receiveQueued receives msg and the messages queued behind it, so that a
// burst of views costs one agreement round, not one each. It reports
// whether any view was stored.
func (c *Cluster) receiveQueued(msg []byte) bool {
	stored := c.receive(msg)
	for range inboxSize {
		select {
		case m := <-c.inbox:
			stored = c.receive(m) || stored
		default:
			return stored
		}
	}
	return stored
}
