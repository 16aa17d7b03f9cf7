package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/goavail/goavail/crypto"
	"github.com/goavail/goavail/monitor"
)

var (
	keyA = bytes.Repeat([]byte{'a'}, 32)
	keyB = bytes.Repeat([]byte{'b'}, 32)
	fp   = [crypto.FingerprintSize]byte{1, 2, 3}
)

// node is one in-process agent on 127.0.0.1 with an ephemeral port.
type node struct {
	*Cluster
	mu      sync.Mutex
	states  map[netip.Addr]monitor.State
	changes int
	cancel  context.CancelFunc
	done    chan error
	leases  leaseLog // every lease grant of this run (leaselog_test.go)
	shifted bool     // its Mono clock is not the shared CLOCK_BOOTTIME
}

func (n *node) set(a netip.Addr, s monitor.State) {
	n.mu.Lock()
	n.states[a] = s
	n.mu.Unlock()
	n.LocalChanged()
}

func (n *node) local() []monitor.Status {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []monitor.Status
	for a, s := range n.states {
		out = append(out, monitor.Status{Addr: a, State: s})
	}
	return out
}

// stop shuts the node down; leave=false drops it without a goodbye, as a
// crash or a partition looks to the others.
func (n *node) stop(t *testing.T, leave bool) {
	t.Helper()
	if n.cancel == nil {
		return
	}
	if leave {
		n.cancel()
		if err := <-n.done; err != nil {
			t.Errorf("%s: Run: %v", n.cfg.NodeName, err)
		}
	} else {
		n.crashed.Store(true)
		n.ml.Shutdown()
		n.cancel()
		<-n.done
	}
	n.cancel = nil
}

func fastTimers(mc *memberlist.Config) {
	mc.ProbeInterval, mc.ProbeTimeout = 100*time.Millisecond, 50*time.Millisecond
	mc.GossipInterval, mc.PushPullInterval = 50*time.Millisecond, time.Second
	mc.SuspicionMult, mc.SuspicionMaxTimeoutMult = 2, 2
	mc.TCPTimeout, mc.DeadNodeReclaimTime = time.Second, 200*time.Millisecond
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

func startNode(t *testing.T, name string, keys [][]byte, peers []string, rules Rules, states map[netip.Addr]monitor.State) *node {
	t.Helper()
	n := &node{states: states, done: make(chan error, 1)}
	c, err := New(Config{
		NodeName: name, BindAddr: "127.0.0.1", AdvertiseAddr: "127.0.0.1", Peers: peers, Keys: keys,
		Fingerprint: fp, Rules: rules, ViewInterval: 200 * time.Millisecond, Local: n.local,
		OnChange: func(Decision) { n.mu.Lock(); n.changes++; n.mu.Unlock() },
		Log:      testLogger(t), tune: fastTimers, anyVoter: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	n.Cluster = c
	startRun(t, n)
	return n
}

// startRun runs the node's cluster until the test ends.
func startRun(t *testing.T, n *node) {
	watchLeases(n, n.shifted)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.done <- n.Run(ctx) }()
	t.Cleanup(func() { n.stop(t, true) })
}

func itoa(i int) string { return strconv.Itoa(i) }

// eventually polls cond; the bound is patience, not a performance check.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
	}
}

func agreed(n *node, a netip.Addr, want monitor.State) func() bool {
	return func() bool { return n.Decision().States[a] == want }
}

var rules1 = Rules{MinPeersAgree: 1, StaleAfter: time.Second, IsolationThreshold: 0.9}

func allUp() map[netip.Addr]monitor.State { return st(U, U, U) }

func threeNodes(t *testing.T) []*node {
	n1 := startNode(t, "n1", [][]byte{keyA}, []string{"127.0.0.1:1"}, rules1, allUp())
	n2 := startNode(t, "n2", [][]byte{keyA}, []string{n1.Addr()}, rules1, allUp())
	n3 := startNode(t, "n3", [][]byte{keyA}, []string{n1.Addr(), n2.Addr()}, rules1, allUp())
	nodes := []*node{n1, n2, n3}
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" sees three voters", func() bool { return len(n.Decision().Voters) == 3 })
	}
	return nodes
}

