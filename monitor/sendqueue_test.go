package monitor

// Adversarial tests of probes refused by a full send queue (ENOBUFS) and of
// the scheduler around them, from a review of a first design that retried
// refused probes until their timeout (it sent targets twice, late, in
// bursts, and reported refusals as losses). Each test states the invariant
// it attacks and the schedule of faults that broke the first design; a
// refused probe is now not sent at all and reports nothing.

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
)

// sentEcho is one echo request the fake accepted.
type sentEcho struct {
	addr netip.Addr
	seq  uint16
	slot time.Time // from the payload
	at   time.Time
}

// reviewLoop (the tests of this file and of queue_test.go) is a socket's batch I/O that refuses writes with ENOBUFS while
// full(call) says so (call counts WriteBatch calls from 1), or with err(call)
// when that is not nil, records every
// write call it accepts, and answers each accepted request after delay.
type reviewLoop struct {
	mu     sync.Mutex
	full   func(call int) bool
	err    func(call int) error
	delay  time.Duration
	calls  int
	writes [][]sentEcho // one entry per accepted WriteBatch call
	queue  []pendingAnswer
}

type pendingAnswer struct {
	ready time.Time
	b     []byte
	from  net.Addr
}

func (q *reviewLoop) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
	q.mu.Lock()
	q.calls++
	call := q.calls
	q.mu.Unlock()
	if q.full(call) { // outside the lock: full may call back into the engine
		return 0, syscall.ENOBUFS
	}
	if q.err != nil {
		if err := q.err(call); err != nil {
			return 0, err
		}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	var w []sentEcho
	for _, m := range ms {
		b := append([]byte(nil), m.Buffers[0]...)
		w = append(w, sentEcho{addr: source(m.Addr), seq: binary.BigEndian.Uint16(b[6:]), slot: time.Unix(0, int64(binary.BigEndian.Uint64(b[16:]))), at: now})
		b[0] = byte(ipv4.ICMPTypeEchoReply)
		q.queue = append(q.queue, pendingAnswer{ready: now.Add(q.delay), b: b, from: m.Addr})
	}
	q.writes = append(q.writes, w)
	return len(ms), nil
}

func (q *reviewLoop) ReadBatch(ms []ipv4.Message, _ int) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := time.Now()
	n := 0
	for n < len(ms) && len(q.queue) > 0 && !q.queue[0].ready.After(now) {
		ms[n].N = copy(ms[n].Buffers[0], q.queue[0].b)
		ms[n].NN, ms[n].Addr = 0, q.queue[0].from
		q.queue = q.queue[1:]
		n++
	}
	if n == 0 {
		return 0, syscall.EAGAIN
	}
	return n, nil
}

func (q *reviewLoop) snapshot() [][]sentEcho {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([][]sentEcho(nil), q.writes...)
}

// reviewEngine is an engine on one unprivileged IPv4 socket whose I/O is q.
func reviewEngine(q *reviewLoop, cfg EngineConfig, onResult func(Result)) *Engine {
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
	return &Engine{log: slog.New(slog.DiscardHandler), onResult: onResult, cfg: cfg, index: map[netip.Addr]*target{}, wake: make(chan struct{}, 1), v4: s}
}

// results collects an engine's results.
type results struct {
	mu sync.Mutex
	rs []Result
}

func (r *results) add(x Result) { r.mu.Lock(); r.rs = append(r.rs, x); r.mu.Unlock() }
func (r *results) all() []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Result(nil), r.rs...)
}

func reviewAddr(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 18, 210, byte(i + 1)}) }

// sentOnce fails unless q accepted a request and no target was sent twice
// in one interval (checkNoDoubleSend).
func sentOnce(t *testing.T, q *reviewLoop, interval time.Duration) {
	t.Helper()
	writes := q.snapshot()
	if len(writes) == 0 {
		t.Fatal("nothing was ever sent")
	}
	checkNoDoubleSend(t, writes, interval)
}

