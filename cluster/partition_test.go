package cluster

import (
	"errors"
	"io"
	"log"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// cutTransport is memberlist's network transport with a switch: packets
// and streams to blocked addresses fail, as across a partition. Blocking
// both directions (each side blocks the other) cuts the link.
type cutTransport struct {
	*memberlist.NetTransport
	mu      sync.Mutex
	blocked map[string]bool
	udpOnly map[string]bool // only packets (probes, gossip) are lost
	tcpOnly map[string]bool // only streams (views, push-pull) are lost
}

var errCut = errors.New("partitioned")

func (c *cutTransport) cut(addr string) bool { return c.cutFor(addr, false) }

// cutFor reports whether sends to addr are lost, for a stream or a packet.
func (c *cutTransport) cutFor(addr string, stream bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocked[addr] || (stream && c.tcpOnly[addr]) || (!stream && c.udpOnly[addr])
}

// setProto blocks (or unblocks) this side's sends to addr of one kind:
// "udp", "tcp" or "both".
func (c *cutTransport) setProto(addr, proto string, blocked bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch proto {
	case "udp":
		c.udpOnly[addr] = blocked
	case "tcp":
		c.tcpOnly[addr] = blocked
	default:
		c.blocked[addr] = blocked
	}
}

func (c *cutTransport) set(addr string, blocked bool) {
	c.mu.Lock()
	c.blocked[addr] = blocked
	c.mu.Unlock()
}

func (c *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if c.cut(addr) {
		return time.Now(), nil // sent into the void
	}
	return c.NetTransport.WriteTo(b, addr)
}

func (c *cutTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if c.cut(a.Addr) {
		return time.Now(), nil
	}
	return c.NetTransport.WriteToAddress(b, a)
}

func (c *cutTransport) DialTimeout(addr string, d time.Duration) (net.Conn, error) {
	if c.cutFor(addr, true) {
		return nil, errCut
	}
	return c.NetTransport.DialTimeout(addr, d)
}

func (c *cutTransport) DialAddressTimeout(a memberlist.Address, d time.Duration) (net.Conn, error) {
	if c.cutFor(a.Addr, true) {
		return nil, errCut
	}
	return c.NetTransport.DialAddressTimeout(a, d)
}

// startCuttable starts a node whose links can be cut.
func startCuttable(t *testing.T, name string, peers []string) (*node, *cutTransport) {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: 0, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	ct := &cutTransport{NetTransport: nt, blocked: map[string]bool{}, udpOnly: map[string]bool{}, tcpOnly: map[string]bool{}}
	n := &node{states: allUp(), done: make(chan error, 1)}
	c, err := New(Config{
		NodeName: name, BindAddr: "127.0.0.1", AdvertiseAddr: "127.0.0.1", Peers: peers, Keys: [][]byte{keyA},
		Fingerprint: fp, Rules: rules1, ViewInterval: 200 * time.Millisecond, Local: n.local, Log: testLogger(t),
		rejoinEvery: 300 * time.Millisecond, anyVoter: true,
		tune: func(mc *memberlist.Config) {
			fastTimers(mc)
			mc.Transport = ct
			mc.BindPort, mc.AdvertisePort = nt.GetAutoBindPort(), nt.GetAutoBindPort()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.Cluster = c
	startRun(t, n)
	return n, ct
}

// TestCluster_PartitionAndHeal cuts n1 off from n2 and n3 (min_peers_agree
// = 1): the majority side keeps deciding and writing; n1, alone, neither
// decides nor writes; when the link heals, n1 re-joins and follows.
func TestCluster_PartitionAndHeal(t *testing.T) {
	n1, t1 := startCuttable(t, "n1", []string{"127.0.0.1:1"})
	n2, t2 := startCuttable(t, "n2", []string{n1.Addr()})
	n3, t3 := startCuttable(t, "n3", []string{n1.Addr(), n2.Addr()})
	nodes := []*node{n1, n2, n3}
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" sees three voters", func() bool { return len(n.Decision().Voters) == 3 })
	}
	link := func(blocked bool) {
		for _, pair := range [][2]*cutTransport{{t1, t2}, {t1, t3}} {
			a, b := pair[0], pair[1]
			a.set(b.addr(), blocked)
			b.set(a.addr(), blocked)
		}
	}
	link(true)
	eventually(t, "n2 writes for the majority side", func() bool { w, _ := n2.IsWriter(); return w })
	eventually(t, "n1 stops writing on its own", func() bool { w, _ := n1.IsWriter(); return !w && !n1.Decision().Quorate })
	n2.set(ipA, D)
	n3.set(ipA, D)
	n1.set(ipA, D) // n1 sees it too, but alone it cannot decide
	eventually(t, "the majority side agrees ipA down", agreed(n2, ipA, D))
	roundsRun(t, n1) // n1 decides on its own view of ipA down
	if s := n1.Decision().States[ipA]; s != U {
		t.Errorf("n1, cut off, changed ipA to %v on its own", s)
	}
	link(false)
	eventually(t, "n1 re-joins and follows", agreed(n1, ipA, D))
	eventually(t, "n1 writes again after the heal", func() bool { w, _ := n1.IsWriter(); return w })
}

func (c *cutTransport) addr() string {
	return net.JoinHostPort("127.0.0.1", itoa(c.GetAutoBindPort()))
}
