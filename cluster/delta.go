package cluster

import (
	"bytes"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

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
