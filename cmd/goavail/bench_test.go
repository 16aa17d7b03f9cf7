package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/goavail/goavail/agent"
	"github.com/goavail/goavail/cluster"
	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/dns/cloudflare"
	"github.com/goavail/goavail/internal/cfemu"
	"github.com/goavail/goavail/internal/netlab"
	"github.com/goavail/goavail/monitor"
)

// BenchmarkDetectionOverhead wires engine, tracker, agreement, reconciler and the
// Cloudflare adapter as monitorCmd does, takes a real host down repeatedly
// (20 outages per b.N, at phases spread over the interval) and reports two
// figures, in milliseconds:
//
//   - overhead: batch request minus the moment the last of failure_threshold
//     lost probes timed out (its send time, from the engine, + probe_timeout).
//     This is what goavail adds; its goal is p99 ≤ 150 ms.
//   - raw: batch request minus outage minus fall·interval, the figure the
//     issue names. It also holds the probe phase, the wait for the first
//     probe after the outage, which is uniform over [0, interval) by
//     construction and no implementation can remove.
//
// It fails if a batch ever comes before failure_threshold probes sent after
// the outage were lost.
func BenchmarkDetectionOverhead(b *testing.B) {
	const interval, timeout, fall = time.Second, time.Second, 3
	lab := netlab.New(b, 41)
	h, other := lab.AddHost(), lab.AddHost()
	emu := cfemu.New()
	defer emu.Close()
	emu.AddZone("example.com")
	cf, err := cloudflare.New(cloudflare.Options{BaseURL: emu.BaseURL(), Credentials: cloudflare.Credentials{Token: emu.Token}, BatchSize: 200, RequestTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{h.V4, other.V4}
	var rec *dns.Reconciler
	var clu *cluster.Cluster
	tr := monitor.NewHealth(func(monitor.Transition) { clu.LocalChanged() }, nil)
	tr.SetTargets(monitor.ICMPOnly(addrs, monitor.Thresholds{Fall: fall, Rise: 1}), time.Now())
	clu, err = cluster.New(cluster.Config{NodeName: "bench", ViewInterval: time.Second, Rules: cluster.Rules{StaleAfter: 5 * time.Second},
		Local: tr.Snapshot, OnChange: func(cluster.Decision) { rec.Kick() }, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var results []monitor.Result // h's probes
	observe := func(r monitor.Result) {
		if r.Addr == h.V4 {
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		}
		tr.ObserveICMP(r)
	}
	rec = dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: agent.AgreedHealth(clu), Writer: clu.IsWriter, Log: slog.New(slog.DiscardHandler)})
	rec.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: addrs, TTL: 60}}, time.Hour)
	eng, err := monitor.NewEngine(monitor.EngineConfig{Interval: interval, Timeout: timeout}, slog.New(slog.DiscardHandler), observe)
	if err != nil {
		b.Fatal(err)
	}
	if err := eng.SetTargets(addrs); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	go clu.Run(ctx)
	go rec.Run(ctx)

	batchAfter := func(t0 time.Time) time.Time {
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			for _, r := range emu.Requests() {
				if strings.HasSuffix(r.Path, "/batch") && r.At.After(t0) {
					return r.At
				}
			}
		}
		b.Fatalf("no batch request after %s: requests %+v, states %v, last pass %+v", t0, emu.Requests(), tr.States(), rec.Last())
		return time.Time{}
	}
	present := func(a netip.Addr) bool {
		for _, r := range emu.Records("example.com") {
			if r.Content == a.String() {
				return true
			}
		}
		return false
	}
	waitFor := func(cond func() bool) {
		for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("records never converged: %v; states %v; last pass %+v", emu.Records("example.com"), tr.States(), rec.Last())
			}
		}
	}
	var overheads, raws []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		waitFor(func() bool { return present(h.V4) && present(other.V4) })
		for j := 0; j < 20; j++ {
			for tr.States()[h.V4] != monitor.Up {
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(time.Duration(j) * interval / 20) // vary the phase
			emu.ResetRequests()
			mu.Lock()
			results = results[:0]
			mu.Unlock()
			t0 := time.Now()
			h.IgnoreEcho(true)
			bt := batchAfter(t0)
			mu.Lock()
			var lost []monitor.Result // probes sent after the outage and lost before the batch
			for _, r := range results {
				if !r.OK && r.Sent.After(t0) && !r.At.After(bt) {
					lost = append(lost, r)
				}
			}
			if len(lost) < fall { // the batch came before fall probes were lost: show them
				for _, r := range results {
					b.Logf("outage %d: probe seq %d ok=%v sent t0%+v result t0%+v err=%q", j, r.Seq, r.OK, r.Sent.Sub(t0), r.At.Sub(t0), r.Err)
				}
				b.Fatalf("outage %d: batch at t0%+v after only %d lost probes", j, bt.Sub(t0), len(lost))
			}
			due := lost[fall-1].Sent.Add(timeout) // when the fall-th lost probe timed out
			mu.Unlock()
			overheads = append(overheads, bt.Sub(due))
			raws = append(raws, bt.Sub(t0)-fall*interval)
			h.IgnoreEcho(false)
			waitFor(func() bool { return present(h.V4) })
		}
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"overhead", overheads}, {"raw", raws}} {
		slices.Sort(s.d)
		q := func(p float64) time.Duration { return s.d[int(p*float64(len(s.d)-1))] }
		b.ReportMetric(ms(s.d[0]), s.name+"-min-ms")
		b.ReportMetric(ms(q(0.5)), s.name+"-p50-ms")
		b.ReportMetric(ms(q(0.99)), s.name+"-p99-ms")
	}
}

