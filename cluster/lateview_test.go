package cluster

import (
	"io"
	"log"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// holdTransport records streams and packets to held addresses instead of
// sending them, as a network (or a SIGSTOP of the sender after it wrote)
// that delivers them late. next sends one recorded stream or packet for
// real.
type holdTransport struct {
	*memberlist.NetTransport
	mu   sync.Mutex
	hold map[string]bool
	kept map[string][]heldMsg
}

// heldMsg is one stream's bytes, or one packet.
type heldMsg struct {
	b      []byte
	packet bool
}

func (h *holdTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	h.mu.Lock()
	held := h.hold[a.Addr]
	if held {
		h.kept[a.Addr] = append(h.kept[a.Addr], heldMsg{slices.Clone(b), true})
	}
	h.mu.Unlock()
	if held {
		return time.Now(), nil
	}
	return h.NetTransport.WriteToAddress(b, a)
}

func (h *holdTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	return h.WriteToAddress(b, memberlist.Address{Addr: addr})
}

type recConn struct {
	net.Conn // nil: only the methods below are used
	t        *holdTransport
	addr     string
	buf      []byte
}

func (c *recConn) Write(b []byte) (int, error)      { c.buf = append(c.buf, b...); return len(b), nil }
func (c *recConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *recConn) SetDeadline(time.Time) error      { return nil }
func (c *recConn) SetReadDeadline(time.Time) error  { return nil }
func (c *recConn) SetWriteDeadline(time.Time) error { return nil }
func (c *recConn) RemoteAddr() net.Addr             { a, _ := net.ResolveTCPAddr("tcp", c.addr); return a }
func (c *recConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (c *recConn) Close() error {
	c.t.mu.Lock()
	c.t.kept[c.addr] = append(c.t.kept[c.addr], heldMsg{c.buf, false})
	c.t.mu.Unlock()
	return nil
}

func (h *holdTransport) DialTimeout(addr string, d time.Duration) (net.Conn, error) {
	h.mu.Lock()
	held := h.hold[addr]
	h.mu.Unlock()
	if held {
		return &recConn{t: h, addr: addr}, nil
	}
	return h.NetTransport.DialTimeout(addr, d)
}

func (h *holdTransport) DialAddressTimeout(a memberlist.Address, d time.Duration) (net.Conn, error) {
	return h.DialTimeout(a.Addr, d)
}

// next delivers the oldest recorded stream or packet to addr for real.
func (h *holdTransport) next(t *testing.T, addr string) bool {
	h.mu.Lock()
	if len(h.kept[addr]) == 0 {
		h.mu.Unlock()
		return false
	}
	m := h.kept[addr][0]
	h.kept[addr] = h.kept[addr][1:]
	h.mu.Unlock()
	if m.packet {
		if _, err := h.NetTransport.WriteToAddress(m.b, memberlist.Address{Addr: addr}); err != nil {
			t.Fatal(err)
		}
		return true
	}
	c, err := h.NetTransport.DialTimeout(addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(m.b)
	c.Close()
	return true
}

// TestAgreement_LateViewDoesNotVote: a peer's view is fresh only while
// the view of ours it echoes was sent less than view_stale_after ago (by
// our monotonic clock), not for view_stale_after after it arrives: the
// replay guard lets a view through up to MaxClockSkew (30s) after it was
// sealed. Schedule (rules1: view_stale_after 1s):
//
//	t=0    n2 sees ipA down and sends that view; the stream to n1 is
//	       delayed (retransmissions, or n2 SIGSTOPped mid-send). n2 then
//	       sees ipA up again; those views are held too.
//	t=3    n1 (the writer) sees ipA down. Alone it cannot change it.
//	t=3+   n2's t=0 view arrives: it echoes a view n1 sent 3s ago, so it
//	       is stale and n1 does not agree ipA down on it.
func TestAgreement_LateViewDoesNotVote(t *testing.T) {
	n1, t1 := startCuttable(t, "n1", []string{"127.0.0.1:1"})
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: 0, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	ht := &holdTransport{NetTransport: nt, hold: map[string]bool{}, kept: map[string][]heldMsg{}}
	n2 := &node{states: allUp(), done: make(chan error, 1)}
	c, err := New(Config{
		NodeName: "n2", BindAddr: "127.0.0.1", AdvertiseAddr: "127.0.0.1", Peers: []string{n1.Addr()}, Keys: [][]byte{keyA},
		Fingerprint: fp, Rules: rules1, ViewInterval: 200 * time.Millisecond, Local: n2.local, Log: testLogger(t), anyVoter: true,
		tune: func(mc *memberlist.Config) {
			fastTimers(mc)
			mc.Transport = ht
			mc.BindPort, mc.AdvertisePort = nt.GetAutoBindPort(), nt.GetAutoBindPort()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n2.Cluster = c
	startRun(t, n2)
	n3, _ := startCuttable(t, "n3", []string{n1.Addr(), n2.Addr()})
	for _, n := range []*node{n1, n2, n3} {
		eventually(t, n.cfg.NodeName+" sees three voters", func() bool { return len(n.Decision().Voters) == 3 })
	}
	eventually(t, "n1 writes", func() bool { w, _ := n1.IsWriter(); return w })
	to1 := t1.addr()

	ht.mu.Lock()
	ht.hold[to1] = true
	ht.mu.Unlock()
	n2.set(ipA, D)
	time.Sleep(2 * sendGap) // past the coalescing, so the down view is sent
	n2.set(ipA, U)
	time.Sleep(3 * time.Second)
	n1.set(ipA, D)
	roundsRun(t, n1)
	if s := n1.Decision().States[ipA]; s != U {
		t.Fatalf("precondition: n1 alone should not change ipA (got %v)", s)
	}
	// Deliver the held messages (views and memberlist's own) in order, one
	// at a time, until n1 holds n2's down view; too fast a pace fails the
	// test ("not recorded"), it cannot make it pass.
	downAtN1 := func() bool { return n1.PeerViews()["n2"].States()[ipA] == D }
	for !downAtN1() {
		if !ht.next(t, to1) {
			t.Fatal("n2's down view was not recorded")
		}
		for end := time.Now().Add(50 * time.Millisecond); !downAtN1() && time.Now().Before(end); {
			time.Sleep(time.Millisecond)
		}
	}
	roundsRun(t, n1) // n1 decides with the late view in hand
	d := n1.Decision()
	w, _ := n1.IsWriter()
	if d.States[ipA] != U {
		t.Fatalf("n1 (writer %t) agreed ipA %v on a view n2 sealed 3s (3 x view_stale_after) ago; n2 sees it up now (voters %v)", w, d.States[ipA], d.Voters)
	}
}
