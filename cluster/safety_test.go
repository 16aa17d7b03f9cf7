package cluster

import (
	"strings"
	"testing"
	"time"
)

// readyNow reports whether this agent's latest decision would let it
// say it is ready to write (tests).
func (c *Cluster) readyNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.decision
	return d.Quorate && !d.LocalIsolated && !c.conflicted(c.cfg.NodeName, c.cfg.Mono())
}

// holders polls every node's lease for d and fails if two hold it at
// once; it returns how often each held it.
func holders(t *testing.T, nodes []*node, d time.Duration) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		var held []string
		for _, n := range nodes {
			if n.Lease().Held {
				held = append(held, n.cfg.NodeName)
				seen[n.cfg.NodeName]++
			}
		}
		if len(held) > 1 {
			t.Fatalf("two writers at once: %v", held)
		}
	}
	return seen
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
				from.setProto(to.addr(), proto, true)
				seen := holders(t, nodes, 3*time.Second)
				if len(seen) == 0 {
					t.Errorf("no agent wrote during the fault")
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
