package cluster

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goavail/goavail/monitor"
)

// readyNow reports whether this agent's latest decision would let it
// say it is ready to write (tests).
func (c *Cluster) readyNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.decision
	return d.Quorate && !d.LocalIsolated && !c.conflicted(c.cfg.NodeName, c.cfg.Mono())
}

// holders watches nodes for d, the span a fault is exposed, and fails if
// two ever held the lease at once (any grant since they started, however
// short: every grant is recorded, none sampled). It returns how many
// grants of each overlapped the span.
func holders(t *testing.T, nodes []*node, d time.Duration) map[string]int {
	t.Helper()
	from := bootClock()
	time.Sleep(d) // the exposure; what happens in it is recorded, not sampled
	noTwoHolders(t, nodes)
	return heldWithin(nodes, from, bootClock())
}

// TestCluster_OneWayLoss cuts one direction between n1 (the preferred
// writer) and n2, for UDP only, TCP only and both. Whatever each agent's
// own picture, no two agents hold the writer lease at any moment, and
// some agent writes throughout the fault.
func TestCluster_OneWayLoss(t *testing.T) {
	for _, proto := range []string{"tcp", "udp", "both"} {
		for _, dir := range []string{"n1->n2", "n2->n1"} {
			t.Run(proto+" "+dir, func(t *testing.T) {
				n1, t1 := startCuttable(t, "n1", []string{"127.0.0.1:1"})
				n2, t2 := startCuttable(t, "n2", []string{n1.Addr()})
				n3, _ := startCuttable(t, "n3", []string{n1.Addr(), n2.Addr()})
				nodes := []*node{n1, n2, n3}
				eventually(t, "a writer", func() bool { w, _ := n1.IsWriter(); return w })
				from, to := t1, t2
				if dir == "n2->n1" {
					from, to = t2, t1
				}
				// Throughout the fault: at most one hand-over's gap
				// (view_stale_after to see a view stale, the lease, a few view
				// intervals), watched for longer than that.
				handOver := rules1.StaleAfter + rules1.StaleAfter + 5*n1.cfg.ViewInterval
				cut := bootClock()
				from.setProto(to.addr(), proto, true)
				seen := holders(t, nodes, handOver+time.Second)
				if len(seen) == 0 {
					t.Errorf("no agent wrote during the fault")
				}
				gap := longestGap(nodes, cut, bootClock())
				t.Logf("longest span without a writer during the fault: %s", gap)
				if gap > handOver {
					t.Errorf("no agent held the lease for %s during the fault, more than a hand-over (%s)", gap, handOver)
				}
				from.setProto(to.addr(), proto, false)
				holders(t, nodes, time.Second)
				eventually(t, "n1 writes after the heal", func() bool { w, _ := n1.IsWriter(); return w })
				for _, n := range nodes {
					eventually(t, n.cfg.NodeName+" names n1 the writer", func() bool { _, w := n.IsWriter(); return w == "n1" })
				}
			})
		}
	}
}

// TestCluster_DuplicateNodeName starts a second agent named n2, joining
// through n1: memberlist reports the conflict to n1 and to the newcomer,
// both show it with both addresses; the newcomer neither votes nor writes,
// n1 counts no view of that name, and n1 keeps the writer lease with n3.
// (The first n2 hears of it only if the newcomer's gossip reaches it.)
func TestCluster_DuplicateNodeName(t *testing.T) {
	nodes := threeNodes(t)
	n1 := nodes[0]
	dup := startNode(t, "n2", [][]byte{keyA}, []string{n1.Addr()}, rules1, allUp())
	for _, n := range []*node{n1, dup} {
		eventually(t, n.cfg.NodeName+" reports the conflict", func() bool {
			for _, k := range n.Conflicts() {
				if k.Name == "n2" && len(k.Addrs) == 2 {
					return true
				}
			}
			return false
		})
	}
	eventually(t, "the newcomer does not vote or write", func() bool {
		w, name := dup.IsWriter()
		return !w && strings.Contains(name, "another agent uses this node_name") && dup.Decision().LocalDuplicate && !dup.readyNow()
	})
	eventually(t, "n1 counts n2 as a duplicate, not a voter", func() bool {
		d := n1.Decision()
		return len(d.Duplicates) == 1 && d.Duplicates[0] == "n2" && len(d.Voters) == 2
	})
	eventually(t, "n1 still writes with n3", func() bool { w, _ := n1.IsWriter(); return w })
	if k := dup.Conflicts(); len(k) != 1 || !k[0].Local {
		t.Errorf("the newcomer's conflicts = %+v, want its own name", k)
	}
}

