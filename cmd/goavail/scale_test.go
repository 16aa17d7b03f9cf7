package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Helpers for the tests and benchmarks that run the real binary at scale:
// the whole-agent benchmark, the pause test and the soak.

// plainBinary is goavail built without -race, once per test process, for
// measuring what users run.
var plainBinary struct {
	once      sync.Once
	dir, path string
	out       []byte
	err       error
}

func buildPlain(tb testing.TB) string {
	tb.Helper()
	plainBinary.once.Do(func() {
		if plainBinary.dir, plainBinary.err = os.MkdirTemp("", "goavail-bench-"); plainBinary.err != nil {
			return
		}
		plainBinary.path = filepath.Join(plainBinary.dir, "goavail")
		plainBinary.out, plainBinary.err = exec.Command("go", "build", "-o", plainBinary.path, ".").CombinedOutput()
	})
	if plainBinary.err != nil {
		tb.Fatalf("build: %v\n%s", plainBinary.err, plainBinary.out)
	}
	return plainBinary.path
}

// scaleConfig watches addrs in dry-run, ten addresses per hostname, with
// the HTTP listener on httpAddr; extra is appended (e.g. a [Members] block).
func scaleConfig(httpAddr string, addrs []netip.Addr, interval, timeout time.Duration, fall, rise int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "http_listen = %q\nfailure_threshold = %d\nrise_threshold = %d\ninterval = %q\nprobe_timeout = %q\nreconcile_period = \"60s\"\n",
		httpAddr, fall, rise, interval.String(), timeout.String())
	b.WriteString(extra)
	for i := 0; i < len(addrs); i += 10 {
		fmt.Fprintf(&b, "\n[[Records]]\ndns_domain = \"example.com\"\nhostnames = [\"h%d\"]\nttl = 60\nip_addresses = [", i/10)
		for j, a := range addrs[i:min(i+10, len(addrs))] {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", a.String())
		}
		b.WriteString("]\n")
	}
	return b.String()
}

// lineLog keeps an agent's log lines that matter at scale (a 100,000-target
// start logs 100,000 transitions) and counts its transitions.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	ups     int
	downs   []string
	kept    []string // the latest lines that are neither an up transition nor an agreement
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		switch {
		case strings.Contains(line, "target state changed") && strings.Contains(line, " to=up"):
			l.ups++
			continue
		case strings.Contains(line, "target state changed") && strings.Contains(line, " to=down"):
			l.downs = append(l.downs, line)
		case strings.Contains(line, `msg=agreed`):
			continue // one per target at the start
		}
		if len(l.kept) >= 8000 { // keep the latest 4,000 to 8,000
			l.kept = append(l.kept[:0], l.kept[4000:]...)
		}
		l.kept = append(l.kept, line)
	}
	return len(p), nil
}

func (l *lineLog) counts() (ups int, downs []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ups, append([]string(nil), l.downs...)
}

// matching returns the kept lines that contain s.
func (l *lineLog) matching(s string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.kept {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return out
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := l.kept
	if len(k) > 200 {
		k = k[len(k)-200:]
	}
	return fmt.Sprintf("(%d up transitions not shown)\n%s", l.ups, strings.Join(k, "\n"))
}

// scaleAgent is a running goavail monitor.
type scaleAgent struct {
	cmd  *exec.Cmd
	logs *lineLog
	http string
}

// runScaleAgent writes config and starts bin monitor with args.
func runScaleAgent(tb testing.TB, bin, config, httpAddr string, args ...string) *scaleAgent {
	return runScaleAgentEnv(tb, bin, config, httpAddr, nil, args...)
}

// runScaleAgentEnv is runScaleAgent with extra environment variables.
func runScaleAgentEnv(tb testing.TB, bin, config, httpAddr string, env []string, args ...string) *scaleAgent {
	tb.Helper()
	cfg := filepath.Join(tb.TempDir(), "goavail.toml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	a := &scaleAgent{logs: &lineLog{}, http: httpAddr}
	a.cmd = exec.Command(bin, append([]string{"monitor", "--config-file", cfg}, args...)...)
	a.cmd.Env = append(os.Environ(), env...)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	if err := a.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.cmd.Process.Kill(); a.cmd.Wait() })
	return a
}

// waitUp waits until the agent has seen every one of n targets up.
func (a *scaleAgent) waitUp(tb testing.TB, n int, patience time.Duration) {
	tb.Helper()
	for deadline := time.Now().Add(patience); ; time.Sleep(100 * time.Millisecond) {
		ups, downs := a.logs.counts()
		if ups >= n {
			return
		}
		if time.Now().After(deadline) || a.cmd.ProcessState != nil {
			tb.Fatalf("warm-up: %d of %d targets up, %d down\n%s", ups, n, len(downs), a.logs)
		}
	}
}

// stop sends SIGTERM and waits for the agent to exit.
func (a *scaleAgent) stop(tb testing.TB) {
	tb.Helper()
	a.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- a.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			tb.Errorf("goavail exited with %v\n%s", err, a.logs)
		}
	case <-time.After(30 * time.Second):
		tb.Errorf("goavail did not stop on SIGTERM\n%s", a.logs)
	}
}

// metrics scrapes /metrics and returns each metric name's sum over its
// labels, and each series by its name with labels as exposed
// (goavail_probes_total{result="lost"}).
func (a *scaleAgent) metrics(tb testing.TB) map[string]float64 {
	tb.Helper()
	res, err := http.Get("http://" + a.http + "/metrics")
	if err != nil {
		tb.Fatalf("scrape: %v", err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			name = name[:j]
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[name] += v
			if name != line[:i] {
				out[line[:i]] = v
			}
		}
	}
	io.Copy(io.Discard, res.Body)
	return out
}

// procCPU is the user+system CPU a process has used so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:])) // after "pid (comm) "
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// procStatusKiB reads a "Vm..." line (VmRSS, VmHWM) of /proc/pid/status.
func procStatusKiB(pid int, field string) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// loadAvg is the 1-minute load average, to report with the figures.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
