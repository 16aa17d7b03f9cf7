package cluster

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/monitor"
)

// Gossip at scale. A view's entries go to each peer as a delta against a
// base: a position of our view the peer holds. The header (ready, vote,
// term, held, and the peer's own echo and refusal) always goes in full, the
// annex when it changed since the base (else AnnexKept); each peer gets its
// own message, so it carries only the echo the
// peer's lease reads (Echoes[peer]) and the peer's refusal (Refused[peer]).
//
// Invariant: a peer's stored copy of our entries equals our entries as of
// the sequence it echoes, in the fields a delta carries for a change
// (state, since, failing or not, last error; round-trip times and counters
// ride along with a changed entry but do not by themselves make it change).
//
// It holds because (1) the receiver applies a delta with base B only onto a
// stored copy of the same incarnation at a sequence S ≥ B, (2) a delta with
// base B for our view N holds every entry whose fields changed in (B, N]
// and every address removed in (B, N] (a base below the oldest tombstone
// kept, of another incarnation, or zero gets the whole view), and every
// entry that changed in (S, N] also changed in (B, N], so overwriting them
// gives our entries at N, and (3) the receiver then echoes N. A delta it
// cannot apply leaves its copy and its echo as they were.
//
// The base is the position the peer echoed, or, so that a change is sent
// once and not until the echo comes back, the last message a TCP stream
// delivered to the peer (a chain). A message sent in a UDP packet (see
// route.go) is never a base: it may be lost, so its changes go again in
// every message until the peer echoes it or a stream delivers a later one.
// A peer that refuses a delta says so in its next messages (Refused[us]:
// our latest message it refused); a refusal of a message sent since the
// chain was last restarted restarts it on the peer's echo (whole view if
// none), as does a new incarnation of the peer. Echoes keep their
// meaning for the writer lease: the latest view of ours the peer holds.

const (
	// sendGap is the least time between two messages to one peer: a burst of
	// changes goes out as one delta. A message costs about 150 bytes besides
	// its changes (memberlist's framing and encryption, the seal, the header;
	// a TCP stream adds about 450 bytes of packet headers, a UDP packet 28):
	// at 100 ms, 4 peers and a change in every window that alone would be
	// 6 KB/s.
	sendGap = 150 * time.Millisecond
	// maxTombstones bounds the removed addresses remembered for deltas; a
	// peer whose base is older than the oldest forgotten one gets the whole
	// view.
	maxTombstones = 1 << 14
	// decideGap is the least time between two agreement rounds: at 10,000
	// addresses and 5 agents a round takes milliseconds, and views arrive
	// tens of times a second.
	decideGap = 100 * time.Millisecond
)

// DropDeltaBase counts deltas whose base this agent does not hold (a lost
// or reordered message, or a restart): benign, the sender's next message
// is built on the older base this agent echoes.
const DropDeltaBase = "delta_base_missing"

// deltaKey is what makes an entry count as changed.
type deltaKey struct {
	state   monitor.State
	since   int64
	failing bool
	lastErr string
}

func keyOf(s monitor.Status) deltaKey {
	var since int64
	if !s.Since.IsZero() {
		since = s.Since.UnixNano()
	}
	return deltaKey{s.State, since, s.State != monitor.Down && s.Evidence.FailRun > 0, s.Evidence.LastError}
}

// deltaLog is this agent's latest staged view and, per address, the
// sequence at which it last changed.
type deltaLog struct {
	mu      sync.Mutex
	seq     uint64           // the staged view's sequence; 0 before the first
	header  View             // the staged view without entries
	entries []monitor.Status // sorted by address
	changed []uint64         // beside entries
	tombs   map[netip.Addr]uint64
	floor   uint64           // bases below it get the whole view (tombstones forgotten)
	annexAt uint64           // the sequence at which the annex last changed
	chains  map[string]chain // by peer
	refused map[string]Echo  // by sender: its latest message whose delta this agent refused
	heard   map[string]heard // by peer: what its latest message said of ours

	writers sync.Pool        // of *flate.Writer
	sentBy  [2]atomic.Uint64 // messages sent, by transport

	decided  time.Time   // the latest agreement round (Run's goroutine only)
	deferred atomic.Bool // a round is due at the end of decideGap
}

