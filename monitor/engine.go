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
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// EngineConfig sets how often and how patiently the engine probes.
type EngineConfig struct {
	Interval time.Duration // between two probes of one target
	Timeout  time.Duration // wait for a reply; at most Interval
}

// Engine probes every target with ICMP echo once per interval and reports
// each outcome. It uses one socket per address family, one scheduler that
// spreads the sends evenly across the interval, and one reader per socket
// that matches replies by source address, sequence number and a payload
// token, so its cost grows linearly with the number of targets.
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
	targets []*target // in send order
	index   map[netip.Addr]*target
	cursor  int
	pending []probe // outstanding probes, oldest first (deadlines grow)
}

type target struct {
	addr        netip.Addr
	sock        *socket
	seq         uint16
	outstanding bool
	sentAt      time.Time
	next        time.Time
	removed     bool
}

type probe struct {
	t        *target
	seq      uint16
	deadline time.Time
}

// minSleep is the scheduler's coarsest granularity: sends due within it go
// out together, so 10,000 targets per second cost 500 wake-ups, not 10,000.
const minSleep = 2 * time.Millisecond

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
		e.spreadLocked(time.Now())
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
	e.targets, e.index = next, index
	e.spreadLocked(time.Now())
	e.mu.Unlock()
	e.kick()
	return nil
}

// spreadLocked gives target i its first send at now + i·interval/n.
func (e *Engine) spreadLocked(now time.Time) {
	n := len(e.targets)
	for i, t := range e.targets {
		t.next = now.Add(time.Duration(int64(e.cfg.Interval) * int64(i) / int64(n)))
	}
	e.cursor = 0
}

func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run probes until ctx is done, then closes the sockets. It returns nil on
// a clean stop and an error only if a socket fails for good.
func (e *Engine) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for _, s := range []*socket{e.v4, e.v6} {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := e.read(s); err != nil && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		}()
	}
	e.schedule(ctx)
	e.v4.pc.Close()
	if e.v6 != nil {
		e.v6.pc.Close()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// schedule is the single sender: each wake it expires overdue probes, sends
// every probe that is due, and sleeps until the next deadline or send.
func (e *Engine) schedule(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var results []Result
	var sends []probe
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-e.wake:
		}
		now := time.Now()
		results, sends = results[:0], sends[:0]

		e.mu.Lock()
		results = e.expireLocked(now, results)
		for n := len(e.targets); n > 0; {
			t := e.targets[e.cursor]
			if t.next.After(now) {
				break
			}
			if t.outstanding { // reply neither came nor timed out: count it lost
				t.outstanding = false
				results = append(results, Result{Addr: t.addr, At: now, Seq: t.seq, Sent: t.sentAt})
			}
			t.seq++
			t.outstanding, t.sentAt = true, now
			t.next = t.next.Add(e.cfg.Interval)
			if t.next.Before(now) { // fell far behind (suspended?): don't burst to catch up
				t.next = now.Add(e.cfg.Interval)
			}
			e.pending = append(e.pending, probe{t: t, seq: t.seq, deadline: now.Add(e.cfg.Timeout)})
			sends = append(sends, e.pending[len(e.pending)-1])
			e.cursor = (e.cursor + 1) % n
		}
		e.mu.Unlock()

		// Deliver the losses before sending the next probes: the reader may
		// report a reply to a new probe at once, and a loss delivered after
		// it would count against an address that has just answered.
		for _, r := range results {
			e.onResult(r)
		}
		results = e.send(sends, now, results[:0])
		for _, r := range results {
			e.onResult(r)
		}

		e.mu.Lock()
		sleep := e.cfg.Interval
		if len(e.targets) > 0 {
			sleep = e.targets[e.cursor].next.Sub(now)
		}
		if len(e.pending) > 0 {
			sleep = min(sleep, e.pending[0].deadline.Sub(now))
		}
		e.mu.Unlock()
		timer.Reset(max(sleep, minSleep))
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

// send writes one echo request per target. A send that fails (no route,
// say) is a lost probe at once, with the error as evidence.
func (e *Engine) send(ps []probe, now time.Time, results []Result) []Result {
	for _, p := range ps {
		t, seq := p.t, p.seq
		buf, err := e.marshal(t.sock.v6, seq)
		if err == nil {
			_, err = t.sock.pc.WriteTo(buf, t.sock.addr(t.addr))
		}
		if err != nil {
			e.mu.Lock()
			if t.seq == seq && t.outstanding {
				t.outstanding = false
				results = append(results, Result{Addr: t.addr, At: now, Err: err.Error(), Seq: seq, Sent: now})
			}
			e.mu.Unlock()
		}
	}
	return results
}

func (e *Engine) marshal(v6 bool, seq uint16) ([]byte, error) {
	m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: int(e.id), Seq: int(seq), Data: e.token[:]}}
	if v6 {
		m.Type = ipv6.ICMPTypeEchoRequest // the kernel fills in the ICMPv6 checksum
	}
	return m.Marshal(nil)
}

// read matches replies on one socket until it is closed.
func (e *Engine) read(s *socket) error {
	buf := make([]byte, 1500)
	proto := ipv4.ICMPTypeEchoReply.Protocol()
	if s.v6 {
		proto = ipv6.ICMPTypeEchoReply.Protocol()
	}
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("read icmp: %w", err)
		}
		at := time.Now()
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil {
			continue
		}
		echo, ok := m.Body.(*icmp.Echo)
		if !ok || (m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply) {
			continue
		}
		if (s.privileged && echo.ID != int(e.id)) || len(echo.Data) < len(e.token) || string(echo.Data[:len(e.token)]) != string(e.token[:]) {
			continue
		}
		if r, ok := e.match(source(from), uint16(echo.Seq), at); ok {
			e.onResult(r)
		}
	}
}

// match pairs a reply with its outstanding probe.
func (e *Engine) match(from netip.Addr, seq uint16, at time.Time) (Result, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.index[from]
	if !ok || !t.outstanding || t.seq != seq {
		return Result{}, false // late, duplicate or not ours
	}
	t.outstanding = false
	return Result{Addr: from, At: at, OK: true, RTT: at.Sub(t.sentAt), Seq: seq, Sent: t.sentAt}, true
}