// checkNoDoubleSend fails for every write call that carries two requests to
// one target, and for every target sent twice within less than interval
// minus two ticks (its phase kept, no target is sent twice in one
// interval).
func checkNoDoubleSend(t *testing.T, writes [][]sentEcho, interval time.Duration) {
	t.Helper()
	last := map[netip.Addr]sentEcho{}
	for i, w := range writes {
		for _, s := range w {
			if p, ok := last[s.addr]; ok && s.at.Sub(p.at) < interval-2*tickFor(interval) {
				t.Errorf("write %d: %s sent probe %d %s after probe %d: twice in one interval", i, s.addr, s.seq, s.at.Sub(p.at), p.seq)
			}
			last[s.addr] = s
		}
	}
}

// Invariant: a probe that never left this host never counts as the
// target's silence.
//
// Schedule: the send queue stays full (ENOBUFS) for Fall intervals; the
// target itself answers every request that leaves.
//
// (Found by review: refused probes were reported with an error, and any
// result that is not OK counts as lost in Machine.Observe, so a healthy
// target went Down. A refused probe now reports nothing.)
func TestEngine_RefusedProbesNeverMakeATargetDown(t *testing.T) {
	q := &reviewLoop{full: func(int) bool { return true }}
	var rs results
	e := reviewEngine(q, EngineConfig{Interval: 50 * time.Millisecond, Timeout: 40 * time.Millisecond}, rs.add)
	if err := e.SetTargets([]netip.Addr{reviewAddr(0)}); err != nil {
		t.Fatal(err)
	}
	scheduleUntil(t, e, "6 refused sends (twice the fall threshold)", func() bool { return e.Stats().NotSent >= 6 })
	var m Machine
	th := Thresholds{Fall: 3, Rise: 2}
	for _, r := range rs.all() {
		if !r.OK {
			t.Errorf("result %+v: a probe that never left this host is no evidence", r)
		}
		if tr, ok := m.Observe(r, th); ok && tr.To == Down {
			t.Fatalf("target went Down on probes that never left this host (evidence %+v)", tr.Evidence)
		}
	}
}

// Invariant: a SetConfig/SetTargets during deferral loses nothing and sends
// nothing twice; a probe that never left this host never counts as the
// target's silence.
//
// Schedule: one target A; its first request is refused (ENOBUFS) and,
// while the queue is full, a config reload adds target B (SetTargets). The
// queue has room from then on and A answers every request at once.
//
// SetTargets respreads the ring, so A's next slot is now. At the next wake
// the deferred probe s is put in the send batch and its unsent mark
// cleared; ring.due then finds A still outstanding and reports s lost with
// no error (before s has even been written), and adds probe s+1: A gets
// two requests in one sendmmsg, and a false plain loss.
func TestEngine_ReloadWhileQueueFullSendsOnceAndLosesNothing(t *testing.T) {
	cfg := EngineConfig{Interval: 400 * time.Millisecond, Timeout: 300 * time.Millisecond}
	triggers := map[string]func(e *Engine) error{
		// a config reload adds target B
		"SetTargets": func(e *Engine) error { return e.SetTargets([]netip.Addr{reviewAddr(0), reviewAddr(1)}) },
		// a config reload changes the interval (the schedule is spread anew)
		"SetConfig": func(e *Engine) error {
			return e.SetConfig(EngineConfig{Interval: 500 * time.Millisecond, Timeout: cfg.Timeout})
		},
	}
	for name, trigger := range triggers {
		t.Run(name, func(t *testing.T) {
			var e *Engine
			q := &reviewLoop{}
			q.full = func(call int) bool {
				if call == 1 { // the queue is full at A's first send; meanwhile the reload
					if err := trigger(e); err != nil {
						t.Error(err)
					}
					return true
				}
				return false
			}
			var rs results
			e = reviewEngine(q, cfg, rs.add)
			if err := e.SetTargets([]netip.Addr{reviewAddr(0)}); err != nil {
				t.Fatal(err)
			}
			// Until every target (A, and B when added) has left and been
			// answered, or has a result of any kind: the false loss and the
			// double send came at the first wake after the reload.
			scheduleUntil(t, e, "every target sent and answered", func() bool {
				sent, rs := q.accepted(), rs.all()
				got := map[netip.Addr]int{}
				for _, r := range rs {
					got[r.Addr]++
				}
				e.mu.Lock()
				n := len(e.index)
				e.mu.Unlock()
				if q.callCount() < 2 || len(sent) < n {
					return false
				}
				for a := range sent {
					if got[a] == 0 {
						return false
					}
				}
				return true
			})

			sentOnce(t, q, cfg.Interval)
			for _, r := range rs.all() {
				if !r.OK {
					t.Errorf("%s probe %d reported lost (err %q, sent %s, at %s): every request that left was answered at once",
						r.Addr, r.Seq, r.Err, r.Sent.Format("15:04:05.000"), r.At.Format("15:04:05.000"))
				}
			}
		})
	}
}

