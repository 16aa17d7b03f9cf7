package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/goavail/goavail/monitor"
)

// countingTransport is memberlist's own network transport, counting the
// bytes this agent sends: UDP packets and TCP streams, dialled or accepted.
type countingTransport struct {
	*memberlist.NetTransport
	sent    atomic.Int64
	dials   atomic.Int64
	packets atomic.Int64
	streams chan net.Conn
	done    chan struct{}
}

func newCountingTransport(tb testing.TB) *countingTransport {
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{BindAddrs: []string{"127.0.0.1"}, BindPort: 0})
	if err != nil {
		tb.Fatal(err)
	}
	t := &countingTransport{NetTransport: nt, streams: make(chan net.Conn), done: make(chan struct{})}
	go func() {
		for {
			select {
			case c := <-nt.StreamCh():
				select {
				case t.streams <- countingConn{c, &t.sent}:
				case <-t.done:
					c.Close()
					return
				}
			case <-t.done:
				return
			}
		}
	}()
	return t
}

func (t *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t.sent.Add(int64(len(b)))
	return t.NetTransport.WriteTo(b, addr)
}

func (t *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	t.sent.Add(int64(len(b)))
	t.packets.Add(1)
	return t.NetTransport.WriteToAddress(b, a)
}

func (t *countingTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := t.NetTransport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	return countingConn{c, &t.sent}, nil
}

func (t *countingTransport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	c, err := t.NetTransport.DialAddressTimeout(a, timeout)
	if err != nil {
		return nil, err
	}
	t.dials.Add(1)
	return countingConn{c, &t.sent}, nil
}

func (t *countingTransport) StreamCh() <-chan net.Conn { return t.streams }

func (t *countingTransport) Shutdown() error {
	close(t.done)
	return t.NetTransport.Shutdown()
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// benchAgent is one agent of the gossip benchmark: a synthetic tracker of
// targets (round-trip times move at every snapshot, as a real tracker's
// do) and its counted transport.
type benchAgent struct {
	*Cluster
	tr *countingTransport

	mu       sync.Mutex
	statuses []monitor.Status
	snaps    int
	agreedAt atomic.Int64 // unix nanos when the mass event was agreed here
}

func (a *benchAgent) local() []monitor.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.snaps++
	out := slices.Clone(a.statuses)
	rtts := []time.Duration{time.Duration(300+a.snaps%50) * time.Microsecond, 310 * time.Microsecond, 290 * time.Microsecond, 305 * time.Microsecond, time.Duration(295+a.snaps%7) * time.Microsecond}
	for i := range out {
		if out[i].State == monitor.Up && out[i].Evidence.FailRun == 0 {
			out[i].Evidence.RTTs = rtts
		}
	}
	return out
}

func (a *benchAgent) set(i int, f func(*monitor.Status)) {
	a.mu.Lock()
	f(&a.statuses[i])
	a.mu.Unlock()
}

// loTxBytes is what the loopback interface of this process's network
// namespace has sent, from /proc/self/net/dev; ok is false when the bench
// does not run in a namespace of its own (GOAVAIL_BENCH_NETNS=1, set by
// make bench, which runs it under unshare -n), where others share lo.
func loTxBytes() (n int64, ok bool) {
	if os.Getenv("GOAVAIL_BENCH_NETNS") != "1" {
		return 0, false
	}
	b, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, found := strings.Cut(strings.TrimSpace(line), ":")
		if !found || name != "lo" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			return 0, false
		}
		n, err := strconv.ParseInt(f[8], 10, 64)
		return n, err == nil
	}
	return 0, false
}

func benchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("GOAVAIL_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(min(s, 60)) * time.Second
	}
	return 20 * time.Second
}

