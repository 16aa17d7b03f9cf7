package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/netlab"
	probing "github.com/prometheus-community/pro-bing"
)

// benchDuration is how long each side probes: GOAVAIL_BENCH_SECONDS, 20 by default.
func benchDuration() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("GOAVAIL_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 20 * time.Second
}

func cpu(who int) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxRSSKiB(who int) int64 {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return ru.Maxrss
}

// BenchmarkEngineVsFping probes N lab addresses at 1/s with the engine,
// then (at 1,000 targets) with one pro-bing Pinger per address, then with
// fping, each for the same time. It reports CPU per probe for each, counted
// from the probes each actually sent, the ratios to fping, the engine's
// peak RSS and any false downs. fping spreads its sends over the interval
// as the engine does; its send rate is measured, not assumed. The lab host
// answers in a kernel thread of its own (netlab's RemoteWork), so each
// prober pays for its own work only; GOAVAIL_BENCH_INLINE_LAB=1 charges the
// lab's work to whoever sends, as before.
func BenchmarkEngineVsFping(b *testing.B) {
	fping, err := exec.LookPath("fping")
	if err != nil {
		b.Fatal("fping is missing: apt-get install -y fping (make bench does)")
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			lab := netlab.New(b, 31)
			host, addrs := lab.AddBulk(n)
			if os.Getenv("GOAVAIL_BENCH_INLINE_LAB") == "" {
				host.RemoteWork() // the lab answers in its own thread, as a remote host would
			}
			d := benchDuration()
			for i := 0; i < b.N; i++ {
				e, downs, up := engineRun(b, addrs, d)
				f := fpingRun(b, fping, addrs, d)
				b.ReportMetric(e, "engine-µs/probe")
				b.ReportMetric(f, "fping-µs/probe")
				b.ReportMetric(e/f, "engine/fping")
				if n <= 1000 {
					p := probingRun(b, addrs, d)
					b.ReportMetric(p, "probing-µs/probe")
					b.ReportMetric(p/f, "probing/fping")
				}
				b.ReportMetric(float64(maxRSSKiB(syscall.RUSAGE_SELF))/1024, "peak-RSS-MiB")
				b.ReportMetric(float64(downs), "false-downs")
				b.ReportMetric(up, "up-fraction")
			}
		})
	}
}

// engineRun probes addrs with the engine for d and returns its CPU per
// probe sent, the down transitions and the fraction of addresses up.
func engineRun(b *testing.B, addrs []netip.Addr, d time.Duration) (float64, int, float64) {
	th := Thresholds{Fall: 3, Rise: 1}
	var downs, probes atomic.Int64
	tr := newICMPHealth(addrs, th, func(t Transition) {
		if t.To == Down {
			downs.Add(1)
		}
	})
	eng, err := NewEngine(EngineConfig{Interval: time.Second, Timeout: time.Second}, slog.New(slog.DiscardHandler), func(r Result) {
		probes.Add(1)
		tr.ObserveICMP(r)
	})
	if err != nil {
		b.Fatal(err)
	}
	eng.SetTargets(addrs)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	c0 := cpu(syscall.RUSAGE_SELF)
	eng.Run(ctx)
	used := cpu(syscall.RUSAGE_SELF) - c0
	up := 0
	for _, s := range tr.States() {
		if s == Up {
			up++
		}
	}
	return used.Seconds() * 1e6 / float64(probes.Load()), int(downs.Load()), float64(up) / float64(len(addrs))
}

// probingRun drives pro-bing the way its API allows for many targets: one
// continuous Pinger per address, raw sockets (as root), 1 s interval.
func probingRun(b *testing.B, addrs []netip.Addr, d time.Duration) float64 {
	var sent atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	c0 := cpu(syscall.RUSAGE_SELF)
	for _, a := range addrs {
		p, err := probing.NewPinger(a.String())
		if err != nil {
			b.Fatal(err)
		}
		p.SetPrivileged(true)
		p.Interval, p.Timeout, p.RecordRtts = time.Second, 24*time.Hour, false
		p.OnSend = func(*probing.Packet) { sent.Add(1) }
		wg.Add(1)
		go func() { defer wg.Done(); p.RunWithContext(ctx) }()
	}
	wg.Wait()
	used := cpu(syscall.RUSAGE_SELF) - c0
	return used.Seconds() * 1e6 / float64(sent.Load())
}

var fpingXmt = regexp.MustCompile(`xmt/rcv/%loss = (\d+)/`)

// fpingChunk is the most targets one fping process takes: fping 5.1 keeps
// a sequence number per probe for 10 s and has 65,535 of them, so at 1/s
// one process cannot loop over 10,000 targets.
const fpingChunk = 5000

// fpingRun loops fping over addrs for d, spreading each process's sends
// evenly over the interval as the engine does (-i 1000/n ms), and returns
// its CPU per probe sent, counted from fping's own per-target summary.
func fpingRun(b *testing.B, fping string, addrs []netip.Addr, d time.Duration) float64 {
	type proc struct {
		cmd     *exec.Cmd
		summary *strings.Builder
	}
	var procs []proc
	f0 := cpu(syscall.RUSAGE_CHILDREN)
	for start := 0; start < len(addrs); start += fpingChunk {
		chunk := addrs[start:min(start+fpingChunk, len(addrs))]
		list := make([]string, len(chunk))
		for i, a := range chunk {
			list[i] = a.String()
		}
		gap := strconv.FormatFloat(1000/float64(len(chunk)), 'f', 3, 64)
		p := proc{exec.Command(fping, "-l", "-q", "-p", "1000", "-i", gap, "-t", "1000", "-b", "16"), &strings.Builder{}}
		p.cmd.Stdin = strings.NewReader(strings.Join(list, "\n"))
		p.cmd.Stderr = p.summary
		if err := p.cmd.Start(); err != nil {
			b.Fatal(err)
		}
		procs = append(procs, p)
	}
	time.Sleep(d)
	var sent int
	for _, p := range procs {
		p.cmd.Process.Signal(syscall.SIGINT)
		p.cmd.Wait()
		for _, m := range fpingXmt.FindAllStringSubmatch(p.summary.String(), -1) {
			n, _ := strconv.Atoi(m[1])
			sent += n
		}
		if !strings.Contains(p.summary.String(), "xmt/rcv") {
			b.Fatalf("fping reported no probes: %.500s", p.summary.String())
		}
	}
	used := cpu(syscall.RUSAGE_CHILDREN) - f0
	b.ReportMetric(float64(sent)/float64(len(addrs))/d.Seconds(), "fping-probes/target/s")
	return used.Seconds() * 1e6 / float64(sent)
}