// Invariant: a deferred probe is never sent after its target's next slot;
// no target is sent twice in one interval; a probe that never left this
// host never counts as the target's silence.
//
// Schedule: the default probe timeout equals the interval (config: timeout
// = min(interval, 1s)). A's first send goes out late in its slot (within
// the slack) and is refused; the queue stays full until A's next slot.
//
// The probe's deadline (first attempt + timeout) is after A's next slot, so
// at the first wake past that slot it is still outstanding and unsent: the
// resend loop clears its unsent mark and batches it, then ring.due reports
// it lost without errQueueFull although it has not left yet, and batches
// the next probe too: two requests to A in one sendmmsg.
func TestEngine_RefusedProbeNeverSentAtTheNextSlot(t *testing.T) {
	cfg := EngineConfig{Interval: time.Second, Timeout: time.Second}
	var slot time.Time
	var mu sync.Mutex
	q := &reviewLoop{}
	q.full = func(int) bool {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Before(slot.Add(cfg.Interval))
	}
	var rs results
	e := reviewEngine(q, cfg, rs.add)
	if err := e.SetTargets([]netip.Addr{reviewAddr(0)}); err != nil {
		t.Fatal(err)
	}
	// A's first slot was 70 ms ago: within the slack (80 ms at 1 s), so it
	// is sent, late, as a busy scheduler does.
	e.mu.Lock()
	mu.Lock()
	slot = time.Now().Add(-70 * time.Millisecond)
	e.ring.targets[0].next = slot
	mu.Unlock()
	e.mu.Unlock()
	// Until a request leaves (at or after the next slot, when the queue has
	// room) and A has a result.
	scheduleUntil(t, e, "a request accepted and a result", func() bool { return len(q.snapshot()) > 0 && len(rs.all()) > 0 })

	sentOnce(t, q, cfg.Interval)
	for _, r := range rs.all() {
		if !r.OK {
			t.Errorf("%s probe %d reported as the target's silence (sent %s, given up %s): it had not left this host",
				r.Addr, r.Seq, r.Sent.Format("15:04:05.000"), r.At.Format("15:04:05.000"))
		}
	}
}

