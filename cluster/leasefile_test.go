package cluster

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestLease_RestartWaitsOutTheLongerPromisedLength: the lease length is
// fixed per start, and a restart may bring a shorter view_stale_after
// (a reload of it is refused: see config). Schedule (3 agents, need 2): a
// holds a lease on b's endorsement, made under 30s; b and c restart with
// 5s. b's blackout must outlast its promise to a, so it is the longer
// length saved beside the incarnation file: at 5.4s neither b nor c
// names anyone, and no two agents hold the lease.
func TestLease_RestartWaitsOutTheLongerPromisedLength(t *testing.T) {
	const long, short = 30 * time.Second, 5 * time.Second
	at := func(s float64) time.Time { return lt0.Add(time.Duration(s * float64(time.Second))) }
	dir := t.TempDir()
	incB, incC := filepath.Join(dir, "b"), filepath.Join(dir, "c")
	for _, p := range []string{incB, incC} {
		if d, err := startBlackout(p, long); err != nil || d != long {
			t.Fatalf("first start: %v %v", d, err)
		}
	}
	a := NewElector("a", 1, 2, long, at(-100))
	b := NewElector("b", 1, 2, long, at(-100))
	a.Vote(at(0), "a")
	a.Sent(1, at(0))
	if v, _ := b.Vote(at(0.1), "a"); v != "a" {
		t.Fatal("b should endorse a")
	}
	a.Observe("b", Ballot{Vote: "a", Term: b.Term(), Echo: Echo{Inc: 1, Seq: 1}})
	if !a.Lease(at(0.2), nil).Held {
		t.Fatal("a should hold the lease")
	}

	// b and c restart with view_stale_after = 5s.
	b2 := NewElector("b", 2, 2, short, at(0.3))
	c2 := NewElector("c", 2, 2, short, at(0.3))
	for _, x := range []struct {
		e    *Elector
		path string
	}{{b2, incB}, {c2, incC}} {
		d, err := startBlackout(x.path, short)
		if err != nil || d != long {
			t.Fatalf("restart: blackout %v (%v), want the longer %v", d, err, long)
		}
		x.e.SetBlackout(d)
	}
	for _, s := range []float64{5.4, 20, 29} {
		if v, _ := b2.Vote(at(s), "b"); v != "" {
			t.Fatalf("b names %q at %.1fs, while its promise to a (30s) may still be counted", v, s)
		}
		if v, _ := c2.Vote(at(s), "b"); v != "" {
			t.Fatalf("c names %q at %.1fs, inside the longer blackout", v, s)
		}
	}
	now := at(30.4)
	if la := a.Lease(now, nil); la.Held {
		t.Fatalf("a still holds at 30.4s: %+v", la)
	}
	if v, _ := b2.Vote(now, "b"); v != "b" {
		t.Fatal("b should name itself after the longer blackout")
	}
	// Once the blackout is over, the file holds this start's length.
	if err := saveLeaseLength(incB, short); err != nil {
		t.Fatal(err)
	}
	if d, _ := startBlackout(incB, short); d != short {
		t.Errorf("after a full blackout the next start waits %v, want %v", d, short)
	}
}

// TestCluster_RestartWithAShorterLeaseWaitsOutTheFence: n1 holds the lease
// (3s) and fences a batch; it is cut off, and n2 and n3 crash and restart
// with view_stale_after 1s (and so another fingerprint), keeping their
// incarnation files. Neither holds a lease while n1's fence is open.
func TestCluster_RestartWithAShorterLeaseWaitsOutTheFence(t *testing.T) {
	oldR := Rules{MinPeersAgree: 1, StaleAfter: 3 * time.Second, IsolationThreshold: 0.9}
	newR := oldR
	newR.StaleAfter = time.Second
	fp2 := fp
	fp2[0] = 9
	dir := t.TempDir()
	o := agentOpts{rules: oldR, fp: fp}
	start := func(name string, peers []string, o agentOpts, blocked ...string) (*node, *cutTransport) {
		ct := newCutTransport(t, blocked...)
		o.incFile = filepath.Join(dir, name)
		return startOn(t, ct, name, peers, o), ct
	}
	n1, t1 := start("n1", []string{"127.0.0.1:1"}, o)
	n2, _ := start("n2", []string{n1.Addr()}, o)
	n3, _ := start("n3", []string{n1.Addr(), n2.Addr()}, o)
	for _, n := range []*node{n1, n2, n3} {
		eventually(t, n.cfg.NodeName+" sees three voters", func() bool { return len(n.Decision().Voters) == 3 })
	}
	eventually(t, "n1 writes", func() bool { w, _ := n1.IsWriter(); return w })
	fctx, cancel, err := n1.Fence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	deadline, _ := fctx.Deadline()
	n2.stop(t, false)
	n3.stop(t, false)
	o2 := agentOpts{rules: newR, fp: fp2}
	m2, tm2 := start("n2", []string{n1.Addr()}, o2, n1.Addr())
	m3, tm3 := start("n3", []string{m2.Addr()}, o2, n1.Addr())
	t1.set(tm2.addr(), true)
	t1.set(tm3.addr(), true)
	// Every grant is recorded (on CLOCK_BOOTTIME); the fence's deadline is
	// a time.Now reading: compare the first grant in that clock.
	bootToNow := time.Now().Round(0).Sub(bootClock()) // wall minus boot: the grants carry no monotonic reading
	first := func() (time.Time, bool) {
		var at time.Time
		for _, m := range []*node{m2, m3} {
			for _, g := range m.leases.all() {
				if at.IsZero() || g.from.Before(at) {
					at = g.from
				}
			}
		}
		return at, !at.IsZero()
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, ok := first(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no restarted agent held the lease 20s after n1's fence was taken")
		}
	}
	at, _ := first()
	if at := at.Add(bootToNow); at.Before(deadline) {
		t.Fatalf("a restarted agent held the lease %s before n1's fence closed", deadline.Sub(at).Round(time.Millisecond))
	}
}
