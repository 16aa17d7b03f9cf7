package monitor

import (
	"net/netip"
	"sync"
	"testing"
	"time"
)

// runQueue probes n targets through q (see reviewLoop in
// sendqueue_test.go) for d and returns the engine and every result.
func runQueue(t *testing.T, q *reviewLoop, n int, d time.Duration) (*Engine, []Result) {
	t.Helper()
	var mu sync.Mutex
	var results []Result
	e := reviewEngine(q, EngineConfig{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond}, func(r Result) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	})
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{198, 18, 200, byte(i + 1)})
	}
	if err := e.SetTargets(addrs); err != nil {
		t.Fatal(err)
	}
	scheduleFor(e, d)
	mu.Lock()
	defer mu.Unlock()
	return e, results
}

// TestEngine_FullSendQueueSkipsProbes: a send queue that is full for a
// moment (ENOBUFS) costs the refused probes their slot; it never makes one
// count as lost, and every target is probed again at its next slot.
func TestEngine_FullSendQueueSkipsProbes(t *testing.T) {
	start := time.Now()
	q := &reviewLoop{full: func(int) bool { return time.Since(start) < 60*time.Millisecond }}
	e, results := runQueue(t, q, 20, 700*time.Millisecond)
	if got := e.Stats().NotSent; got == 0 {
		t.Fatal("NotSent = 0: the send queue was never full, or the refused probes were not counted")
	}
	ok := map[netip.Addr]int{}
	for _, r := range results {
		if !r.OK {
			t.Errorf("%s: probe %d counted as failed (%q): a probe this host never sent is no evidence", r.Addr, r.Seq, r.Err)
			continue
		}
		ok[r.Addr]++
	}
	if len(ok) != 20 {
		t.Errorf("%d of 20 targets answered, want all (at their next slot)", len(ok))
	}
}

// TestEngine_SendQueueFullForGood: while no probe can leave this host, no
// result is reported at all: targets keep their state, as in a pause.
func TestEngine_SendQueueFullForGood(t *testing.T) {
	q := &reviewLoop{full: func(int) bool { return true }}
	e, results := runQueue(t, q, 5, 500*time.Millisecond)
	if e.Stats().NotSent < 5 {
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
