package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/monitor"
)

// deltaNode is an agent without a listener: the test moves its messages.
type deltaNode struct {
	*Cluster
	local   map[netip.Addr]monitor.Status
	annex   []byte
	history map[uint64]map[netip.Addr]deltaKey // staged sequence -> entries
	annexes map[uint64][]byte                  // staged sequence -> annex
}

func newDeltaNode(t *testing.T, name string, inc uint64) *deltaNode {
	t.Helper()
	c, err := New(Config{NodeName: name, ViewInterval: time.Second, Local: func() []monitor.Status { return nil }, Log: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := crypto.NewSealer([][]byte{keyA})
	if err != nil {
		t.Fatal(err)
	}
	c.sealer, c.guard, c.inc = sealer, crypto.NewReplayGuard(time.Hour), inc
	c.cfg.Fingerprint = fp
	return &deltaNode{Cluster: c, local: map[netip.Addr]monitor.Status{}, history: map[uint64]map[netip.Addr]deltaKey{}, annexes: map[uint64][]byte{}}
}

// stage does what broadcast does for the entries: a new sequence, the
// echoes, the staged view.
func (n *deltaNode) stage() {
	n.seq++
	n.mu.Lock()
	echoes := maps.Clone(n.echoes)
	n.mu.Unlock()
	n.out.record(n.seq, View{Entries: slices.Collect(maps.Values(n.local)), Annex: n.annex, Echoes: echoes})
	n.history[n.seq] = keys(slices.Collect(maps.Values(n.local)))
	n.annexes[n.seq] = n.annex
}

func keys(entries []monitor.Status) map[netip.Addr]deltaKey {
	out := make(map[netip.Addr]deltaKey, len(entries))
	for _, e := range entries {
		out[e.Addr] = keyOf(e)
	}
	return out
}

// mutate changes a few of the node's entries: a state, a failing run, an
// error, only the round-trip times (no change for deltas), an address
// added or removed.
func (n *deltaNode) mutate(r *rand.Rand, pool []netip.Addr) {
	if r.IntN(5) == 0 { // the annex: a new value, or none
		n.annex = []byte(fmt.Sprint("memory ", r.IntN(4)))
		if r.IntN(4) == 0 {
			n.annex = nil
		}
	}
	for range 1 + r.IntN(3) {
		a := pool[r.IntN(len(pool))]
		e, ok := n.local[a]
		if !ok || r.IntN(8) == 0 {
			if ok {
				delete(n.local, a)
			} else {
				n.local[a] = monitor.Status{Addr: a, State: monitor.Up, Since: time.Unix(int64(r.IntN(1000)), 0)}
			}
			continue
		}
		switch r.IntN(4) {
		case 0:
			e.State = monitor.State(r.IntN(int(monitor.Down) + 1))
			e.Since = time.Unix(int64(r.IntN(1000)), 0)
		case 1:
			e.Evidence.FailRun = r.IntN(3)
		case 2:
			e.Evidence.LastError = []string{"", "timeout", "no route to host"}[r.IntN(3)]
		case 3:
			e.Evidence.RTTs = []time.Duration{time.Duration(r.IntN(1000)) * time.Microsecond}
			e.Evidence.Probes++
		}
		n.local[a] = e
	}
}

type deltaMsg struct {
	to  int
	msg []byte
}

// TestDelta_StoredCopyMatchesEcho: with messages dropped, delayed and
// reordered between agents (half of them sent as by UDP: never a base), and agents restarting or forgetting a peer,
// a peer's stored copy of an agent's entries and annex always equals that
// agent's as of the sequence the peer echoes; and once messages flow again
// every copy catches up with the agent's latest entries.
func TestDelta_StoredCopyMatchesEcho(t *testing.T) {
	pool := []netip.Addr{}
	for i := range 24 {
		pool = append(pool, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i)))
	}
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 11))
			nodes := make([]*deltaNode, 3)
			for i := range nodes {
				nodes[i] = newDeltaNode(t, fmt.Sprint("n", i), 100)
				nodes[i].stage()
			}
			var net []deltaMsg
			deltas, healing := 0, false
			sends := func(from, to int) {
				msg, _, delivered, err := nodes[from].messageFor(nodes[to].cfg.NodeName)
				if err != nil {
					t.Fatal(err)
				}
				// A message sent by UDP is never delivered (no chain), nor one
				// whose stream the sender saw fail; either may still arrive.
				if udp := !healing && r.IntN(2) == 0; !udp && (healing || r.IntN(10) != 0) {
					delivered()
				}
				net = append(net, deltaMsg{to, msg})
				if e, err := nodes[from].sealer.Open(msg); err == nil {
					if v, err := DecodeView(e.Payload); err == nil && v.Base != 0 {
						deltas++
					}
				}
			}
			check := func(step int) {
				t.Helper()
				for _, y := range nodes {
					y.mu.Lock()
					for _, x := range nodes {
						echo, ok := y.echoes[x.cfg.NodeName]
						p := y.peers[x.cfg.NodeName]
						if !ok || echo.Inc != x.inc {
							continue
						}
						if p == nil {
							t.Fatalf("step %d: %s echoes %s's view %d but holds none", step, y.cfg.NodeName, x.cfg.NodeName, echo.Seq)
						}
						if want, got := x.history[echo.Seq], keys(p.view.Entries); !maps.Equal(want, got) {
							t.Fatalf("step %d: %s holds %v of %s, echoes its view %d which is %v", step, y.cfg.NodeName, got, x.cfg.NodeName, echo.Seq, want)
						}
						if want := x.annexes[echo.Seq]; !bytes.Equal(p.view.Annex, want) {
							t.Fatalf("step %d: %s holds annex %q of %s, echoes its view %d whose annex is %q", step, y.cfg.NodeName, p.view.Annex, x.cfg.NodeName, echo.Seq, want)
						}
						if !slices.IsSortedFunc(p.view.Entries, func(a, b monitor.Status) int { return a.Addr.Compare(b.Addr) }) {
							t.Fatalf("step %d: stored entries out of order", step)
						}
					}
					y.mu.Unlock()
				}
			}
			for step := range 1500 {
				from, to := r.IntN(3), r.IntN(3)
				switch op := r.IntN(20); {
				case op < 5:
					nodes[from].mutate(r, pool)
					nodes[from].stage()
				case op < 10:
					if from != to {
						sends(from, to)
					}
				case op < 17 && len(net) > 0: // deliver one, not always the oldest
					i := r.IntN(min(len(net), 4))
					m := net[i]
					net = slices.Delete(net, i, i+1)
					nodes[m.to].receive(m.msg)
					check(step)
				case op < 19 && len(net) > 0: // lose one
					i := r.IntN(len(net))
					net = slices.Delete(net, i, i+1)
				case op == 19 && r.IntN(10) == 0: // restart an agent, or forget a peer
					if r.IntN(2) == 0 {
						old := nodes[from]
						n := newDeltaNode(t, old.cfg.NodeName, old.inc+1)
						n.local = old.local
						n.stage()
						nodes[from] = n
					} else if from != to {
						nodes[from].mu.Lock()
						delete(nodes[from].peers, nodes[to].cfg.NodeName)
						delete(nodes[from].echoes, nodes[to].cfg.NodeName) // as decide forgets a long-gone peer
						nodes[from].mu.Unlock()
					}
				}
			}
			refused := uint64(0)
			for _, n := range nodes {
				refused += n.Dropped()[DropDeltaBase]
			}
			if deltas == 0 || refused == 0 {
				t.Errorf("the run sent %d deltas and refused %d: it does not exercise the protocol", deltas, refused)
			}
			// Heal: everyone sends to everyone in order a few times (a
			// refusal takes a round to reach the sender).
			net, healing = nil, true
			for range 4 {
				for i := range nodes {
					nodes[i].stage()
					for j := range nodes {
						if i != j {
							sends(i, j)
						}
					}
				}
				for _, m := range net {
					nodes[m.to].receive(m.msg)
					check(-1)
				}
				net = nil
			}
			for _, y := range nodes {
				for _, x := range nodes {
					if x == y {
						continue
					}
					p := y.PeerViews()[x.cfg.NodeName]
					if want, got := keys(slices.Collect(maps.Values(x.local))), keys(p.Entries); !maps.Equal(want, got) {
						t.Errorf("after healing %s holds %v of %s, which has %v", y.cfg.NodeName, got, x.cfg.NodeName, want)
					}
				}
			}
		})
	}
}

