package monitor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/netlab"
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

// BenchmarkEngineVsFping probes N lab addresses at 1/s with the engine and
// then with fping for the same time, and reports CPU per probe for both,
// their ratio, the engine's peak RSS and any false downs.
func BenchmarkEngineVsFping(b *testing.B) {
	fping, err := exec.LookPath("fping")
	if err != nil {
		b.Fatal("fping is missing: apt-get install -y fping (make bench does)")
	}
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("targets=%d", n), func(b *testing.B) {
			lab := netlab.New(b, 31)
			_, addrs := lab.AddBulk(n)
			d := benchDuration()
			for i := 0; i < b.N; i++ {
				th := Thresholds{Fall: 3, Rise: 1}
				tr := NewTracker(addrs, th, nil)
				var downs int
				tr.notify = func(t Transition) {
					if t.To == Down {
						downs++
					}
				}
				eng, err := NewEngine(EngineConfig{Interval: time.Second, Timeout: time.Second}, slog.New(slog.DiscardHandler), tr.Observe)
				if err != nil {
					b.Fatal(err)
				}
				eng.SetTargets(addrs)
				ctx, cancel := context.WithTimeout(context.Background(), d)
				c0 := cpu(syscall.RUSAGE_SELF)
				eng.Run(ctx)
				engineCPU := cpu(syscall.RUSAGE_SELF) - c0
				cancel()
				probes := float64(n) * d.Seconds()
				up := 0
				for _, s := range tr.States() {
					if s == Up {
						up++
					}
				}

				list := strings.Join(func() []string {
					out := make([]string, len(addrs))
					for i, a := range addrs {
						out[i] = a.String()
					}
					return out
				}(), "\n")
				f0 := cpu(syscall.RUSAGE_CHILDREN)
				cmd := exec.Command(fping, "-l", "-q", "-p", "1000", "-i", "1", "-t", "1000", "-b", "16")
				cmd.Stdin = strings.NewReader(list)
				cmd.Start()
				time.Sleep(d)
				cmd.Process.Signal(syscall.SIGINT)
				cmd.Wait()
				fpingCPU := cpu(syscall.RUSAGE_CHILDREN) - f0

				e, f := engineCPU.Seconds()*1e6/probes, fpingCPU.Seconds()*1e6/probes
				b.ReportMetric(e, "engine-µs/probe")
				b.ReportMetric(f, "fping-µs/probe")
				b.ReportMetric(e/f, "engine/fping")
				b.ReportMetric(float64(maxRSSKiB(syscall.RUSAGE_SELF))/1024, "peak-RSS-MiB")
				b.ReportMetric(float64(downs), "false-downs")
				b.ReportMetric(float64(up)/float64(n), "up-fraction")
			}
		})
	}
}
