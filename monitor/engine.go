package monitor

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// EngineConfig sets how often and how patiently the engine probes.
type EngineConfig struct {
	Interval time.Duration // between two probes of one target
	Timeout  time.Duration // wait for a reply; at most Interval
}

// Engine probes every target with ICMP echo once per interval and reports
// each outcome. It uses one socket per address family, one scheduler that
// keeps every target in its own phase of the interval (see schedule.go),
// and reads replies in batches, matched by source address, sequence number
// and a payload token, so its cost grows linearly with the number of
// targets and its wake-ups do not grow with them at all.
//
// A probe counts as lost only when its timeout has passed and the socket
// has been drained after that moment: a reply that arrived while the agent
// was paused, or while the reader was behind, is found first.
type Engine struct {
	log      *slog.Logger
	onResult func(Result)
	token    [8]byte // in every payload: tells our replies from anyone else's
	id       uint16  // ICMP id on raw sockets (ping sockets get the kernel's)
	v4, v6   *socket
	v6err    error
	wake     chan struct{}

	mu      sync.Mutex
	cfg     EngineConfig
	ring    ring // the targets in phase order
	index   map[netip.Addr]*target
	pending []probe // outstanding probes, oldest first (deadlines grow)

	pauses, skipped, refused atomic.Int64
	paused                   atomic.Int64 // nanoseconds
	onPause                  atomic.Pointer[func(at time.Time, gone time.Duration)]
	drained                  atomic.Int64 // when the scheduler last drained the sockets (Unix ns)
}

type target struct {
	addr        netip.Addr
	sock        *socket
	dst         net.Addr // addr as the socket wants it, made once
	seq         uint16
	outstanding bool
	sentAt      time.Time
	next        time.Time // its next slot
	skippedLast bool      // its last slot was skipped (see ring.due)
	deadline    time.Time // its outstanding probe's
	respread    bool      // its probe was out when the schedule was spread anew
	removed     bool
}

type probe struct {
	t        *target
	seq      uint16
	slot     time.Time // when it was scheduled (it went out up to slack later)
	deadline time.Time
}

// EngineStats are the engine's own troubles, counted since it started.
type EngineStats struct {
	Pauses       int64         // times the agent found it had been stopped for more than an interval
	Paused       time.Duration // their total length
	SkippedSlots int64         // probes not sent because their slot was missed by more than the slack
	NotSent      int64         // probes not sent because this host's send queue was full (no evidence either way)
}

// NewEngine opens the ICMP sockets and returns an engine with no targets.
// onResult receives every probe outcome from the engine's goroutines and
// must not block. The IPv6 socket is optional: without it, SetTargets
// refuses IPv6 targets with the reason.
func NewEngine(cfg EngineConfig, log *slog.Logger, onResult func(Result)) (*Engine, error) {
	if cfg.Interval <= 0 || cfg.Timeout <= 0 || cfg.Timeout > cfg.Interval {
		return nil, fmt.Errorf("probe timeout %s must be positive and at most the interval %s", cfg.Timeout, cfg.Interval)
	}
	e := &Engine{log: log, onResult: onResult, cfg: cfg, index: map[netip.Addr]*target{}, wake: make(chan struct{}, 1)}
	rand.Read(e.token[:])
	e.id = binary.BigEndian.Uint16(e.token[:2])
	var err error
	if e.v4, err = openSocket(false); err != nil {
		return nil, err
	}
	if e.v6, e.v6err = openSocket(true); e.v6err != nil {
		e.v6 = nil
	}
	log.Info("icmp sockets open", "ipv4_privileged", e.v4.privileged, "ipv6", e.v6 != nil)
	return e, nil
}

// OnPause sets f to be told of every pause of the agent the engine finds
// (when it found it, and how long the agent was gone). It runs on the
// scheduler's goroutine and must not block.
func (e *Engine) OnPause(f func(at time.Time, gone time.Duration)) { e.onPause.Store(&f) }