// fakeView is an agent's local view, set by hand.
type fakeView struct {
	mu     sync.Mutex
	states map[netip.Addr]monitor.State
	clu    *cluster.Cluster
}

func (f *fakeView) set(a netip.Addr, s monitor.State) {
	f.mu.Lock()
	f.states[a] = s
	f.mu.Unlock()
	f.clu.LocalChanged()
}

func (f *fakeView) local() []monitor.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []monitor.Status
	for a, s := range f.states {
		out = append(out, monitor.Status{Addr: a, State: s})
	}
	return out
}

// BenchmarkClusterOverhead runs three agents on loopback with the default
// cluster settings (memberlist's LAN timers, view_interval 2s) and
// min_peers_agree = 1; the writer, agent-1, reconciles against the
// emulator. Each round, agent-3 sees an address down (nothing changes),
// then agent-2 does too: the time from that moment, when enough agents
// see the failure, to the batch request is the cluster's overhead. Views
// are set by hand, so no probing time is in the figure. Goal: ≤ 1 s.
func BenchmarkClusterOverhead(b *testing.B) {
	x, y := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	emu := cfemu.New()
	defer emu.Close()
	emu.AddZone("example.com")
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: x.String(), TTL: 60})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: y.String(), TTL: 60})
	cf, err := cloudflare.New(cloudflare.Options{BaseURL: emu.BaseURL(), Credentials: cloudflare.Credentials{Token: emu.Token}, BatchSize: 200, RequestTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	key := []byte("0123456789abcdef0123456789abcdef")
	views := make([]*fakeView, 3)
	var rec *dns.Reconciler
	// Every agent lists every other (only listed peers vote): take free
	// ports first.
	ports := make([]int, len(views))
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	for i := range views {
		var peers []string
		for j, p := range ports {
			if j != i {
				peers = append(peers, fmt.Sprintf("127.0.0.1:%d", p))
			}
		}
		v := &fakeView{states: map[netip.Addr]monitor.State{x: monitor.Up, y: monitor.Up}}
		onChange := func(cluster.Decision) {}
		if i == 0 {
			onChange = func(cluster.Decision) { rec.Kick() }
		}
		clu, err := cluster.New(cluster.Config{
			NodeName: fmt.Sprintf("agent-%d", i+1), BindAddr: "127.0.0.1", AdvertiseAddr: "127.0.0.1", Port: ports[i], Peers: peers,
			Keys: [][]byte{key}, Rules: cluster.Rules{MinPeersAgree: 1, StaleAfter: 10 * time.Second, IsolationThreshold: 0.9},
			ViewInterval: 2 * time.Second, Local: v.local, OnChange: onChange, Log: slog.New(slog.DiscardHandler),
		})
		if err != nil {
			b.Fatal(err)
		}
		v.clu = clu
		views[i] = v
	}
	writer := views[0].clu
	rec = dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: agent.AgreedHealth(writer), Writer: writer.IsWriter, Fence: writer.Fence, Log: slog.New(slog.DiscardHandler)})
	rec.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{x, y}, TTL: 60}}, time.Hour)
	for _, run := range []func(context.Context) error{rec.Run, views[0].clu.Run, views[1].clu.Run, views[2].clu.Run} {
		wg.Add(1)
		go func() { defer wg.Done(); run(ctx) }()
	}

	waitFor := func(what string, cond func() bool) {
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("timed out: %s; writer's decision %s %v", what, writer.Decision(), writer.Decision().States)
			}
		}
	}
	waitFor("three voters agree x is up", func() bool {
		d := writer.Decision()
		return len(d.Voters) == 3 && d.States[x] == monitor.Up
	})
	waitFor("agent-1 holds the writer lease", func() bool { w, _ := writer.IsWriter(); return w })
	present := func() bool {
		for _, r := range emu.Records("example.com") {
			if r.Content == x.String() {
				return true
			}
		}
		return false
	}
	var overheads []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for round := 0; round < 20; round++ {
			views[2].set(x, monitor.Down)
			time.Sleep(100 * time.Millisecond)
			if !present() {
				b.Fatal("one agent's view removed the record")
			}
			emu.ResetRequests()
			t0 := time.Now()
			views[1].set(x, monitor.Down)
			var at time.Time
			waitFor("the batch request", func() bool {
				for _, r := range emu.Requests() {
					if strings.HasSuffix(r.Path, "/batch") {
						at = r.At
						return true
					}
				}
				return false
			})
			overheads = append(overheads, at.Sub(t0))
			waitFor("the record removed", func() bool { return !present() })
			views[1].set(x, monitor.Up)
			views[2].set(x, monitor.Up)
			waitFor("the record restored", present)
		}
	}
	b.StopTimer()
	slices.Sort(overheads)
	q := func(p float64) time.Duration { return overheads[int(p*float64(len(overheads)-1))] }
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(q(0.5)), "p50-ms")
	b.ReportMetric(ms(q(0.99)), "p99-ms")
	b.ReportMetric(ms(overheads[len(overheads)-1]), "max-ms")
}

