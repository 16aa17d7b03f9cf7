package monitor

import (
	"net/netip"
	"testing"
	"time"
)

// runQueue probes n targets through q (see reviewLoop in
// sendqueue_test.go) until done says so, given the results so far, and
// returns the engine and every result.
func runQueue(t *testing.T, q *reviewLoop, n int, what string, done func(e *Engine, rs []Result) bool) (*Engine, []Result) {
	t.Helper()
	var rs results
	e := reviewEngine(q, EngineConfig{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond}, rs.add)
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{198, 18, 200, byte(i + 1)})
	}
	if err := e.SetTargets(addrs); err != nil {
		t.Fatal(err)
	}
	scheduleUntil(t, e, what, func() bool { return done(e, rs.all()) })
	return e, rs.all()
}

// TestEngine_FullSendQueueSkipsProbes: a send queue that is full for a
// moment (ENOBUFS: here its first three sendmmsg calls) costs the refused
// probes their slot; it never makes one count as lost, and every target is
// probed again at its next slot.
func TestEngine_FullSendQueueSkipsProbes(t *testing.T) {
	q := &reviewLoop{full: func(call int) bool { return call <= 3 }}
	e, results := runQueue(t, q, 20, "every target answers", func(_ *Engine, rs []Result) bool { return len(answered(rs)) == 20 })
	if got := e.Stats().NotSent; got == 0 {
		t.Fatal("NotSent = 0: the refused probes were not counted")
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("%s: probe %d counted as failed (%q): a probe this host never sent is no evidence", r.Addr, r.Seq, r.Err)
		}
	}
}

// TestEngine_SendQueueFullForGood: while no probe can leave this host, no
// result is reported at all: targets keep their state, as in a pause.
// The engine runs until each target was refused three times on average
// (past any fall threshold's worth of slots).
func TestEngine_SendQueueFullForGood(t *testing.T) {
	q := &reviewLoop{full: func(int) bool { return true }}
	e, results := runQueue(t, q, 5, "15 refused probes", func(e *Engine, _ []Result) bool { return e.Stats().NotSent >= 15 })
	if e.Stats().NotSent < 15 {
		t.Fatalf("NotSent = %d: the sends were not refused", e.Stats().NotSent)
	}
	for _, r := range results {
		t.Errorf("result %+v, want none: no probe left this host", r)
	}
}

// TestWriteBatch_QueueFullKeepsTheRest: ENOBUFS midway returns every probe
// not yet sent, in order, and no failures.
func TestWriteBatch_QueueFullKeepsTheRest(t *testing.T) {
	q := &reviewLoop{full: func(call int) bool { return call > 1 }} // the first batch goes, then full
	s := reviewEngine(q, EngineConfig{Interval: time.Second, Timeout: time.Second}, func(Result) {}).v4
	var ps []probe
	for i := range 100 {
		a := netip.AddrFrom4([4]byte{198, 18, 201, byte(i + 1)})
		ps = append(ps, probe{t: &target{addr: a, sock: s, dst: s.addr(a)}, seq: uint16(i)})
	}
	failed, unsent := s.writeBatch(ps, 1, [8]byte{}, time.Now())
	if len(failed) != 0 {
		t.Errorf("failed = %d, want none: a full queue is not the target's failure", len(failed))
	}
	accepted := 0
	for _, w := range q.snapshot() {
		accepted += len(w)
	}
	if accepted != batchSize || len(unsent) != 100-batchSize {
		t.Fatalf("accepted %d, unsent %d; want %d and %d", accepted, len(unsent), batchSize, 100-batchSize)
	}
	for i, p := range unsent {
		if p.seq != uint16(batchSize+i) {
			t.Fatalf("unsent[%d] is probe %d, want %d: the rest in order", i, p.seq, batchSize+i)
		}
	}
}