// TestDelta_OnlyChanges: a delta carries the entries whose state, since,
// failing or error changed, and the removed addresses; round-trip times
// alone are no change; a base older than a forgotten tombstone gets the
// whole view.
func TestDelta_OnlyChanges(t *testing.T) {
	var l deltaLog
	e := func(i int, s monitor.State, rtt time.Duration) monitor.Status {
		return monitor.Status{Addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), State: s, Evidence: monitor.Evidence{RTTs: []time.Duration{rtt}}}
	}
	l.record(1, View{Entries: []monitor.Status{e(1, monitor.Up, 1), e(2, monitor.Up, 1), e(3, monitor.Up, 1)}})
	l.record(2, View{Entries: []monitor.Status{e(1, monitor.Up, 2), e(2, monitor.Down, 2)}, Vote: "n2"})
	v, seq := l.since(1)
	if seq != 2 || v.Base != 1 || len(v.Entries) != 1 || v.Entries[0].Addr != e(2, 0, 0).Addr || v.Entries[0].Evidence.RTTs[0] != 2 ||
		!slices.Equal(v.Removed, []netip.Addr{e(3, 0, 0).Addr}) || v.Vote != "n2" {
		t.Errorf("delta since 1: %+v (seq %d)", v, seq)
	}
	if v, _ := l.since(2); len(v.Entries) != 0 || len(v.Removed) != 0 || v.Base != 2 {
		t.Errorf("delta since the latest: %+v", v)
	}
	if v, _ := l.since(0); v.Base != 0 || len(v.Entries) != 2 {
		t.Errorf("whole view: %+v", v)
	}
	many := make([]monitor.Status, maxTombstones+2)
	for i := range many {
		many[i] = e(i, monitor.Up, 1)
	}
	l.record(3, View{Entries: many})
	l.record(4, View{})
	if v, _ := l.since(3); v.Base != 0 || len(v.Entries) != 0 {
		t.Errorf("a base older than forgotten tombstones got %d changes, %d removals on base %d", len(v.Entries), len(v.Removed), v.Base)
	}
}