// benchTargets are the target counts of BenchmarkAgentVsFping:
// GOAVAIL_BENCH_TARGETS (comma-separated), 500, 1,000, 10,000 and 100,000
// by default.
func benchTargets() []int {
	out := []int{500, 1000, 10000, 100000}
	if s := os.Getenv("GOAVAIL_BENCH_TARGETS"); s != "" {
		out = out[:0]
		for _, f := range strings.Split(s, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
				out = append(out, n)
			}
		}
	}
	return out
}

// BenchmarkAgentVsFping runs the built binary (dry-run, HTTP on, 1 s
// interval, failure_threshold 3) on N namespaced targets and, once every
// target is up, fping on the same targets at the same time, for
// GOAVAIL_BENCH_SECONDS. Both share the machine and the reply traffic
// (each raw socket sees the other's replies too), so their ratio is fair
// even when other work loads the machine. It reports both processes' CPU
// per minute and per probe, the ratio, goavail's peak RSS, its false
// downs and the machine's load. Above 10,000 targets fping cannot keep
// up (one process per 5,000 targets, and its sequence numbers run out), so
// goavail runs alone. GOAVAIL_BENCH_PROFILE=dir saves a CPU profile of
// each measured window there (the agent's /debug/pprof, --pprof);
// GOAVAIL_BENCH_BINARY runs another build instead (to compare with an
// older one); GOAVAIL_BENCH_NO_FPING=1 leaves fping out;
// GOAVAIL_BENCH_DEBUG=file appends the lab's drop counters there (see
// labDump). The lab host answers in its own kernel thread (RemoteWork), as
// a remote host would, and its CPU is reported apart (lab-cpu-s/min);
// GOAVAIL_BENCH_INLINE_LAB=1 leaves that out, so the lab's work is charged
// to whoever sends, as in benchmarks before it.
func BenchmarkAgentVsFping(b *testing.B) {
	fping, err := exec.LookPath("fping")
	if err != nil {
		b.Fatal("fping is missing: apt-get install -y fping (make bench does)")
	}
	bin := buildPlain(b)
	if other := os.Getenv("GOAVAIL_BENCH_BINARY"); other != "" {
		bin = other // e.g. an older build, to compare
	}
	for _, n := range benchTargets() {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			lab := netlab.New(b, 91)
			host, addrs := lab.AddBulk(n)
			if os.Getenv("GOAVAIL_BENCH_INLINE_LAB") == "" {
				host.RemoteWork()
			} else {
				host = nil // the lab's work is charged to whoever sends
			}
			d := benchDuration()
			for i := 0; i < b.N; i++ {
				agentVsFping(b, bin, fping, host, addrs, d)
			}
		})
	}
}