// Stats returns the pauses and skipped slots counted so far.
func (e *Engine) Stats() EngineStats {
	return EngineStats{Pauses: e.pauses.Load(), Paused: time.Duration(e.paused.Load()), SkippedSlots: e.skipped.Load(), NotSent: e.refused.Load()}
}

// SetConfig changes interval and timeout; a new interval spreads the
// schedule anew.
func (e *Engine) SetConfig(cfg EngineConfig) error {
	if cfg.Interval <= 0 || cfg.Timeout <= 0 || cfg.Timeout > cfg.Interval {
		return fmt.Errorf("probe timeout %s must be positive and at most the interval %s", cfg.Timeout, cfg.Interval)
	}
	e.mu.Lock()
	respread := cfg.Interval != e.cfg.Interval
	e.cfg = cfg
	if respread { // a new timeout alone applies from the next probe on
		e.ring.spread(time.Now(), cfg.Interval)
	}
	e.mu.Unlock()
	e.kick()
	return nil
}

// SetTargets replaces the set of probed addresses. Targets that stay keep
// their sequence numbers; all are spread evenly across the interval.
func (e *Engine) SetTargets(addrs []netip.Addr) error {
	for _, a := range addrs {
		if a.Is6() && !a.Is4In6() && e.v6 == nil {
			return fmt.Errorf("cannot probe %s: no IPv6 ICMP socket: %w", a, e.v6err)
		}
	}
	e.mu.Lock()
	next := make([]*target, 0, len(addrs))
	index := make(map[netip.Addr]*target, len(addrs))
	for _, a := range addrs {
		t, ok := e.index[a]
		if !ok {
			t = &target{addr: a, sock: e.v4}
			if a.Is6() {
				t.sock = e.v6
			}
			t.dst = t.sock.addr(a)
			var b [2]byte
			rand.Read(b[:])
			t.seq = binary.BigEndian.Uint16(b[:])
		}
		index[a] = t
		next = append(next, t)
	}
	for a, t := range e.index {
		if _, ok := index[a]; !ok {
			t.removed = true
		}
	}
	e.ring.targets, e.index = next, index
	for _, s := range e.sockets() {
		s.targets = 0
	}
	for _, t := range next {
		t.sock.targets++
	}
	e.ring.spread(time.Now(), e.cfg.Interval)
	e.mu.Unlock()
	e.kick()
	return nil
}

func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) sockets() []*socket {
	if e.v6 == nil {
		return []*socket{e.v4}
	}
	return []*socket{e.v4, e.v6}
}