// TestCluster_AgreementAcrossNodes: with min_peers_agree = 1, one agent
// seeing an address down changes nothing; two do, on every agent, the
// writer included even though it still sees the address up; and both
// seeing it up again (n1 never stopped) restores it.
func TestCluster_AgreementAcrossNodes(t *testing.T) {
	nodes := threeNodes(t)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" agrees ipA up", agreed(n, ipA, U))
		eventually(t, n.cfg.NodeName+" names n1 the writer", func() bool { w, name := n.IsWriter(); return w == (n == n1) && name == "n1" })
	}
	n3.set(ipA, D)
	for _, n := range []*node{n1, n2} {
		eventually(t, n.cfg.NodeName+" holds n3's view of ipA down", func() bool { return n.PeerViews()["n3"].States()[ipA] == D })
	}
	roundsRun(t, nodes...) // every agent decides with that view in hand: a wrong change would show
	for _, n := range nodes {
		if s := n.Decision().States[ipA]; s != U {
			t.Fatalf("%s: one agent seeing ipA down changed the agreement to %v", n.cfg.NodeName, s)
		}
	}
	n2.set(ipA, D)
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" agrees ipA down", agreed(n, ipA, D))
	}
	n2.set(ipA, U) // with n1, two agents see it up again: a quorum
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" agrees ipA up again", agreed(n, ipA, U))
	}
}

// TestCluster_WriterHandOver kills the writer without a goodbye; the next
// lowest name takes over once memberlist declares it dead, and a graceful
// leave leaves too few voters to change anything.
func TestCluster_WriterHandOver(t *testing.T) {
	nodes := threeNodes(t)
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	n1.stop(t, false)
	for _, n := range []*node{n2, n3} {
		eventually(t, n.cfg.NodeName+" names n2 the writer", func() bool { _, w := n.IsWriter(); return w == "n2" })
		eventually(t, n.cfg.NodeName+" counts n1 dead", func() bool { return slices.Contains(n.Decision().Dead, "n1") })
	}
	n3.stop(t, true)
	eventually(t, "n2 alone", func() bool { return slices.Equal(n2.Members(), []string{"n2"}) })
	n2.set(ipA, D)
	roundsRun(t, n2) // n2 decides on its own view of ipA down
	if s := n2.Decision().States[ipA]; s != U {
		t.Errorf("a lone agent with min_peers_agree = 1 changed ipA to %v", s)
	}
	// n1 comes back (a restart on its address: new incarnation) and agrees.
	n1b := restartNode(t, n1, []string{n2.Addr()}, st(D, U, U))
	for _, n := range []*node{n1b, n2} {
		eventually(t, n.cfg.NodeName+" agrees ipA down after n1's restart", agreed(n, ipA, D))
	}
}

// TestCluster_WrongKeyHasNoInfluence: an agent with another key never joins,
// its gossip is counted as wrong_key, and its view never votes.
func TestCluster_WrongKeyHasNoInfluence(t *testing.T) {
	nodes := threeNodes(t)
	n1 := nodes[0]
	nodes[1].set(ipA, D) // one honest agent sees ipA down: not enough alone
	evil := startNode(t, "n0", [][]byte{keyB}, []string{n1.Addr()}, rules1, st(D, U, U))
	// n0 retries its join (1 s, then longer): two refused attempts, and
	// the rounds after them, are its chances to get in.
	eventually(t, "n1 refuses two of n0's join attempts", func() bool { return n1.Dropped()[DropWrongKey] >= 2 })
	roundsRun(t, n1, evil)
	if m := n1.Members(); slices.Contains(m, "n0") {
		t.Errorf("the wrong-key agent joined: %v", m)
	}
	if _, ok := n1.PeerViews()["n0"]; ok {
		t.Error("the wrong-key agent's view was stored")
	}
	if s := n1.Decision().States[ipA]; s != U {
		t.Errorf("the wrong-key agent's vote counted: ipA %v", s)
	}
	if w, _ := evil.IsWriter(); w || evil.Decision().States[ipA] != X {
		t.Errorf("the lone wrong-key agent would write, or agreed on something: %s %v", evil.Decision(), evil.Decision().States)
	}
}