func agentVsFping(b *testing.B, bin, fping string, host *netlab.Host, addrs []netip.Addr, d time.Duration) {
	n := len(addrs)
	httpAddr := freeAddrTB(b)
	var args []string
	profDir := os.Getenv("GOAVAIL_BENCH_PROFILE")
	if profDir != "" {
		args = append(args, "--pprof")
	}
	ag := runScaleAgent(b, bin, scaleConfig(httpAddr, addrs, time.Second, time.Second, 3, 1, ""), httpAddr, args...)
	ag.waitUp(b, n, 2*time.Minute+time.Duration(n)*time.Millisecond)
	time.Sleep(2 * time.Second) // the start's transitions settle
	pid := ag.cmd.Process.Pid
	m0 := ag.metrics(b)
	a0 := procCPU(pid)
	var lab0 time.Duration
	if host != nil {
		lab0 = host.LabCPU()
	}
	var fp []*exec.Cmd
	var summaries []*strings.Builder
	if n <= 10000 && os.Getenv("GOAVAIL_BENCH_NO_FPING") == "" {
		for start := 0; start < n; start += 5000 {
			chunk := addrs[start:min(start+5000, n)]
			list := make([]string, len(chunk))
			for i, a := range chunk {
				list[i] = a.String()
			}
			gap := strconv.FormatFloat(1000/float64(len(chunk)), 'f', 3, 64)
			c := exec.Command(fping, "-l", "-q", "-p", "1000", "-i", gap, "-t", "1000", "-b", "16")
			c.Stdin = strings.NewReader(strings.Join(list, "\n"))
			sb := &strings.Builder{}
			c.Stderr = sb
			if err := c.Start(); err != nil {
				b.Fatal(err)
			}
			fp, summaries = append(fp, c), append(summaries, sb)
		}
	}
	load0 := loadAvg()
	profiled := make(chan error, 1)
	if profDir != "" { // the measured window only, not the start
		go func() {
			profiled <- fetchProfile(httpAddr, d, filepath.Join(profDir, fmt.Sprintf("agent-%d.pprof", n)))
		}()
	} else {
		profiled <- nil
	}
	time.Sleep(d)
	agentCPU := procCPU(pid) - a0
	var labCPU time.Duration
	if host != nil {
		labCPU = host.LabCPU() - lab0
	}
	m1 := ag.metrics(b)
	var fpingCPU time.Duration
	for _, c := range fp {
		fpingCPU += procCPU(c.Process.Pid)
	}
	load1 := loadAvg()
	if path := os.Getenv("GOAVAIL_BENCH_DEBUG"); path != "" {
		labDump(b, path, host, ag.logs.matching("paused"))
	}
	peak, rss := procStatusKiB(pid, "VmHWM"), procStatusKiB(pid, "VmRSS")
	if profDir != "" {
		if err := fetch(fmt.Sprintf("http://%s/debug/pprof/heap", httpAddr), filepath.Join(profDir, fmt.Sprintf("agent-%d.heap", n))); err != nil {
			b.Errorf("heap profile: %v", err)
		}
	}
	fpingSent := 0
	for i, c := range fp {
		c.Process.Signal(syscall.SIGINT)
		c.Wait()
		for _, m := range fpingXmt.FindAllStringSubmatch(summaries[i].String(), -1) {
			k, _ := strconv.Atoi(m[1])
			fpingSent += k
		}
	}
	if err := <-profiled; err != nil {
		b.Errorf("cpu profile: %v", err)
	}
	_, downs := ag.logs.counts()
	pauses := m1["goavail_agent_pauses_total"]
	ag.stop(b)
	probes := m1["goavail_probes_total"] - m0["goavail_probes_total"]
	lost := m1[`goavail_probes_total{result="lost"}`] - m0[`goavail_probes_total{result="lost"}`]
	perMin := func(c time.Duration) float64 { return c.Seconds() * 60 / d.Seconds() }
	b.ReportMetric(perMin(agentCPU), "agent-cpu-s/min")
	if host != nil {
		b.ReportMetric(perMin(labCPU), "lab-cpu-s/min")
	}
	b.ReportMetric(agentCPU.Seconds()*1e6/probes, "agent-µs/probe")
	b.ReportMetric(probes/float64(n)/d.Seconds(), "agent-probes/target/s")
	b.ReportMetric(lost, "agent-lost-probes")
	b.ReportMetric(float64(peak)/1024, "agent-peak-RSS-MiB")
	b.ReportMetric(float64(rss)/1024, "agent-end-RSS-MiB")
	b.ReportMetric(m1["go_memstats_heap_inuse_bytes"]/(1<<20), "agent-end-heap-MiB")
	b.ReportMetric(float64(len(downs)), "false-downs")
	b.ReportMetric(pauses, "pauses")
	b.ReportMetric(m1["goavail_probe_slots_skipped_total"]-m0["goavail_probe_slots_skipped_total"], "skipped-slots")
	b.ReportMetric(m1["goavail_probes_not_sent_total"]-m0["goavail_probes_not_sent_total"], "not-sent-queue-full")
	if len(fp) > 0 {
		b.ReportMetric(perMin(fpingCPU), "fping-cpu-s/min")
		b.ReportMetric(fpingCPU.Seconds()*1e6/float64(fpingSent), "fping-µs/probe")
		b.ReportMetric(float64(fpingSent)/float64(n)/d.Seconds(), "fping-probes/target/s")
		b.ReportMetric(agentCPU.Seconds()/fpingCPU.Seconds(), "agent/fping")
	}
	b.Logf("%d targets, %s: load average %s at the start, %s at the end", n, d, load0, load1)
	for i, l := range downs {
		if i == 5 {
			b.Logf("and %d more false downs", len(downs)-i)
			break
		}
		b.Logf("false down: %s", l)
	}
}