// Invariant: a probe that never left this host never counts as the
// target's silence — and so a probe that left late must get its whole
// timeout before it counts as lost.
//
// Schedule: timeout 500 ms; the queue is full for A's first send; A
// answers every request after 300 ms (under the timeout).
//
// The deferred probe is sent at the next wake with room (sentAt reset) but
// keeps the deadline of its first attempt, so it is given up 200 ms after
// it left, with no error: a healthy target reported lost.
func TestEngine_ProbeAfterAFullQueueGetsItsWholeTimeout(t *testing.T) {
	cfg := EngineConfig{Interval: time.Second, Timeout: 500 * time.Millisecond}
	q := &reviewLoop{delay: 300 * time.Millisecond, full: func(call int) bool { return call == 1 }}
	var rs results
	e := reviewEngine(q, cfg, rs.add)
	if err := e.SetTargets([]netip.Addr{reviewAddr(0)}); err != nil {
		t.Fatal(err)
	}
	// Until the probe that left after the refusal has a result, lost or
	// answered.
	scheduleUntil(t, e, "a result for the probe sent after the refusal", func() bool { return q.callCount() >= 2 && len(rs.all()) > 0 })

	got := rs.all()
	if len(got) == 0 {
		t.Fatal("no result")
	}
	for _, r := range got {
		if !r.OK && r.Err == "" && r.At.Sub(r.Sent) < cfg.Timeout {
			t.Errorf("%s probe %d reported lost %s after it left, less than its %s timeout: the target answers in 300 ms",
				r.Addr, r.Seq, r.At.Sub(r.Sent).Round(time.Millisecond), cfg.Timeout)
		}
	}
}

// Invariant: no burst after a stall: a target is sent at most the slack
// after its slot (schedule.go), and a stall makes targets skip slots, never
// share a send.
//
// Schedule: 25 targets at 1 s (default timeout = interval); this host's
// send queue refuses the first 15 sendmmsg calls (about 600 ms of slots),
// then has room.
//
// Every probe refused meanwhile is kept until its timeout and sent at the
// first wake with room, whatever its lateness: about 15 targets' requests
// go in one sendmmsg up to 600 ms after their slots (slack 80 ms), the
// very burst that refills a full queue.
func TestEngine_NoBurstAfterAFullQueue(t *testing.T) {
	cfg := EngineConfig{Interval: time.Second, Timeout: time.Second}
	q := &reviewLoop{full: func(call int) bool { return call <= 15 }}
	var rs results
	e := reviewEngine(q, cfg, rs.add)
	addrs := make([]netip.Addr, 25)
	for i := range addrs {
		addrs[i] = reviewAddr(i)
	}
	if err := e.SetTargets(addrs); err != nil {
		t.Fatal(err)
	}
	scheduleUntil(t, e, "5 sends after the stall", func() bool { return len(q.snapshot()) >= 5 })
	if n := e.Stats().NotSent; n < 15 {
		t.Fatalf("NotSent = %d: the stall refused fewer than its 15 calls", n)
	}

	writes := q.snapshot()
	slack := slackFor(cfg.Interval)
	late := 0
	for _, w := range writes {
		for _, s := range w {
			if s.at.Sub(s.slot) > slack {
				late++
			}
		}
	}
	if late > 0 {
		t.Errorf("%d requests sent more than the %s slack after their slots", late, slack)
	}
	if n := len(writes[0]); n > 2 {
		t.Errorf("the first send after the stall carries %d requests at once (a burst): at most the targets whose slots are within the slack may go", n)
	}
}

// Invariant: a target removed by SetTargets is never reported after its
// removal.
//
// Schedule: target A's send fails for good (EHOSTUNREACH: no route); a
// config reload removes A while the scheduler is in the sendmmsg (it holds
// no engine lock there).
//
// send() reports the failure of every failed probe whose target's seq
// still matches, without checking removed: A's failure is delivered after
// SetTargets returned without A.
func TestEngine_RemovedTargetNeverReported(t *testing.T) {
	var e *Engine
	var removed sync.Once
	var removedAt time.Time
	var mu sync.Mutex
	q := &reviewLoop{full: func(int) bool { return false }}
	q.err = func(int) error {
		removed.Do(func() {
			if err := e.SetTargets([]netip.Addr{reviewAddr(1)}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			removedAt = time.Now()
			mu.Unlock()
		})
		return syscall.EHOSTUNREACH
	}
	var bad []Result
	e = reviewEngine(q, EngineConfig{Interval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond}, func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		if r.Addr == reviewAddr(0) && !removedAt.IsZero() {
			bad = append(bad, r)
		}
	})
	if err := e.SetTargets([]netip.Addr{reviewAddr(0)}); err != nil {
		t.Fatal(err)
	}
	// Until a wake after the removal: the one that failed A's send has
	// ended and delivered its results.
	scheduleUntil(t, e, "a wake after A's removal", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !removedAt.IsZero() && e.drained.Load() > removedAt.UnixNano()
	})
	mu.Lock()
	defer mu.Unlock()
	for _, r := range bad {
		t.Errorf("%s reported after its removal: %+v", r.Addr, r)
	}
}

