package monitor

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// queueLoop is a socket's batch I/O that answers every echo request it
// accepts at once, and refuses sends with ENOBUFS (a full send queue on
// this host) while full says so.
type queueLoop struct {
	mu       sync.Mutex
	full     func() bool
	answers  [][]byte
	from     []net.Addr
	accepted int
	refused  int
}

func (q *queueLoop) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.full() {
		q.refused++
		return 0, syscall.ENOBUFS
	}
	for _, m := range ms {
		b := append([]byte(nil), m.Buffers[0]...)
		b[0] = byte(ipv4.ICMPTypeEchoReply)
		q.answers, q.from = append(q.answers, b), append(q.from, m.Addr)
	}
	q.accepted += len(ms)
	return len(ms), nil
}

func (q *queueLoop) ReadBatch(ms []ipv4.Message, _ int) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.answers) == 0 {
		return 0, syscall.EAGAIN
	}
	n := 0
	for ; n < len(ms) && len(q.answers) > 0; n++ {
		ms[n].N = copy(ms[n].Buffers[0], q.answers[0])
		ms[n].NN, ms[n].Addr = 0, q.from[0]
		q.answers, q.from = q.answers[1:], q.from[1:]
	}
	return n, nil
}

// queueEngine is an engine on one unprivileged IPv4 socket whose I/O is q.
func queueEngine(t *testing.T, q *queueLoop, cfg EngineConfig, onResult func(Result)) *Engine {
	t.Helper()
	s := &socket{batch: q, drain: q}
	s.rmsgs = make([]ipv4.Message, batchSize)
	for i := range s.rmsgs {
		s.rmsgs[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	s.wmsgs = make([]ipv4.Message, batchSize)
	s.wbufs = make([][]byte, batchSize)
	for i := range s.wbufs {
		s.wbufs[i] = make([]byte, 8+payloadLen)
		s.wmsgs[i].Buffers = [][]byte{s.wbufs[i]}
	}
	e := &Engine{log: slog.New(slog.DiscardHandler), onResult: onResult, cfg: cfg, index: map[netip.Addr]*target{}, wake: make(chan struct{}, 1), v4: s}
	return e
}

// runQueue probes n targets through q for d and returns every result.
func runQueue(t *testing.T, q *queueLoop, n int, d time.Duration) (*Engine, []Result) {
	t.Helper()
	var mu sync.Mutex
	var results []Result
	e := queueEngine(t, q, EngineConfig{Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond}, func(r Result) {
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
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	e.schedule(ctx)
	mu.Lock()
	defer mu.Unlock()
	return e, results
}

// TestEngine_FullSendQueueSkipsProbes: a send queue that is full for a
// moment (ENOBUFS) costs the refused probes their slot; it never makes one
// count as lost, and every target is probed again at its next slot.
func TestEngine_FullSendQueueSkipsProbes(t *testing.T) {
	start := time.Now()
	q := &queueLoop{full: func() bool { return time.Since(start) < 60*time.Millisecond }}
	e, results := runQueue(t, q, 20, 700*time.Millisecond)
	if q.refused == 0 {
		t.Fatal("the send queue was never full: the test tests nothing")
	}
	if got := e.Stats().NotSent; got == 0 {
		t.Errorf("NotSent = 0, want the refused probes counted")
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
	q := &queueLoop{full: func() bool { return true }}
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
	var calls int
	q := &queueLoop{full: func() bool { calls++; return calls > 1 }} // the first batch goes, then full
	s := queueEngine(t, q, EngineConfig{Interval: time.Second, Timeout: time.Second}, func(Result) {}).v4
	var ps []probe
	for i := range 100 {
		a := netip.AddrFrom4([4]byte{198, 18, 201, byte(i + 1)})
		ps = append(ps, probe{t: &target{addr: a, sock: s, dst: s.addr(a)}, seq: uint16(i)})
	}
	failed, unsent := s.writeBatch(ps, 1, [8]byte{}, time.Now())
	if len(failed) != 0 {
		t.Errorf("failed = %d, want none: a full queue is not the target's failure", len(failed))
	}
	if q.accepted != batchSize || len(unsent) != 100-batchSize {
		t.Fatalf("accepted %d, unsent %d; want %d and %d", q.accepted, len(unsent), batchSize, 100-batchSize)
	}
	for i, p := range unsent {
		if p.seq != uint16(batchSize+i) {
			t.Fatalf("unsent[%d] is probe %d, want %d: the rest in order", i, p.seq, batchSize+i)
		}
	}
}