// FuzzApplyDelta: a message payload (compressed or not) decodes to a view
// or to an ErrView error, never panicking; a decoded delta applied onto a
// stored view gives a sorted view with no repeated address, equal to
// applying it one address at a time.
func FuzzApplyDelta(f *testing.F) {
	var l deltaLog
	l.record(1, sampleView())
	l.record(2, View{Entries: []monitor.Status{{Addr: ipA, State: monitor.Down}, {Addr: ipB}}})
	d, _ := l.since(1)
	good, err := d.MarshalBinary()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(l.compress(good))
	f.Add([]byte{4, 7, 0, 2, 4, 10, 0, 0, 1, 4, 10, 0, 0, 2, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{compressedView, 1, 0, 0, 0xff, 0xff})
	stored := sampleView().Entries
	slices.SortFunc(stored, func(a, b monitor.Status) int { return a.Addr.Compare(b.Addr) })
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodePayload(b)
		if err != nil {
			if !errors.Is(err, ErrView) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if v.Base == 0 && len(v.Removed) > 0 {
			t.Fatalf("a whole view with removals accepted")
		}
		got := applyDelta(stored, v.Entries, v.Removed)
		want := map[netip.Addr]monitor.Status{}
		for _, e := range stored {
			want[e.Addr] = e
		}
		for _, e := range v.Entries {
			want[e.Addr] = e
		}
		for _, a := range v.Removed {
			delete(want, a)
		}
		if len(got) != len(want) {
			t.Fatalf("applied delta has %d entries, want %d", len(got), len(want))
		}
		for i, e := range got {
			if i > 0 && !got[i-1].Addr.Less(e.Addr) {
				t.Fatalf("applied delta out of order at %d", i)
			}
			if w, ok := want[e.Addr]; !ok || keyOf(w) != keyOf(e) {
				t.Fatalf("applied delta has %v, want %v", e, w)
			}
		}
	})
}