// Run probes until ctx is done, then closes the sockets. It returns nil on
// a clean stop and an error only if a socket fails for good.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, s := range e.sockets() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.read(ctx, s); err != nil && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		}()
	}
	e.schedule(ctx)
	for _, s := range e.sockets() {
		s.close()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// schedule is the single sender. Each wake it drains the sockets, expires
// the probes whose timeout has passed, sends every probe that is due, and
// sleeps until the next slot or deadline, at least a tick.
func (e *Engine) schedule(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var results []Result
	var sends []probe
	var active []*socket // sockets with targets: the others need no draining
	planned := time.Now()
	var warnedRefused int64 // refused sends already in a warning
	warnedAt := planned
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-e.wake:
		}
		now := time.Now()
		e.mu.Lock()
		cfg := e.cfg
		active = active[:0]
		for _, s := range e.sockets() {
			if s.targets > 0 {
				active = append(active, s)
			}
		}
		e.mu.Unlock()
		if gone, paused := pauseOf(planned, now, cfg.Interval); paused {
			e.pauses.Add(1)
			e.paused.Add(int64(gone))
			e.log.Warn("goavail was paused (stopped, frozen or starved of CPU): probes whose replies came meanwhile are read before any counts as lost, and every target keeps its phase",
				"paused_for", gone.Round(time.Millisecond), "interval", cfg.Interval)
			if f := e.onPause.Load(); f != nil {
				(*f)(now, gone)
			}
		}
		results, sends = results[:0], sends[:0]

		// Drain, expire and deliver under the read locks, so that a reply
		// read by the reader is delivered before any loss decided after it.
		for _, s := range active {
			s.readMu.Lock()
		}
		for _, s := range active {
			results = e.drainLocked(s, results)
		}
		e.drained.Store(now.UnixNano())
		e.mu.Lock()
		results = e.expireLocked(now, results)
		slack := slackFor(cfg.Interval)
		e.ring.due(now, cfg.Interval, slack, func(t *target, slot time.Time, send bool) {
			if t.outstanding && t.respread && t.deadline.After(now) {
				// The schedule was spread anew (a reload) while this probe
				// was out: its first new slot may come at once, and the
				// probe has its whole timeout. Skip the slot instead of
				// counting the probe lost and sending another.
				t.respread = false
				e.skipped.Add(1)
				return
			}
			t.respread = false
			if t.outstanding { // reply neither came nor timed out before the next slot: lost
				t.outstanding = false
				results = append(results, Result{Addr: t.addr, At: now, Seq: t.seq, Sent: t.sentAt})
			}
			if !send {
				e.skipped.Add(1)
				return
			}
			t.seq++
			t.outstanding, t.sentAt, t.deadline = true, now, now.Add(cfg.Timeout)
			e.pending = append(e.pending, probe{t: t, seq: t.seq, slot: slot, deadline: now.Add(cfg.Timeout)})
			sends = append(sends, e.pending[len(e.pending)-1])
		})
		e.mu.Unlock()
		// Deliver before sending: the reader may report a reply to a new
		// probe at once, and a loss delivered after it would count against
		// an address that has just answered.
		for _, r := range results {
			e.onResult(r)
		}
		for _, s := range active {
			s.readMu.Unlock()
		}

		results = e.send(sends, now, results[:0])
		for _, r := range results {
			e.onResult(r)
		}
		if cap(results) > keepResults { // a burst (a start, a mass event) need not stay allocated
			results = nil
		}
		if n := e.refused.Load(); n > warnedRefused && now.Sub(warnedAt) >= refusedWarnEvery {
			e.log.Warn("this host's send queue is full (ENOBUFS): probes not sent; their targets keep their state and wait for their next slot",
				"not_sent", n-warnedRefused, "since", warnedAt.Format(time.RFC3339))
			warnedRefused, warnedAt = n, now
		}

		e.mu.Lock()
		at := now.Add(cfg.Interval)
		if w := e.ring.wake(); !w.IsZero() {
			at = w
		}
		if len(e.pending) > 0 && e.pending[0].deadline.Before(at) {
			at = e.pending[0].deadline
		}
		e.mu.Unlock()
		// At most one wake a tick, counted from this wake's start, not
		// from the end of its work: with many targets the work takes most
		// of a tick, and a full tick's sleep after it would let every
		// cycle's slots fall later, until they miss their slack.
		planned = now.Add(tickFor(cfg.Interval))
		if at.After(planned) {
			planned = at
		}
		timer.Reset(max(time.Until(planned), 0))
	}
}

// expireLocked gives up on probes whose timeout has passed.
func (e *Engine) expireLocked(now time.Time, results []Result) []Result {
	i := 0
	for ; i < len(e.pending) && !e.pending[i].deadline.After(now); i++ {
		p := e.pending[i]
		if p.t.outstanding && p.t.seq == p.seq && !p.t.removed {
			p.t.outstanding = false
			results = append(results, Result{Addr: p.t.addr, At: now, Seq: p.seq, Sent: p.t.sentAt})
		}
	}
	if i > 0 {
		n := copy(e.pending, e.pending[i:])
		clear(e.pending[n:])
		e.pending = e.pending[:n]
	}
	return results
}