// heard is what a peer's latest message said of our views: the one it
// holds (its echo) and the latest it refused.
type heard struct{ echo, refused Echo }

// chain is what was delivered to one peer.
type chain struct {
	peerInc uint64 // the peer's incarnation when the chain started
	last    uint64 // the latest sequence delivered
	start   uint64 // the sequence the chain (re)started at, on the peer's echo
}

// record stages v as this agent's view at seq (greater than any before).
func (l *deltaLog) record(seq uint64, v View) {
	next := slices.Clone(v.Entries)
	slices.SortFunc(next, func(a, b monitor.Status) int { return a.Addr.Compare(b.Addr) })
	changed := make([]uint64, len(next))
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tombs == nil {
		l.tombs = map[netip.Addr]uint64{}
	}
	i := 0
	for j, e := range next {
		for i < len(l.entries) && l.entries[i].Addr.Less(e.Addr) {
			l.tombs[l.entries[i].Addr] = seq
			i++
		}
		if i < len(l.entries) && l.entries[i].Addr == e.Addr {
			if changed[j] = l.changed[i]; keyOf(l.entries[i]) != keyOf(e) {
				changed[j] = seq
			}
			i++
		} else {
			changed[j] = seq
			delete(l.tombs, e.Addr)
		}
	}
	for ; i < len(l.entries); i++ {
		l.tombs[l.entries[i].Addr] = seq
	}
	if len(l.tombs) > maxTombstones { // forget the older half
		seqs := slices.Sorted(maps.Values(l.tombs))
		cut := seqs[len(seqs)/2]
		for a, s := range l.tombs {
			if s <= cut {
				delete(l.tombs, a)
			}
		}
		l.floor = max(l.floor, cut)
	}
	if l.seq == 0 || !bytes.Equal(v.Annex, l.header.Annex) {
		l.annexAt = seq
	}
	v.Entries, v.Base, v.Removed, v.AnnexKept = nil, 0, nil, false
	l.seq, l.header, l.entries, l.changed = seq, v, next, changed
}

// since returns the staged view as a delta against base (a sequence of
// this incarnation the peer holds; 0 for none), or whole when no delta
// can be built on base.
func (l *deltaLog) since(base uint64) (View, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sinceLocked(base)
}

// forPeer returns the staged view for peer, given the peer's incarnation,
// the position of ours it echoes and our latest message it refused (both
// of this incarnation, or zero), and a function to call once the message
// is delivered.
func (l *deltaLog) forPeer(peer string, peerInc, echo, refused uint64) (View, uint64, func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ch, ok := l.chains[peer]
	restart := !ok || ch.peerInc != peerInc || (refused != 0 && refused >= ch.start)
	base := echo
	if !restart {
		base = max(echo, ch.last)
	}
	v, seq := l.sinceLocked(base)
	if e, ok := l.header.Echoes[peer]; ok {
		v.Echoes = map[string]Echo{peer: e}
	} else {
		v.Echoes = nil
	}
	if r, ok := l.refused[peer]; ok {
		v.Refused = map[string]Echo{peer: r}
	}
	return v, seq, func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.chains == nil {
			l.chains = map[string]chain{}
		}
		ch := l.chains[peer]
		if restart {
			ch = chain{peerInc: peerInc, start: seq}
		}
		ch.last = max(ch.last, seq)
		l.chains[peer] = ch
	}
}

// refuse notes that sender's message (inc, seq) was a delta this agent
// could not apply.
func (l *deltaLog) refuse(sender string, inc, seq uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refused == nil {
		l.refused = map[string]Echo{}
	}
	l.refused[sender] = Echo{Inc: inc, Seq: seq}
}

func (l *deltaLog) sinceLocked(base uint64) (View, uint64) {
	v := l.header
	if base == 0 || base < l.floor || base > l.seq {
		v.Entries = l.entries
		return v, l.seq
	}
	v.Base = base
	if base >= l.annexAt {
		v.Annex, v.AnnexKept = nil, true
	}
	for i, s := range l.changed {
		if s > base {
			v.Entries = append(v.Entries, l.entries[i])
		}
	}
	for a, s := range l.tombs {
		if s > base {
			v.Removed = append(v.Removed, a)
		}
	}
	slices.SortFunc(v.Removed, netip.Addr.Compare)
	return v, l.seq
}

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