// labDump appends to path what tells where probes went missing: the
// agent's pause lines, and the lab's interface, socket, SNMP and queue
// counters on both sides.
func labDump(b *testing.B, path string, host *netlab.Host, lines []string) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.Errorf("debug dump: %v", err)
		return
	}
	defer f.Close()
	for _, l := range lines {
		fmt.Fprintln(f, l)
	}
	cmds := [][]string{{"ip", "-s", "link"}, {"cat", "/proc/net/raw", "/proc/net/raw6"}, {"nstat", "-az"}, {"tc", "-s", "qdisc"}}
	for _, c := range cmds {
		out, _ := exec.Command(c[0], c[1:]...).CombinedOutput()
		fmt.Fprintf(f, "%v:\n%s\n", c, out)
		if host != nil {
			in := append([]string{"ip", "netns", "exec", host.NS}, c...)
			out, _ := exec.Command(in[0], in[1:]...).CombinedOutput()
			fmt.Fprintf(f, "%v:\n%s\n", in, out)
		}
	}
}

// fetchProfile saves a CPU profile of d from the agent's /debug/pprof/.
func fetchProfile(httpAddr string, d time.Duration, path string) error {
	return fetch(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", httpAddr, int(d.Seconds())), path)
}

// fetch saves what url serves to path.
func fetch(url, path string) error {
	res, err := http.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, res.Body)
	return err
}

// freeAddrTB is freeAddr for benchmarks.
func freeAddrTB(tb testing.TB) string {
	tb.Helper()
	for range 2000 {
		port := 20000 + int(testPorts.Add(1))%12000 // below the ephemeral range; see testPorts
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		addr := ln.Addr().String()
		ln.Close()
		return addr
	}
	tb.Fatal("no free loopback port in 20000-31999")
	return ""
}

// benchDuration is how long each measurement runs: GOAVAIL_BENCH_SECONDS,
// 20 by default (make bench: 60).
func benchDuration() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("GOAVAIL_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 20 * time.Second
}

// fpingXmt reads the probes sent from fping's per-target summary.
var fpingXmt = regexp.MustCompile(`xmt/rcv/%loss = (\d+)/`)