// BenchmarkGossip: 5 agents × 10,000 targets on 127.0.0.1 with real
// memberlist, 1 % of the targets flapping (each flapping target goes
// failing, down, up, each phase lasting 1 to 4 s), then a mass event: 30 %
// down at once on every agent. It reports the bytes per second each agent
// sends in the steady state and during the mass event, and the time from
// the event to the writer's agreed decision.
func BenchmarkGossip(b *testing.B) {
	const agents, targets = 5, 10_000
	const flapping, massDown = targets / 100, targets * 3 / 10
	rules := Rules{MinPeersAgree: 2, StaleAfter: 10 * time.Second, IsolationThreshold: 0.9}
	addrs := make([]netip.Addr, targets)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, 20, byte(i >> 8), byte(i)})
	}
	start := time.Now()
	massAt := atomic.Int64{} // unix nanos of the mass event, 0 before
	var nodes []*benchAgent
	ctx, cancel := context.WithCancel(context.Background())
	var runs sync.WaitGroup
	defer func() { cancel(); runs.Wait() }()
	for i := range agents {
		a := &benchAgent{tr: newCountingTransport(b)}
		for _, ad := range addrs {
			a.statuses = append(a.statuses, monitor.Status{Addr: ad, State: monitor.Up, Since: start, Evidence: monitor.Evidence{Probes: 64}})
		}
		var peers []string
		for _, n := range nodes {
			peers = append(peers, n.Addr())
		}
		if len(peers) == 0 {
			peers = []string{"127.0.0.1:1"}
		}
		tr := a.tr
		c, err := New(Config{
			NodeName: fmt.Sprint("agent-", i), BindAddr: "127.0.0.1", AdvertiseAddr: "127.0.0.1", Peers: peers, Keys: [][]byte{keyA},
			Fingerprint: fp, Rules: rules, ViewInterval: 2 * time.Second, Local: a.local, Log: slog.New(slog.DiscardHandler),
			OnChange: func(d Decision) {
				if massAt.Load() == 0 || a.agreedAt.Load() != 0 {
					return
				}
				for _, ad := range addrs[:massDown] {
					if d.States[ad] != monitor.Down {
						return
					}
				}
				a.agreedAt.Store(time.Now().UnixNano())
			},
			tune: func(mc *memberlist.Config) {
				mc.Transport = tr
				mc.BindPort, mc.AdvertisePort = tr.GetAutoBindPort(), tr.GetAutoBindPort()
			},
			rejoinEvery: time.Second, anyVoter: true, // the ports are picked as the agents start
		})
		if err != nil {
			b.Fatal(err)
		}
		a.Cluster = c
		nodes = append(nodes, a)
		runs.Add(1)
		go func() { defer runs.Done(); c.Run(ctx) }()
	}
	waitFor := func(what string, limit time.Duration, cond func() bool) {
		for deadline := time.Now().Add(limit); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				for _, n := range nodes {
					got := map[string]int{}
					for pn, v := range n.PeerViews() {
						got[pn] = len(v.Entries)
					}
					d := n.Decision()
					_, w := n.IsWriter()
					b.Logf("%s: members %v, views %v, lease %v, quorate %v, wants %q, writer %q, dropped %v", n.cfg.NodeName, n.Members(), got, n.Lease().Held, d.Quorate, d.Writer, w, n.Dropped())
				}
				b.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("every agent to hold every peer's whole view", time.Minute, func() bool {
		for _, n := range nodes {
			pv := n.PeerViews()
			if len(pv) != agents-1 {
				return false
			}
			for _, v := range pv {
				if len(v.Entries) != targets {
					return false
				}
			}
		}
		return true
	})
	holder := func() *benchAgent {
		for _, n := range nodes {
			if n.Lease().Held {
				return n
			}
		}
		return nil
	}
	for deadline := time.Now().Add(time.Minute); holder() == nil && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	if holder() == nil {
		for _, n := range nodes {
			d := n.Decision()
			_, w := n.IsWriter()
			b.Logf("%s: quorate %v, wants %q, writer %q, dropped %v", n.cfg.NodeName, d.Quorate, d.Writer, w, n.Dropped())
		}
		b.Errorf("no agent holds the writer lease a minute after they all hold each other's views")
	}

	// Flapping: the same 1 % on every agent, each agent seeing each change
	// at its own moment.
	flapCtx, stopFlap := context.WithCancel(ctx)
	var flaps sync.WaitGroup
	for k, n := range nodes {
		flaps.Add(1)
		go func() {
			defer flaps.Done()
			r := rand.New(rand.NewPCG(uint64(k), 1))
			next := make([]time.Time, flapping)
			phase := make([]int, flapping)
			for i := range next {
				next[i] = time.Now().Add(time.Duration(r.IntN(4000)) * time.Millisecond)
			}
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-flapCtx.Done():
					return
				case now := <-tick.C:
					changed := false
					for i := range next {
						if now.Before(next[i]) {
							continue
						}
						idx := targets - 1 - i // the flapping targets are the last ones, away from the mass event's
						phase[i] = (phase[i] + 1) % 3
						n.set(idx, func(s *monitor.Status) {
							switch phase[i] {
							case 1: // failing
								s.Evidence.FailRun, s.Evidence.LastError = 1, "timeout"
							case 2:
								s.State, s.Since = monitor.Down, now
								s.Evidence.FailRun = 3
							default:
								s.State, s.Since = monitor.Up, now
								s.Evidence.FailRun, s.Evidence.LastError = 0, ""
							}
						})
						next[i] = now.Add(time.Duration(1000+r.IntN(3000)) * time.Millisecond)
						changed = true
					}
					if changed {
						n.LocalChanged()
					}
				}
			}
		}()
	}
	defer func() { stopFlap(); flaps.Wait() }()

	sent := func() []int64 {
		out := make([]int64, len(nodes))
		for i, n := range nodes {
			out[i] = n.tr.sent.Load()
		}
		return out
	}
	rates := func(before, after []int64, d time.Duration) (mean, most float64) {
		for i := range before {
			r := float64(after[i]-before[i]) / d.Seconds()
			mean += r / float64(len(before))
			most = max(most, r)
		}
		return mean, most
	}
	time.Sleep(3 * time.Second) // the flapping settles into its rhythm
	steady := benchSeconds()
	b.ResetTimer()
	lo0, wire := loTxBytes()
	s0, t0 := sent(), time.Now()
	d0, p0 := nodes[0].tr.dials.Load(), nodes[0].tr.packets.Load()
	time.Sleep(steady)
	s1 := sent()
	b.Logf("agent-0: %.1f streams/s, %.1f packets/s (memberlist's own included), %.0f B/s", float64(nodes[0].tr.dials.Load()-d0)/time.Since(t0).Seconds(), float64(nodes[0].tr.packets.Load()-p0)/time.Since(t0).Seconds(), float64(s1[0]-s0[0])/time.Since(t0).Seconds())
	steadyMean, steadyMax := rates(s0, s1, time.Since(t0))
	b.Logf("steady state: %.0f B/s per agent (max %.0f) over %s", steadyMean, steadyMax, steady)
	lo1, _ := loTxBytes()
	if wire {
		b.Logf("steady state on the wire (IP packets on lo, TCP handshakes included): %.0f B/s per agent", float64(lo1-lo0)/float64(agents)/time.Since(t0).Seconds())
		b.ReportMetric(float64(lo1-lo0)/float64(agents)/time.Since(t0).Seconds(), "steady_wire_B/s/agent")
	}

	// The mass event: 30 % down at once on every agent.
	event := time.Now()
	massAt.Store(event.UnixNano())
	for _, n := range nodes {
		n.mu.Lock()
		for i := range massDown {
			s := &n.statuses[i]
			s.State, s.Since = monitor.Down, event
			s.Evidence.FailRun, s.Evidence.LastError = 3, "timeout"
		}
		n.mu.Unlock()
		n.LocalChanged()
	}
	const massWindow = 5 * time.Second
	var writer *benchAgent // the lease holder that agreed, or the first agent to agree
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if h := holder(); h != nil && h.agreedAt.Load() != 0 {
			writer = h
			break
		}
		if holder() == nil {
			for _, n := range nodes {
				if n.agreedAt.Load() != 0 && (writer == nil || n.agreedAt.Load() < writer.agreedAt.Load()) {
					writer = n
				}
			}
			if writer != nil {
				b.Logf("no writer: timing the first agent to agree")
				break
			}
		}
	}
	if writer == nil {
		b.Fatalf("no agent agreed on the mass event within a minute")
	}
	agree := time.Duration(writer.agreedAt.Load() - event.UnixNano())
	time.Sleep(time.Until(event.Add(massWindow))) // the window: 5 s, or until agreement if longer
	s2 := sent()
	window := time.Since(event)
	if lo2, ok := loTxBytes(); ok && wire {
		b.Logf("mass event on the wire: %.0f B/s per agent over %s", float64(lo2-lo1)/float64(agents)/window.Seconds(), window.Round(time.Millisecond))
		b.ReportMetric(float64(lo2-lo1)/float64(agents)/window.Seconds(), "mass_wire_B/s/agent")
	}
	massMean, massMax := rates(s1, s2, window)
	b.StopTimer()
	slowest := time.Duration(0)
	for _, n := range nodes {
		if at := n.agreedAt.Load(); at != 0 {
			slowest = max(slowest, time.Duration(at-event.UnixNano()))
		}
	}
	for _, n := range nodes {
		b.Logf("%s dropped %v", n.cfg.NodeName, n.Dropped())
	}
	b.ReportMetric(steadyMean, "steady_B/s/agent")
	b.ReportMetric(steadyMax, "steady_max_B/s")
	b.ReportMetric(massMean, "mass_B/s/agent")
	b.ReportMetric(massMax, "mass_max_B/s")
	b.ReportMetric(float64(agree.Milliseconds()), "agree_ms")
	b.Logf("%d agents × %d targets, %d flapping: steady state %.0f B/s per agent (max %.0f) over %s; mass event (%d down at once): %.0f B/s per agent (max %.0f) over its first %s; writer %s agreed in %s (slowest agent %s)",
		agents, targets, flapping, steadyMean, steadyMax, steady, massDown, massMean, massMax, window.Round(time.Millisecond), writer.cfg.NodeName, agree.Round(time.Millisecond), slowest.Round(time.Millisecond))
}
