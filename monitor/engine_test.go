package monitor

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/netlab"
)

// waitState polls the tracker until addr reaches want or the test's patience
// (not a performance bound) runs out.
func waitState(t *testing.T, tr *Health, addr netip.Addr, want State) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if tr.States()[addr] == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: state %v, want %v", addr, tr.States()[addr], want)
}

// TestEngine_RealHosts probes namespaced hosts over IPv4 and IPv6 and takes
// them down three ways: echo ignored, link down, and a vanished address.
func TestEngine_RealHosts(t *testing.T) {
	lab := netlab.New(t, 11)
	a, b, c := lab.AddHost(), lab.AddHost(), lab.AddHost()
	never := netip.MustParseAddr("198.18.11.200")  // on the bridge, nobody home
	outside := netip.MustParseAddr("198.18.250.1") // caught by the unreachable route

	var mu sync.Mutex
	var transitions []Transition
	th := Thresholds{Fall: 3, Rise: 2}
	tr := newICMPHealth(nil, th, func(x Transition) { mu.Lock(); transitions = append(transitions, x); mu.Unlock() })
	eng, err := NewEngine(EngineConfig{Interval: 100 * time.Millisecond, Timeout: 80 * time.Millisecond}, slog.New(slog.DiscardHandler), tr.ObserveICMP)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{a.V4, a.V6, b.V4, c.V4, never, outside}
	tr.SetTargets(ICMPOnly(addrs, th), time.Now())
	if err := eng.SetTargets(addrs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	for _, up := range []netip.Addr{a.V4, a.V6, b.V4, c.V4} {
		waitState(t, tr, up, Up)
	}
	waitState(t, tr, never, Down)
	waitState(t, tr, outside, Down)

	b.IgnoreEcho(true)
	c.SetLink(false)
	waitState(t, tr, b.V4, Down)
	waitState(t, tr, c.V4, Down)
	if tr.States()[a.V4] != Up || tr.States()[a.V6] != Up {
		t.Errorf("healthy host flapped: %v", tr.States())
	}

	b.IgnoreEcho(false)
	c.SetLink(true)
	waitState(t, tr, b.V4, Up)
	waitState(t, tr, c.V4, Up)

	mu.Lock()
	defer mu.Unlock()
	var sawSendError, sawRTT bool
	for _, x := range transitions {
		if x.Addr == outside && x.To == Down && strings.Contains(x.Evidence.LastError, "no route to host") {
			sawSendError = true
		}
		if x.Addr == a.V6 && x.To == Up && len(x.Evidence.RTTs) == 2 && x.Evidence.RTTs[1] > 0 {
			sawRTT = true
		}
		if x.Addr == a.V4 && x.To == Down {
			t.Errorf("false down for healthy host: %+v", x)
		}
	}
	if !sawSendError {
		t.Errorf("no down transition for %s carried the send error as evidence: %+v", outside, transitions)
	}
	if !sawRTT {
		t.Errorf("up transition for %s lacks RTT evidence", a.V6)
	}
}

// TestEngine_SetTargetsKeepsRunning checks that a reload can add and drop
// targets while probing goes on.
func TestEngine_SetTargetsKeepsRunning(t *testing.T) {
	lab := netlab.New(t, 12)
	a, b := lab.AddHost(), lab.AddHost()
	th := Thresholds{Fall: 2, Rise: 2}
	tr := newICMPHealth([]netip.Addr{a.V4}, th, nil)
	eng, err := NewEngine(EngineConfig{Interval: 100 * time.Millisecond, Timeout: 50 * time.Millisecond}, slog.New(slog.DiscardHandler), tr.ObserveICMP)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.SetTargets([]netip.Addr{a.V4}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	waitState(t, tr, a.V4, Up)

	tr.SetTargets(ICMPOnly([]netip.Addr{a.V4, b.V4}, th), time.Now())
	if err := eng.SetTargets([]netip.Addr{a.V4, b.V4}); err != nil {
		t.Fatal(err)
	}
	if err := eng.SetConfig(EngineConfig{Interval: 200 * time.Millisecond, Timeout: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	waitState(t, tr, b.V4, Up)
	if s := tr.States()[a.V4]; s != Up {
		t.Errorf("kept target lost its state on reload: %v", s)
	}
	tr.SetTargets(ICMPOnly([]netip.Addr{b.V4}, th), time.Now())
	if err := eng.SetTargets([]netip.Addr{b.V4}); err != nil {
		t.Fatalf("drop a target: %v", err)
	}
	if _, ok := tr.States()[a.V4]; ok {
		t.Errorf("dropped target still tracked")
	}
}

// TestEngine_ResultsInProbeOrder flaps a host with the probe timeout equal to
// the interval, so a lost probe is declared at the moment the next one goes
// out, and checks that each address's results arrive in sequence order. A
// loss delivered after the answer to a later probe would count against an
// address that has just come back, and shorten its next detection.
func TestEngine_ResultsInProbeOrder(t *testing.T) {
	lab := netlab.New(t, 13)
	h := lab.AddHost()
	var mu sync.Mutex
	var got []Result
	eng, err := NewEngine(EngineConfig{Interval: 30 * time.Millisecond, Timeout: 30 * time.Millisecond}, slog.New(slog.DiscardHandler), func(r Result) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.SetTargets([]netip.Addr{h.V4}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	for i := 0; i < 30; i++ {
		time.Sleep(100 * time.Millisecond)
		h.IgnoreEcho(i%2 == 0)
	}
	time.Sleep(130 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var oks, losses int
	for i, r := range got {
		if r.OK {
			oks++
		} else {
			losses++
		}
		if i > 0 && int16(r.Seq-got[i-1].Seq) <= 0 {
			t.Errorf("result %d (seq %d ok=%v) delivered after seq %d (ok=%v)", i, r.Seq, r.OK, got[i-1].Seq, got[i-1].OK)
		}
	}
	if oks == 0 || losses == 0 {
		t.Fatalf("the host never flapped: %d answered, %d lost", oks, losses)
	}
}

// TestEngine_BulkLab probes 500 addresses of one bulk host (IPv4) and two
// of its IPv6 ones, takes one of each family down and brings them back:
// only those two change state.
func TestEngine_BulkLab(t *testing.T) {
	lab := netlab.New(t, 93)
	h, addrs := lab.AddBulk(500)
	v6a, v6b := netlab.BulkV6Addr(1), netlab.BulkV6Addr(2)
	addrs = append(addrs, v6a, v6b)
	var downs atomic.Int64
	th := Thresholds{Fall: 2, Rise: 2}
	tr := newICMPHealth(addrs, th, func(x Transition) {
		if x.To == Down {
			downs.Add(1)
		}
	})
	eng, err := NewEngine(EngineConfig{Interval: 100 * time.Millisecond, Timeout: 100 * time.Millisecond}, slog.New(slog.DiscardHandler), tr.ObserveICMP)
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.SetTargets(addrs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	for _, a := range addrs {
		waitState(t, tr, a, Up)
	}
	v4 := addrs[7]
	h.BulkDown(v4, true)
	h.BulkDown(v6b, true)
	waitState(t, tr, v4, Down)
	waitState(t, tr, v6b, Down)
	h.BulkDown(v4, false)
	h.BulkDown(v6b, false)
	waitState(t, tr, v4, Up)
	waitState(t, tr, v6b, Up)
	if n := downs.Load(); n != 2 {
		t.Errorf("%d down transitions, want 2 (one per address taken down): %v", n, tr.States())
	}
}