// TestCluster_PausedWriterWakesWithoutALease: a writer paused past its
// lease (SIGSTOP, a VM freeze) finds on waking that its lease ran out on
// its own monotonic clock: before any new message arrives it neither
// claims the writer nor passes the fence, and the others have a new writer.
func TestCluster_PausedWriterWakesWithoutALease(t *testing.T) {
	var jump atomic.Int64 // how far n1's clock has moved while it was "paused"
	n1 := &node{states: allUp(), done: make(chan error, 1), shifted: true}
	c, err := New(Config{
		NodeName: "n1", BindAddr: "127.0.0.1", AdvertiseAddr: "127.0.0.1", Peers: []string{"127.0.0.1:1"}, Keys: [][]byte{keyA},
		Fingerprint: fp, Rules: rules1, ViewInterval: 200 * time.Millisecond, Local: n1.local, Log: testLogger(t), tune: fastTimers, anyVoter: true,
		Mono: func() time.Time { return time.Now().Add(time.Duration(jump.Load())) },
	})
	if err != nil {
		t.Fatal(err)
	}
	n1.Cluster = c
	startRun(t, n1)
	n2 := startNode(t, "n2", [][]byte{keyA}, []string{n1.Addr()}, rules1, allUp())
	n3 := startNode(t, "n3", [][]byte{keyA}, []string{n1.Addr(), n2.Addr()}, rules1, allUp())
	eventually(t, "n1 writes", func() bool { w, _ := n1.IsWriter(); return w })
	if _, cancel, err := n1.Fence(context.Background()); err != nil {
		t.Fatalf("the writer's fence: %v", err)
	} else {
		cancel()
	}
	// n1 wakes 10 s (10 leases) later by its own clock.
	jump.Store(int64(10 * time.Second))
	if w, _ := n1.IsWriter(); w {
		t.Error("a writer woken past its lease still claims to write")
	}
	if _, _, err := n1.Fence(context.Background()); !errors.Is(err, ErrNotWriter) {
		t.Errorf("a writer woken past its lease passed the fence: %v", err)
	}
	holders(t, []*node{n1, n2, n3}, 2*time.Second) // never two at once meanwhile
}

// TestCluster_ConflictLastsItsHold: a name conflict counts from its latest
// report for ConflictHold, gathering the addresses reported, then lapses.
func TestCluster_ConflictLastsItsHold(t *testing.T) {
	now := time.Unix(1700000000, 0)
	c, err := New(Config{NodeName: "self", ViewInterval: time.Second, ConflictHold: time.Minute, Local: func() []monitor.Status { return nil },
		Log: testLogger(t), Mono: func() time.Time { return now }, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	c.noteConflict("vm", "192.0.2.1:7946", "192.0.2.2:7946")
	now = now.Add(50 * time.Second)
	c.noteConflict("vm", "192.0.2.2:7946", "192.0.2.1:7946")
	now = now.Add(50 * time.Second) // 100 s after the first report, 50 s after the latest
	if k := c.Conflicts(); len(k) != 1 || k[0].Name != "vm" || len(k[0].Addrs) != 2 || k[0].Local {
		t.Fatalf("conflicts = %+v", k)
	}
	now = now.Add(11 * time.Second)
	if k := c.Conflicts(); len(k) != 0 {
		t.Errorf("a conflict outlived its hold: %+v", k)
	}
	c.noteConflict("self", "192.0.2.3:7946")
	if w, name := c.IsWriter(); w || !strings.Contains(name, "another agent uses this node_name") {
		t.Errorf("with its own name shared the agent says %v %q", w, name)
	}
}
