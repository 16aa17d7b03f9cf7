package cluster

import (
	"testing"
	"time"
)

// TestLease_TwoOneWayLossesStillLeaveAWriter: n1 -> n3 and n2 -> n1 are
// cut, for TCP streams only or for everything. Every lease grant is
// recorded, and the test checks what a writer needs, not only that some
// agent once held the lease:
//   - no two agents ever hold it at once;
//   - some agent holds it throughout, but for one hand-over no longer than
//     view_stale_after (to see the writer's views are stale) plus the
//     lease (the endorsers' promise to it) plus a few view intervals;
//   - with everything cut, n1 hears no one that hears it: it is stale to
//     all and never holds the lease again once its last grant ends, and n2
//     and n3, a quorum of 3 that hear each other, hold it without a break
//     after the hand-over ("a side that holds a quorum always writes").
//
// With only TCP cut, small views still go by UDP and n1 may stay the
// writer: the first two properties are what must hold then.
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
	cut := bootClock()
	t1.setProto(t3.addr(), proto, true) // n1 -> n3 lost
	t2.setProto(t1.addr(), proto, true) // n2 -> n1 lost
	lease, vi := rules1.StaleAfter, n1.cfg.ViewInterval
	handOver := rules1.StaleAfter + lease + 5*vi
	holders(t, nodes, handOver+3*time.Second) // the exposure: every grant is recorded
	end := bootClock()
	for _, n := range nodes {
		d := n.Decision()
		_, w := n.IsWriter()
		t.Logf("%s: quorate=%v voters=%v stale=%v wants=%s writer=%q members=%v grants (from the cut) %s", n.cfg.NodeName, d.Quorate, d.Voters, d.Stale, d.Writer, w, n.Members(), grantsSince(n, cut))
	}
	if !n2.Decision().Quorate || !n3.Decision().Quorate {
		t.Fatalf("precondition: n2 and n3 should be quorate")
	}
	if gap := longestGap(nodes, cut, end); gap > handOver {
		t.Errorf("no agent held the writer lease for %s after the cut; a hand-over takes at most %s (view_stale_after, the lease, 5 view intervals)", gap, handOver)
	}
	if proto != "both" {
		return
	}
	for _, g := range n1.leases.all() {
		if g.from.After(cut.Add(lease)) {
			t.Errorf("n1, heard by no agent that it hears, held the lease again at %s after the cut", g.from.Sub(cut))
		}
	}
	// After the hand-over, a gap under a view interval is only the time
	// between two rounds that renew the lease on a loaded machine.
	if gap := longestGap([]*node{n2, n3}, cut.Add(handOver), end); gap > vi {
		t.Errorf("n2 and n3, a quorum, went %s without the lease after the hand-over", gap)
	}
}
