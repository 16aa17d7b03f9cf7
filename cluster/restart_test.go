package cluster

import (
	"testing"
	"time"
)

// TestLease_RestartedHolderWaitsOutTheBlackout: a restarted holder holds
// no lease during its blackout, though its peers keep naming its name: the
// previous process's batch may still be in flight under its fence.
// Schedule: a holds the lease until t=9 (L=10s) and has a batch in flight
// under its fence (deadline t=9); a is killed at t=1 and restarted at
// t=1.1; b (still promised to "a") endorses the new a at t=1.2. The new a
// must not list and write before the old fence has closed: it holds
// nothing until t=11.1, and then it does.
func TestLease_RestartedHolderWaitsOutTheBlackout(t *testing.T) {
	const L = 10 * time.Second
	at := func(s float64) time.Time { return lt0.Add(time.Duration(s * float64(time.Second))) }
	a := NewElector("a", 1, 2, L, at(-100))
	b := NewElector("b", 1, 2, L, at(-100))
	a.Vote(at(0), "a")
	a.Sent(1, at(0))
	b.Vote(at(0.05), "a")
	a.Observe("b", Ballot{Vote: "a", Echo: Echo{Inc: 1, Seq: 1}})
	old := a.Lease(at(0.1), nil)

	a2 := NewElector("a", 2, 2, L, at(1.1)) // kill -9, restart
	a2.Vote(at(1.1), "a")                   // "" during its blackout
	a2.Sent(1, at(1.1))
	b.Vote(at(1.15), "a") // same name: no promise broken
	a2.Observe("b", Ballot{Vote: "a", Echo: Echo{Inc: 2, Seq: 1}})
	a2.Observe("c", Ballot{Vote: "a", Echo: Echo{Inc: 2, Seq: 1}})
	if l := a2.Lease(at(1.2), nil); l.Held && old.Until.After(at(1.2)) {
		t.Fatalf("the restarted a holds a lease at t=1.2 while the old process's fence runs to t=%.1f", old.Until.Sub(lt0).Seconds())
	}
	b.Vote(at(11.15), "a")
	a2.Vote(at(11.15), "a")
	a2.Sent(2, at(11.15))
	a2.Observe("b", Ballot{Vote: "a", Echo: Echo{Inc: 2, Seq: 2}})
	if l := a2.Lease(at(11.2), nil); !l.Held {
		t.Fatalf("after its blackout the restarted a should hold the lease again: %+v", l)
	}
}