// echoOf returns the latest position of our view (incarnation inc) that
// peer echoed, 0 for none.
func (l *deltaLog) echoOf(peer string, inc uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.heard[peer].echo; e.Inc == inc {
		return e.Seq
	}
	return 0
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

// applyDelta returns stored (sorted, whole) with changed (sorted) written
// over it and removed (sorted) taken out.
func applyDelta(stored, changed []monitor.Status, removed []netip.Addr) []monitor.Status {
	out := make([]monitor.Status, 0, len(stored)+len(changed))
	i, j, k := 0, 0, 0
	gone := func(a netip.Addr) bool {
		for k < len(removed) && removed[k].Less(a) {
			k++
		}
		return k < len(removed) && removed[k] == a
	}
	for i < len(stored) || j < len(changed) {
		switch {
		case j == len(changed) || (i < len(stored) && stored[i].Addr.Less(changed[j].Addr)):
			if !gone(stored[i].Addr) {
				out = append(out, stored[i])
			}
			i++
		case i == len(stored) || changed[j].Addr.Less(stored[i].Addr):
			out = append(out, changed[j])
			j++
		default:
			out = append(out, changed[j])
			i++
			j++
		}
	}
	return out
}

// receiveNote says why a message's entries were not applied.
func deltaBaseError(sender string, base uint64, held Echo) error {
	return fmt.Errorf("delta from %s on its view %d, this agent holds %d of incarnation %d: waiting for the next message on the older base", sender, base, held.Seq, held.Inc)
}

// appendRemoved encodes a delta's removed addresses (sorted, none among
// entries, none in a whole view).
func appendRemoved(b []byte, base uint64, entries []monitor.Status, removed []netip.Addr) ([]byte, error) {
	if base == 0 && len(removed) > 0 {
		return nil, fmt.Errorf("a whole view lists %d removed addresses", len(removed))
	}
	if len(removed) > maxEntries {
		return nil, fmt.Errorf("view removes %d addresses, more than %d", len(removed), maxEntries)
	}
	b = binary.AppendUvarint(b, uint64(len(removed)))
	j := 0
	for i, a := range removed {
		for j < len(entries) && entries[j].Addr.Less(a) {
			j++
		}
		if !a.IsValid() || (i > 0 && !removed[i-1].Less(a)) || (j < len(entries) && entries[j].Addr == a) {
			return nil, fmt.Errorf("view removed address %d: invalid, out of order, repeated or also changed: %v", i, a)
		}
		s := a.Unmap().AsSlice()
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

// removed decodes what appendRemoved encodes.
func (d *decoder) removed(base uint64, entries []monitor.Status) []netip.Addr {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if base == 0 || n > maxEntries || n > uint64(len(d.b))/5 {
		d.fail("%d removed addresses in a view of base %d", n, base)
		return nil
	}
	out := make([]netip.Addr, 0, n)
	j := 0
	for i := uint64(0); i < n && d.err == nil; i++ {
		al := int(d.byte())
		if al != 4 && al != 16 {
			d.fail("removed %d: address of %d bytes", i, al)
			break
		}
		a, _ := netip.AddrFromSlice(d.bytes(al))
		if d.err != nil {
			break
		}
		for j < len(entries) && entries[j].Addr.Less(a) {
			j++
		}
		switch {
		case al == 16 && a.Is4In6():
			d.fail("removed %d: IPv4-mapped address %v", i, a)
		case i > 0 && !out[i-1].Less(a):
			d.fail("removed %d: address %v out of order", i, a)
		case j < len(entries) && entries[j].Addr == a:
			d.fail("removed %d: address %v is also changed", i, a)
		}
		out = append(out, a)
	}
	return out
}

// appendNamed encodes a map of positions by name, sorted by name: n |
// len(name)(1) | name | incarnation | sequence.
func appendNamed(b []byte, m map[string]Echo) ([]byte, error) {
	if len(m) > maxEchoes {
		return nil, fmt.Errorf("view has %d named positions, more than %d", len(m), maxEchoes)
	}
	names := slices.Sorted(maps.Keys(m))
	b = binary.AppendUvarint(b, uint64(len(names)))
	for _, n := range names {
		if len(n) == 0 || len(n) > 255 {
			return nil, fmt.Errorf("view name %q must be 1 to 255 bytes", n)
		}
		b = append(b, byte(len(n)))
		b = append(b, n...)
		b = binary.AppendUvarint(b, m[n].Inc)
		b = binary.AppendUvarint(b, m[n].Seq)
	}
	return b, nil
}

// named decodes what appendNamed encodes (nil for none).
func (d *decoder) named() map[string]Echo {
	n := d.uvarint()
	if d.err == nil && (n > maxEchoes || n > uint64(len(d.b))/3) {
		d.fail("%d named positions", n)
	}
	var out map[string]Echo
	prev := ""
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := string(d.bytes(int(d.byte())))
		if d.err == nil && (name == "" || (i > 0 && name <= prev)) {
			d.fail("position %d: empty or out-of-order name %q", i, name)
		}
		e := Echo{Inc: d.uvarint(), Seq: d.uvarint()}
		if d.err == nil {
			if out == nil {
				out = make(map[string]Echo, n)
			}
			out[name] = e
		}
		prev = name
	}
	return out
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

// deferDecide reports whether the agreement round due now must wait:
// then a round is asked for on local (once) when decideGap has passed
// since the previous round.
func (l *deltaLog) deferDecide(local chan struct{}) bool {
	now := time.Now()
	if wait := decideGap - now.Sub(l.decided); wait > 0 {
		if l.deferred.CompareAndSwap(false, true) {
			time.AfterFunc(wait, func() { l.deferred.Store(false); signal(local) })
		}
		return true
	}
	l.decided = now
	return false
}

// compressedView marks a payload whose rest is a view encoding compressed
// with DEFLATE: the changes of a mass event, and whole views, shrink
// several times.
const compressedView = 0x80 | viewVersion

// compress returns payload compressed when that makes it shorter.
func (l *deltaLog) compress(payload []byte) []byte {
	if len(payload) < 64 {
		return payload
	}
	var buf bytes.Buffer
	buf.Grow(len(payload)/2 + 16)
	buf.WriteByte(compressedView)
	w, _ := l.writers.Get().(*flate.Writer)
	if w == nil {
		w, _ = flate.NewWriter(&buf, flate.BestSpeed)
	} else {
		w.Reset(&buf)
	}
	defer l.writers.Put(w)
	if _, err := w.Write(payload); err != nil || w.Close() != nil || buf.Len() >= len(payload) {
		return payload
	}
	return buf.Bytes()
}

// decodePayload decodes a message's payload: a view, compressed or not.
// A compressed view may not expand past crypto.MaxMessage bytes.
func decodePayload(b []byte) (View, error) {
	if len(b) == 0 || b[0] != compressedView {
		return DecodeView(b)
	}
	r := flate.NewReader(bytes.NewReader(b[1:]))
	defer r.Close()
	plain, err := io.ReadAll(io.LimitReader(r, crypto.MaxMessage+1))
	switch {
	case err != nil:
		return View{}, fmt.Errorf("%w: compressed: %w", ErrView, err)
	case len(plain) > crypto.MaxMessage:
		return View{}, fmt.Errorf("%w: expands past %d bytes", ErrView, crypto.MaxMessage)
	case len(plain) > 0 && plain[0] == compressedView:
		return View{}, fmt.Errorf("%w: compressed twice", ErrView)
	}
	return DecodeView(plain)
}

// annexKeptFlag is the view flag for AnnexKept: 2, or 4 (invalid) when a
// view that is not a delta, or sends an annex, says so.
func annexKeptFlag(v View) byte {
	switch {
	case !v.AnnexKept:
		return 0
	case v.Base == 0 || len(v.Annex) > 0:
		return 4
	}
	return 2
}
