package cluster

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/goavail/goavail/monitor"
)

// threeCuttable starts three agents whose links can be cut and waits
// until each holds the others' views.
func threeCuttable(t *testing.T) ([]*node, []*cutTransport) {
	t.Helper()
	n1, t1 := startCuttable(t, "n1", []string{"127.0.0.1:1"})
	n2, t2 := startCuttable(t, "n2", []string{n1.Addr()})
	n3, t3 := startCuttable(t, "n3", []string{n1.Addr(), n2.Addr()})
	nodes := []*node{n1, n2, n3}
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" holds both peers' views", func() bool { return len(n.PeerViews()) == 2 })
	}
	return nodes, []*cutTransport{t1, t2, t3}
}

// TestGossip_SmallViewsGoByUDP: once peers hold each other's views, a
// change goes to each peer in one UDP packet, not a TCP stream (a stream
// costs about ten packets of headers), and the deltas never need a base
// the peer lacks.
func TestGossip_SmallViewsGoByUDP(t *testing.T) {
	nodes, _ := threeCuttable(t)
	n1, n2 := nodes[0], nodes[1]
	udp0, tcp0 := n1.SentViews()
	const changes = 10
	for i := range changes {
		want := []monitor.State{D, U}[i%2]
		n1.set(ipA, want)
		eventually(t, "n2 holds n1's change", func() bool { return n2.PeerViews()["n1"].States()[ipA] == want })
	}
	udp1, tcp1 := n1.SentViews()
	t.Logf("n1 sent %d views by UDP, %d by TCP for %d changes to 2 peers", udp1-udp0, tcp1-tcp0, changes)
	if udp1-udp0 < changes || tcp1-tcp0 > (udp1-udp0)/4 {
		t.Errorf("n1 sent %d views by UDP and %d by TCP for %d changes: small views should go by UDP", udp1-udp0, tcp1-tcp0, changes)
	}
	for _, n := range nodes {
		if d := n.Dropped()[DropDeltaBase]; d != 0 {
			t.Errorf("%s refused %d deltas: a delta was built on a base it does not hold", n.cfg.NodeName, d)
		}
	}
}

// TestGossip_OneWayUDPLossStillDeliversViews: n1's packets to n2 are all
// lost (streams pass). n2 still gets each of n1's changes: the first
// within the lag after which an unechoed packet sends the peer's messages
// by TCP (plus slack for a loaded machine), the next ones by TCP at once.
// No delta is ever built on a lost packet: n2 refuses none.
func TestGossip_OneWayUDPLossStillDeliversViews(t *testing.T) {
	nodes, tr := threeCuttable(t)
	n1, n2 := nodes[0], nodes[1]
	n1.set(ipA, D) // a first change, by UDP: n2 echoes it
	eventually(t, "n2 holds n1's change", func() bool { return n2.PeerViews()["n1"].States()[ipA] == D })
	tr[0].setProto(tr[1].addr(), "udp", true)
	bound := routeLag(n1.cfg.ViewInterval) + sendGap + 2*time.Second
	for i := range 4 {
		want := []monitor.State{U, D}[i%2]
		at := time.Now()
		n1.set(ipA, want)
		eventually(t, "n2 holds n1's change", func() bool { return n2.PeerViews()["n1"].States()[ipA] == want })
		took := time.Since(at)
		t.Logf("change %d reached n2 in %s (lag %s)", i, took.Round(time.Millisecond), routeLag(n1.cfg.ViewInterval))
		if took > bound {
			t.Errorf("change %d reached n2 behind one-way UDP loss in %s, more than %s", i, took, bound)
		}
	}
	// n3 still gets n1's views by UDP.
	n1.set(ipB, D)
	eventually(t, "n3 holds n1's change", func() bool { return nodes[2].PeerViews()["n1"].States()[ipB] == D })
	for _, n := range nodes {
		if d := n.Dropped()[DropDeltaBase]; d != 0 {
			t.Errorf("%s refused %d deltas: a delta was built on a base it does not hold", n.cfg.NodeName, d)
		}
	}
}

// TestGossip_OneWayUDPLossQuietCluster: with a long view interval (a quiet
// cluster, no tick for seconds) and only n1's view packets to n2 lost (so
// memberlist's probes, and the rounds its events cause, carry on as
// usual), a change sent in a lost packet still reaches n2 about lag after
// it was sent, not at a later tick: the sender checks the echo when it is
// due and sends a fresh view by TCP.
func TestGossip_OneWayUDPLossQuietCluster(t *testing.T) {
	const vi = 3 * time.Second
	rules := Rules{MinPeersAgree: 1, StaleAfter: MinLease(vi) + time.Second, IsolationThreshold: 0.9}
	var lose atomic.Bool
	start := func(name string, peers []string, losePacket func(string) bool) *node {
		n := &node{states: allUp(), done: make(chan error, 1)}
		c, err := New(Config{
			NodeName: name, BindAddr: "127.0.0.1", AdvertiseAddr: "127.0.0.1", Peers: peers, Keys: [][]byte{keyA},
			Fingerprint: fp, Rules: rules, ViewInterval: vi, Local: n.local, Log: testLogger(t),
			tune: fastTimers, anyVoter: true, losePacket: losePacket,
		})
		if err != nil {
			t.Fatal(err)
		}
		n.Cluster = c
		startRun(t, n)
		return n
	}
	n1 := start("n1", []string{"127.0.0.1:1"}, func(peer string) bool { return peer == "n2" && lose.Load() })
	n2 := start("n2", []string{n1.Addr()}, nil)
	n3 := start("n3", []string{n1.Addr(), n2.Addr()}, nil)
	for _, n := range []*node{n1, n2, n3} {
		eventually(t, n.cfg.NodeName+" holds both peers' views", func() bool { return len(n.PeerViews()) == 2 })
	}
	n1.set(ipB, D) // a first change by UDP, echoed at n2's next tick
	eventually(t, "n2 holds n1's first change", func() bool { return n2.PeerViews()["n1"].States()[ipB] == D })
	time.Sleep(vi + 2*sendGap) // n2's echo of it comes back
	lose.Store(true)
	at := time.Now()
	n1.set(ipA, D)
	for deadline := at.Add(3 * vi); n2.PeerViews()["n1"].States()[ipA] != D; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("n2 never got n1's change behind lost packets")
		}
	}
	took := time.Since(at)
	lag := routeLag(vi)
	t.Logf("the change reached n2 in %s (lag %s, view interval %s)", took.Round(time.Millisecond), lag, vi)
	if bound := lag + sendGap + time.Second; took > bound {
		t.Errorf("the change reached n2 behind lost packets in %s, more than %s: it waited for a tick", took, bound)
	}
}
