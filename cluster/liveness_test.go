package cluster

import (
	"testing"
	"time"
)

// TestLease_TwoOneWayLossesStillLeaveAWriter: n1's views never reach n3
// and n2's views never reach n1, whether the links lose only TCP streams
// (big views) or everything, packets too (views go by UDP when small;
// memberlist's indirect probes through the third agent keep all alive). n2 and n3 hear each other both ways and are a quorum (2 of 3):
// one of them holds the lease. A peer counts (votes, and is a candidate)
// only while its view echoes a recent view of ours, so n1, which hears
// no one that hears it, is stale to all, and n2 and n3 agree on n2
// ("a side that holds a quorum always writes").
func TestLease_TwoOneWayLossesStillLeaveAWriter(t *testing.T) {
	for _, proto := range []string{"tcp", "both"} {
		t.Run(proto, func(t *testing.T) { twoOneWayLosses(t, proto) })
	}
}

func twoOneWayLosses(t *testing.T, proto string) {
	n1, t1 := startCuttable(t, "n1", []string{"127.0.0.1:1"})
	n2, t2 := startCuttable(t, "n2", []string{n1.Addr()})
	n3, t3 := startCuttable(t, "n3", []string{n1.Addr(), n2.Addr()})
	nodes := []*node{n1, n2, n3}
	eventually(t, "a writer", func() bool { w, _ := n1.IsWriter(); return w })
	t1.setProto(t3.addr(), proto, true) // n1 -> n3 lost
	t2.setProto(t1.addr(), proto, true) // n2 -> n1 lost
	time.Sleep(2 * time.Second)         // let the old lease run out
	seen := holders(t, nodes, 4*time.Second)
	for _, n := range nodes {
		d := n.Decision()
		_, w := n.IsWriter()
		t.Logf("%s: quorate=%v voters=%v stale=%v wants=%s writer=%q members=%v", n.cfg.NodeName, d.Quorate, d.Voters, d.Stale, d.Writer, w, n.Members())
	}
	if !n2.Decision().Quorate || !n3.Decision().Quorate {
		t.Fatalf("precondition: n2 and n3 should be quorate")
	}
	if len(seen) == 0 {
		t.Fatalf("n2 and n3 hear each other and are a quorum of 3, but no agent held the writer lease for 4s")
	}
}