// TestDelta_Chain: the first message to a peer is whole; later ones build
// on the last delivered, before any echo; a refusal of a message sent since
// the chain started, or a new incarnation of the peer, restarts it on the
// peer's echo; an older refusal does not; each message carries only the
// peer's own echo.
func TestDelta_Chain(t *testing.T) {
	var l deltaLog
	entries := []monitor.Status{{Addr: ipA, State: monitor.Up}, {Addr: ipB, State: monitor.Up}}
	stage := func(seq uint64, s monitor.State) {
		entries[1].State = s
		l.record(seq, View{Entries: entries, Echoes: map[string]Echo{"p": {7, 3}, "q": {8, 4}}})
	}
	stage(1, monitor.Up)
	v, seq, delivered := l.forPeer("p", 7, 0, 0)
	if v.Base != 0 || len(v.Entries) != 2 || seq != 1 || len(v.Echoes) != 1 || v.Echoes["p"] != (Echo{7, 3}) {
		t.Fatalf("first message: %+v", v)
	}
	delivered()
	stage(2, monitor.Down)
	v, _, delivered = l.forPeer("p", 7, 0, 0)
	if v.Base != 1 || len(v.Entries) != 1 {
		t.Fatalf("chained message: base %d, %d entries", v.Base, len(v.Entries))
	}
	delivered()
	stage(3, monitor.Up)
	if v, _, _ := l.forPeer("p", 7, 1, 2); v.Base != 1 || len(v.Entries) != 1 {
		t.Errorf("after a refusal of 2: base %d, want the echo 1", v.Base)
	}
	if v, _, _ := l.forPeer("p", 7, 0, 2); v.Base != 0 {
		t.Errorf("after a refusal with no echo: base %d, want a whole view", v.Base)
	}
	v, _, delivered = l.forPeer("p", 7, 1, 2)
	delivered() // the chain restarts at 3
	stage(4, monitor.Down)
	if v, _, _ := l.forPeer("p", 7, 1, 2); v.Base != 3 {
		t.Errorf("a refusal older than the restart: base %d, want 3", v.Base)
	}
	if v, _, _ := l.forPeer("p", 9, 0, 0); v.Base != 0 {
		t.Errorf("a new incarnation of the peer: base %d, want a whole view", v.Base)
	}
}

// TestDelta_PacketIsNoBase: a message sent by UDP (not delivered by a
// stream) and lost is never the base of the next: that one builds on the
// peer's echo, holds the lost message's changes too, and applies.
func TestDelta_PacketIsNoBase(t *testing.T) {
	a, b := newDeltaNode(t, "a", 100), newDeltaNode(t, "b", 200)
	a.local[ipA] = monitor.Status{Addr: ipA, State: monitor.Up}
	a.local[ipB] = monitor.Status{Addr: ipB, State: monitor.Up}
	a.stage()
	b.stage()
	msg, _, delivered, err := a.messageFor("b") // by TCP
	if err != nil {
		t.Fatal(err)
	}
	delivered()
	b.receive(msg)
	b.stage() // b echoes a's view 1
	msg, _, delivered, _ = b.messageFor("a")
	delivered()
	a.receive(msg)

	a.local[ipA] = monitor.Status{Addr: ipA, State: monitor.Down}
	a.stage()
	if _, seq, _, err := a.messageFor("b"); err != nil || seq != 2 { // by UDP, and lost
		t.Fatalf("message 2: seq %d, %v", seq, err)
	}
	a.local[ipB] = monitor.Status{Addr: ipB, State: monitor.Down}
	a.stage()
	msg, _, _, _ = a.messageFor("b")
	e, _ := a.sealer.Open(msg)
	v, err := decodePayload(e.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if v.Base != 1 || len(v.Entries) != 2 {
		t.Fatalf("message 3: base %d with %d entries, want base 1 (the echo) with both changes", v.Base, len(v.Entries))
	}
	b.receive(msg)
	if got := b.PeerViews()["a"].States(); got[ipA] != monitor.Down || got[ipB] != monitor.Down || b.Dropped()[DropDeltaBase] != 0 {
		t.Errorf("b holds %v of a (refused %d), want both down", got, b.Dropped()[DropDeltaBase])
	}
}
