package cluster

import (
	"testing"
	"time"
)

// TestLease_ReplacementUnderAKnownNameIsAConflict: n3 is cut off from n1
// and n2. A replacement for "n2" comes up at a new address that reaches
// only n3 (the old n2 looks dead from there). memberlist lets the newcomer
// take the name over after DeadNodeReclaimTime without a conflict report;
// the cluster treats a known name at a new address as a name conflict, so
// the two sides, each with "two of three" agents, never both hold the lease.
func TestLease_ReplacementUnderAKnownNameIsAConflict(t *testing.T) {
	n1, t1 := startCuttable(t, "n1", []string{"127.0.0.1:1"})
	n2, t2 := startCuttable(t, "n2", []string{n1.Addr()})
	n3, t3 := startCuttable(t, "n3", []string{n1.Addr(), n2.Addr()})
	for _, n := range []*node{n1, n2, n3} {
		eventually(t, n.cfg.NodeName+" sees three voters", func() bool { return len(n.Decision().Voters) == 3 })
	}
	for _, a := range []*cutTransport{t1, t2} {
		a.set(t3.addr(), true)
		t3.set(a.addr(), true)
	}
	eventually(t, "n3 sees n1 and n2 gone", func() bool { return len(n3.Members()) == 1 })
	// The replacement comes up after memberlist's DeadNodeReclaimTime
	// (200ms in these tests, 10s in goavail): it takes the name over
	// without a conflict report from memberlist.
	time.Sleep(time.Second)
	dup, td := startWith(t, "n2", []string{n3.Addr()}, rules1, fp, t1.addr(), t2.addr())
	t1.set(td.addr(), true)
	t2.set(td.addr(), true)
	eventually(t, "the replacement joins n3", func() bool { return len(n3.Members()) == 2 })
	eventually(t, "n3 reports the name conflict", func() bool { return len(n3.Conflicts()) == 1 })
	holders(t, []*node{n1, n2, n3, dup}, 5*time.Second) // every grant of the four, recorded, never two at once
}