// Invariant: the scheduler never busy-loops (a wake at most once per tick)
// when sends fail.
//
// Schedule: the send queue is full for good, 50 targets at 100 ms.
func TestEngine_FullQueueWakesAtMostOncePerTick(t *testing.T) {
	cfg := EngineConfig{Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond}
	q := &reviewLoop{full: func(int) bool { return true }}
	e := reviewEngine(q, cfg, func(Result) {})
	addrs := make([]netip.Addr, 50)
	for i := range addrs {
		addrs[i] = reviewAddr(i)
	}
	if err := e.SetTargets(addrs); err != nil {
		t.Fatal(err)
	}
	// Count the calls over a span the test measures: a loaded machine
	// makes fewer wakes in it, never more, so only a busy loop fails.
	start := time.Now()
	scheduleUntil(t, e, "20 sendmmsg calls", func() bool { return q.callCount() >= 20 })
	d := time.Since(start)
	if calls, max := q.callCount(), int(d/tickFor(cfg.Interval))+2; calls > max {
		t.Errorf("%d sendmmsg calls in %s, want at most %d (one wake a tick)", calls, d, max)
	}
}

// Invariant: every target keeps its phase (no target is sent twice in one
// interval) across SetTargets, and a probe counts as lost only when its
// timeout has passed.
//
// Schedule: A answers every request after 50 ms (timeout 300 ms); a config
// reload adds target B right after A's first request left. No send fails.
//
// SetTargets respreads every target from now, whatever it has outstanding:
// A's next slot is now, so at the wake it kicks ring.due reports A's probe
// lost 0 ms after it left (a false loss at every reload) and sends A again
// at once. This predates the deferral; the deferral only adds the case
// where the probe has not even left.
func TestEngine_ReloadNeverCountsAnOutstandingProbeLost(t *testing.T) {
	q := &reviewLoop{delay: 50 * time.Millisecond, full: func(int) bool { return false }}
	var rs results
	cfg := EngineConfig{Interval: 400 * time.Millisecond, Timeout: 300 * time.Millisecond}
	e := reviewEngine(q, cfg, rs.add)
	if err := e.SetTargets([]netip.Addr{reviewAddr(0)}); err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan struct{})
	go func() { // the reload: once A's first request is out
		defer close(reloaded)
		for len(q.snapshot()) == 0 {
			time.Sleep(time.Millisecond)
		}
		if err := e.SetTargets([]netip.Addr{reviewAddr(0), reviewAddr(1)}); err != nil {
			t.Error(err)
		}
	}()
	// Until A's first probe has its result (the false loss came at the
	// first wake after the reload) and B, added by it, was answered.
	scheduleUntil(t, e, "A's first result and B answered", func() bool {
		select {
		case <-reloaded:
		default:
			return false
		}
		rs := rs.all()
		gotA := false
		for _, r := range rs {
			gotA = gotA || r.Addr == reviewAddr(0)
		}
		return gotA && answered(rs)[reviewAddr(1)] > 0
	})

	checkNoDoubleSend(t, q.snapshot(), cfg.Interval)
	for _, r := range rs.all() {
		if !r.OK {
			t.Errorf("%s probe %d reported lost %s after it left (timeout %s): it was answered in 50 ms",
				r.Addr, r.Seq, r.At.Sub(r.Sent).Round(time.Millisecond), cfg.Timeout)
		}
	}
}