// TestCluster_DropsBadMessages hands crafted messages to the receiver:
// each is dropped for its reason and counted, and none changes a view.
func TestCluster_DropsBadMessages(t *testing.T) {
	n := startNode(t, "n1", [][]byte{keyA}, []string{"127.0.0.1:1"}, rules1, allUp())
	n.stop(t, true) // drive receive by hand, without the loop
	good, _ := View{Entries: []monitor.Status{{Addr: ipA, State: D}}}.MarshalBinary()
	sealer, _ := crypto.NewSealer([][]byte{keyA})
	other, _ := crypto.NewSealer([][]byte{keyB})
	now := time.Now()
	seq := uint64(0)
	env := func(sender string, fp [crypto.FingerprintSize]byte, at time.Time, payload []byte) crypto.Envelope {
		seq++
		return crypto.Envelope{Sender: sender, Incarnation: 1, Seq: seq, Time: at, Fingerprint: fp, Payload: payload}
	}
	seal := func(s *crypto.Sealer, e crypto.Envelope) []byte { b, _ := s.Seal(e); return b }
	valid := seal(sealer, env("peer", fp, now, good))
	for _, tc := range []struct {
		name   string
		msg    []byte
		reason string
	}{
		{"valid", valid, ""},
		{"replayed", valid, DropReplayed},
		{"garbage", bytes.Repeat([]byte{7}, 100), DropGarbage},
		{"truncated", valid[:10], DropTruncated},
		{"oversized", make([]byte, crypto.MaxMessage+1), DropOversized},
		{"wrong key", seal(other, env("peer", fp, now, good)), DropWrongKey},
		{"wrong config", seal(sealer, env("peer", [crypto.FingerprintSize]byte{9}, now, good)), DropWrongConfig},
		{"clock skew", seal(sealer, env("peer", fp, now.Add(-time.Hour), good)), DropClockSkew},
		{"malformed view", seal(sealer, env("peer", fp, now, []byte{1, 200})), DropMalformed},
		{"own name", seal(sealer, env("n1", fp, now, good)), DropSelf},
	} {
		before := n.Dropped()
		stored := n.receive(tc.msg)
		after := n.Dropped()
		if tc.reason == "" {
			if !stored {
				t.Errorf("%s: not stored (drops %v)", tc.name, after)
			}
			continue
		}
		if stored || after[tc.reason] != before[tc.reason]+1 {
			t.Errorf("%s: stored=%v, drops %v, want one more %q", tc.name, stored, after, tc.reason)
		}
	}
	if v := n.PeerViews(); len(v) != 1 || v["peer"].States()[ipA] != D {
		t.Errorf("views after the bad messages: %v", v)
	}
}

func TestCluster_AnnexTravelsWithTheView(t *testing.T) {
	nodes := threeNodes(t)
	nodes[0].SetAnnex([]byte("removed: 198.51.100.7"))
	for _, n := range nodes[1:] {
		eventually(t, n.cfg.NodeName+" sees n1's annex", func() bool {
			return string(n.PeerViews()["n1"].Annex) == "removed: 198.51.100.7"
		})
	}
	for _, n := range nodes {
		eventually(t, n.cfg.NodeName+" reads the writer's annex", func() bool {
			w, annex := n.WriterAnnex()
			return w == "n1" && string(annex) == "removed: 198.51.100.7"
		})
	}
	nodes[0].SetAnnex(nil)
	eventually(t, "n2 sees the annex cleared", func() bool { return nodes[1].PeerViews()["n1"].Annex == nil })
}

// TestNew_BindFailureNamesBindAddr: an address that is not on this host
// (an elastic IP, a NAT) cannot be bound, and the error says which key to
// set.
func TestNew_BindFailureNamesBindAddr(t *testing.T) {
	_, err := New(Config{NodeName: "n1", BindAddr: "192.0.2.1", AdvertiseAddr: "192.0.2.1", Peers: []string{"192.0.2.2"}, Keys: [][]byte{keyA},
		Rules: rules1, ViewInterval: 200 * time.Millisecond, Local: func() []monitor.Status { return nil }, Log: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "bind_addr") || !strings.Contains(err.Error(), "0.0.0.0") {
		t.Fatalf("err = %v, want one naming bind_addr", err)
	}
}

// TestNew_IncarnationGrowsAcrossAClockStep: with an incarnation file, a
// start with the clock stepped back still gets a higher incarnation.
func TestNew_IncarnationGrowsAcrossAClockStep(t *testing.T) {
	path := t.TempDir() + "/incarnation"
	now := time.Unix(1700000000, 0)
	first, err := nextIncarnation(path, now)
	if err != nil {
		t.Fatal(err)
	}
	second, err := nextIncarnation(path, now.Add(-10*time.Minute))
	if err != nil || second <= first {
		t.Fatalf("after a 10-minute step back: %d then %d (%v)", first, second, err)
	}
	if third, _ := nextIncarnation(path, now.Add(time.Hour)); third != uint64(now.Add(time.Hour).UnixNano()) {
		t.Errorf("a later clock should give its own time: %d", third)
	}
	if inc, _ := nextIncarnation("", now); inc != uint64(now.UnixNano()) {
		t.Errorf("without a file: %d", inc)
	}
}