// read waits for replies on one socket and reads them in batches, at most
// once a tick, until the socket is closed.
func (e *Engine) read(ctx context.Context, s *socket) error {
	var results []Result
	for {
		e.mu.Lock()
		tick := readTickFor(e.cfg.Interval)
		e.mu.Unlock()
		if time.Since(time.Unix(0, e.drained.Load())) < tick {
			// The scheduler drains often enough (many targets): let it.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(tick):
			}
			continue
		}
		if err := s.waitReadable(); err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read icmp: %w", err)
		}
		s.readMu.Lock()
		results = e.drainLocked(s, results[:0])
		for _, r := range results {
			e.onResult(r)
		}
		s.readMu.Unlock()
		if cap(results) > keepResults {
			results = nil
		}
		select { // let replies gather: one batch read per tick, not one wake per reply
		case <-ctx.Done():
			return nil
		case <-time.After(tick):
		}
	}
}

// drainLocked reads every reply queued on s without waiting and matches
// them. The caller holds s.readMu.
func (e *Engine) drainLocked(s *socket, results []Result) []Result {
	for {
		replies, full, err := s.readBatch()
		if len(replies) > 0 {
			e.mu.Lock()
			for _, rp := range replies {
				if !e.ours(s, rp) {
					continue
				}
				if r, ok := e.matchLocked(rp.from, rp.seq, rp.at); ok {
					results = append(results, r)
				}
			}
			e.mu.Unlock()
		}
		if err != nil || !full {
			return results // drained (or closed: the reader reports that)
		}
	}
}

// ours checks a reply's ICMP id (raw sockets only) and payload token.
func (e *Engine) ours(s *socket, rp reply) bool {
	return (!s.privileged || rp.id == e.id) && rp.token == e.token
}

// matchLocked pairs a reply with its outstanding probe.
func (e *Engine) matchLocked(from netip.Addr, seq uint16, at time.Time) (Result, bool) {
	t, ok := e.index[from]
	if !ok || !t.outstanding || t.seq != seq {
		return Result{}, false // late, duplicate or not ours
	}
	t.outstanding = false
	rtt := at.Sub(t.sentAt)
	if rtt < 0 { // the kernel's timestamp and ours come from different clocks
		rtt = 0
	}
	return Result{Addr: from, At: at, OK: true, RTT: rtt, Seq: seq, Sent: t.sentAt}, true
}

// keepResults is the most results a loop keeps room for between wakes:
// four times what one wake at 100,000 targets delivers.
const keepResults = 16384

// refusedWarnEvery spaces the warnings about a full send queue.
const refusedWarnEvery = 10 * time.Second

// send writes one echo request per probe, in batches per socket. A send
// that fails (no route, say) is a lost probe at once, with the error as
// evidence. A probe refused only because this host's send queue is full
// (queueFull) is not sent at all: it is no evidence either way, like a
// skipped slot, and its target waits for its next slot, so nothing is sent
// late or twice and nothing bursts when the queue drains.
func (e *Engine) send(ps []probe, now time.Time, results []Result) []Result {
	for _, s := range e.sockets() {
		failed, unsent := s.writeBatch(ps, e.id, e.token, now)
		if len(failed) == 0 && len(unsent) == 0 {
			continue
		}
		e.mu.Lock()
		for _, p := range unsent {
			if p.t.seq == p.seq && p.t.outstanding {
				p.t.outstanding = false // its pending entry expires with no result
				e.refused.Add(1)
			}
		}
		for _, f := range failed {
			t := f.p.t
			if t.seq == f.p.seq && t.outstanding && !t.removed {
				t.outstanding = false
				results = append(results, Result{Addr: t.addr, At: now, Err: f.err.Error(), Seq: f.p.seq, Sent: now})
			}
		}
		e.mu.Unlock()
	}
	return results
}
