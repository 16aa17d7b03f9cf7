package monitor

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/netlab"
	"github.com/goavail/goavail/internal/testweb"
)

// serveEnv makes the test binary a web server (see TestMain): the
// benchmark runs its servers in another process, inside the lab's
// namespace, so that their CPU is not counted as the checker's.
const serveEnv = "GOAVAIL_CHECKS_BENCH_SERVE"

// TestMain runs the tests, or with serveEnv set serves HTTP on :80 and
// HTTPS on :443 with the certificate in that directory until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv(serveEnv); dir != "" {
		os.Exit(serveForBench(dir))
	}
	os.Exit(m.Run())
}

func serveForBench(dir string) int {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("status: ok")) })
	for _, port := range []string{":80", ":443"} {
		ln, err := net.Listen("tcp", port)
		if err != nil {
			fmt.Println(err)
			return 1
		}
		if port == ":443" {
			ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})
		}
		go (&http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}).Serve(ln)
	}
	fmt.Println("ready")
	select {}
}

func checksBenchSeconds() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("GOAVAIL_BENCH_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 10 * time.Second
}

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(who, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// statusKiB reads a VmRSS or VmHWM line of /proc/self/status.
func statusKiB(field string) int {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

type benchRow struct {
	name             string
	probes, failures int64
	perProbe         time.Duration
	peakRSSMiB       float64
	downs            int
	reasons          map[string]int // failures by reason (the first 5 kinds)
}

func (r *benchRow) fail(reason string) {
	r.failures++
	if r.reasons == nil {
		r.reasons = map[string]int{}
	}
	if _, ok := r.reasons[reason]; ok || len(r.reasons) < 5 {
		r.reasons[reason]++
	}
}

// BenchmarkChecks measures the Checker against real servers in a
// namespace (another process): 1,000 TCP checks per second, 1,000 HTTPS
// checks per second, and 10,000 mixed checks (tcp, http, https) every
// 10 s, each for GOAVAIL_BENCH_SECONDS (10 s minimum). Beside them, on the
// same targets at the same rate: a Go loop that only dials (the floor), one
// that dials and does the TLS handshake, and curl once per probe. It
// reports CPU per probe, peak RSS (reset before each run), failed probes
// and downs (fall 3), and the machine's load.
func BenchmarkChecks(b *testing.B) {
	netlab.RequireRoot(b)
	d := max(checksBenchSeconds(), 10*time.Second)
	lab := netlab.New(b, 114)
	host, addrs := lab.AddBulk(10000)
	ca := testweb.NewCA(b)
	dir := b.TempDir()
	writeKeyPair(b, dir, ca, ca.Cert(b, "www.example.com", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour)))
	srv := exec.Command("ip", "netns", "exec", host.NS, os.Args[0], "-test.run=^$")
	srv.Env = append(os.Environ(), serveEnv+"="+dir)
	out, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	if line, _ := bufio.NewReader(out).ReadString('\n'); strings.TrimSpace(line) != "ready" {
		b.Fatalf("bench server: %q", line)
	}

	mk := func(kind string, port int, interval time.Duration) *Check {
		return &Check{Kind: kind, Key: kind, Port: port, Interval: interval, Timeout: time.Second, Thresholds: Thresholds{Fall: 3, Rise: 1},
			HTTP: HTTPOptions{Path: "/", Method: "GET", Host: "www.example.com", StatusCodes: [][2]int{{200, 299}}, TLSVerify: true, RootCAs: ca.Pool}}
	}
	load0 := loadavg()
	var rows []benchRow
	run := func(name string, f func() benchRow) {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r := f()
				r.name = name
				b.ReportMetric(float64(r.perProbe.Nanoseconds())/1e3, "µs-cpu/probe")
				rows = append(rows, r)
			}
		})
	}
	tcp, https := mk(KindTCP, 80, time.Second), mk(KindHTTPS, 443, time.Second)
	run("checker_tcp_1000/s", func() benchRow { return runChecker(b, jobsFor(addrs[:1000], tcp), d) })
	run("dial_only_1000/s", func() benchRow {
		return runLoop(b, addrs[:1000], d, func(ctx context.Context, a netip.Addr) string {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", netip.AddrPortFrom(a, 80).String())
			if err != nil {
				return err.Error()
			}
			c.Close()
			return ""
		})
	})
	run("checker_https_1000/s", func() benchRow { return runChecker(b, jobsFor(addrs[:1000], https), d) })
	tlsConf := checkTLSConfig(https.HTTP) // the same handshake as the checker's
	tlsConf.ServerName = "www.example.com"
	run("dial_tls_handshake_1000/s", func() benchRow {
		return runLoop(b, addrs[:1000], d, func(ctx context.Context, a netip.Addr) string {
			c, err := (&tls.Dialer{Config: tlsConf}).DialContext(ctx, "tcp", netip.AddrPortFrom(a, 443).String())
			if err != nil {
				return err.Error()
			}
			c.Close()
			return ""
		})
	})
	run("checker_mixed_10000/10s", func() benchRow {
		var mixed []Job
		kinds := []*Check{mk(KindTCP, 80, 10*time.Second), mk(KindHTTP, 80, 10*time.Second), mk(KindHTTPS, 443, 10*time.Second)}
		for j, a := range addrs {
			mixed = append(mixed, Job{Addr: a, Check: kinds[j%3]})
		}
		return runChecker(b, mixed, d)
	})
	run("curl_https_per_process", func() benchRow { return runCurl(b, addrs[:200], filepath.Join(dir, "ca.pem")) })
	// One at a time, the same three again: no timeouts, no queueing, so the
	// ratios hold on a busy machine too.
	serial := func(n int, probe func(context.Context, netip.Addr) string) benchRow {
		var row benchRow
		cpu0 := rusage(syscall.RUSAGE_SELF)
		for i := range n {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			row.probes++
			if why := probe(ctx, addrs[i%len(addrs)]); why != "" {
				row.fail(why)
			}
			cancel()
		}
		row.perProbe = (rusage(syscall.RUSAGE_SELF) - cpu0) / time.Duration(n)
		return row
	}
	dialOnly := func(ctx context.Context, a netip.Addr) string {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", netip.AddrPortFrom(a, 80).String())
		if err != nil {
			return err.Error()
		}
		c.Close()
		return ""
	}
	run("serial_dial_only", func() benchRow { return serial(3000, dialOnly) })
	run("serial_dial_tls_handshake", func() benchRow {
		return serial(3000, func(ctx context.Context, a netip.Addr) string {
			c, err := (&tls.Dialer{Config: tlsConf}).DialContext(ctx, "tcp", netip.AddrPortFrom(a, 443).String())
			if err != nil {
				return err.Error()
			}
			c.Close()
			return ""
		})
	})
	httpsProber := NewProber(https)
	run("serial_checker_https_probe", func() benchRow {
		return serial(3000, func(ctx context.Context, a netip.Addr) string { return httpsProber.Probe(ctx, a).Reason })
	})
	load1 := loadavg()
	var tbl strings.Builder
	fmt.Fprintf(&tbl, "\nload average before %s, after %s (2 cores, shared)\n", load0, load1)
	fmt.Fprintf(&tbl, "| run | probes | failed | downs | CPU per probe | peak RSS |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&tbl, "| %s | %d | %d | %d | %s | %.1f MiB |\n", r.name, r.probes, r.failures, r.downs, r.perProbe.Round(100*time.Nanosecond), r.peakRSSMiB)
	}
	for _, r := range rows {
		if len(r.reasons) > 0 {
			fmt.Fprintf(&tbl, "%s failures: %v\n", r.name, r.reasons)
		}
	}
	per := map[string]time.Duration{}
	for _, r := range rows {
		per[r.name] = r.perProbe
	}
	if d, h, c := per["serial_dial_only"], per["serial_dial_tls_handshake"], per["serial_checker_https_probe"]; d > 0 && h > 0 {
		fmt.Fprintf(&tbl, "one at a time: https probe / dial+handshake: %.2fx; https probe / (1.5 x dial-only + handshake) = %.2f (goal <= 1)\n",
			float64(c)/float64(h), float64(c)/float64(d*3/2+(h-d)))
	}
	dial, hs, httpsCPU := per["dial_only_1000/s"], per["dial_tls_handshake_1000/s"], per["checker_https_1000/s"]
	if dial > 0 && hs > 0 {
		budget := dial*3/2 + (hs - dial)
		fmt.Fprintf(&tbl, "tcp check / dial-only floor: %.2fx; https check / dial+handshake loop: %.2fx; https check / (1.5 x floor + handshake) = %.2f (goal <= 1)\n",
			float64(per["checker_tcp_1000/s"])/float64(dial), float64(httpsCPU)/float64(hs), float64(httpsCPU)/float64(budget))
	}
	fmt.Print(tbl.String()) // the report, whatever -v says
	for _, r := range rows {
		if r.downs > 0 {
			b.Errorf("%s: %d false downs", r.name, r.downs)
		}
	}
}

func jobsFor(addrs []netip.Addr, c *Check) []Job {
	jobs := make([]Job, len(addrs))
	for i, a := range addrs {
		jobs[i] = Job{Addr: a, Check: c}
	}
	return jobs
}

// resetPeakRSS makes VmHWM start again from the current RSS.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// runChecker runs the Checker on jobs for d and counts its probes and
// failures, and the downs a Health with fall 3 would report.
func runChecker(b *testing.B, jobs []Job, d time.Duration) benchRow {
	var probes atomic.Int64
	var mu sync.Mutex
	var row benchRow
	var downs atomic.Int32
	h := NewHealth(func(t Transition) {
		if t.To == Down {
			downs.Add(1)
		}
	}, nil)
	targets := map[netip.Addr]AddrChecks{}
	for _, j := range jobs {
		targets[j.Addr] = AddrChecks{Checks: []*Check{j.Check}}
	}
	h.SetTargets(targets, time.Now())
	c := NewChecker(0, discardLogger(), func(r CheckResult) {
		probes.Add(1)
		if !r.Result.OK {
			mu.Lock()
			row.fail(r.Result.Err)
			mu.Unlock()
		}
		h.Observe(r.Check.Key, r.Result)
	})
	c.SetJobs(jobs)
	resetPeakRSS()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cpu0 := rusage(syscall.RUSAGE_SELF)
	c.Run(ctx)
	used := rusage(syscall.RUSAGE_SELF) - cpu0
	c.wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	row.probes, row.downs = probes.Load(), int(downs.Load())
	row.perProbe, row.peakRSSMiB = used/time.Duration(max(row.probes, 1)), float64(statusKiB("VmHWM"))/1024
	return row
}

// runLoop calls probe for every address once a second, spread over the
// second as the Checker does, for d: the anchor for what the work itself costs.
func runLoop(b *testing.B, addrs []netip.Addr, d time.Duration, probe func(context.Context, netip.Addr) string) benchRow {
	var probes atomic.Int64
	var mu sync.Mutex
	var row benchRow
	resetPeakRSS()
	cpu0 := rusage(syscall.RUSAGE_SELF)
	var wg sync.WaitGroup
	start := time.Now()
	step := time.Second / time.Duration(len(addrs))
	for i := 0; time.Since(start) < d; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * step)); wait > 0 {
			time.Sleep(wait)
		}
		a := addrs[i%len(addrs)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			probes.Add(1)
			if why := probe(ctx, a); why != "" {
				mu.Lock()
				row.fail(why)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	used := rusage(syscall.RUSAGE_SELF) - cpu0
	row.probes = probes.Load()
	row.perProbe, row.peakRSSMiB = used/time.Duration(max(row.probes, 1)), float64(statusKiB("VmHWM"))/1024
	return row
}

// runCurl runs curl once per address (HTTPS, a new process each time, as
// a shell-script checker would), and counts its CPU.
func runCurl(b *testing.B, addrs []netip.Addr, caFile string) benchRow {
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Log("curl is missing: apt-get install -y curl; its row is left out")
		return benchRow{}
	}
	var row benchRow
	cpu0 := rusage(syscall.RUSAGE_CHILDREN)
	for _, a := range addrs {
		cmd := exec.Command(curl, "-sf", "-o", "/dev/null", "--max-time", "2", "--cacert", caFile,
			"--resolve", "www.example.com:443:"+a.String(), "https://www.example.com/")
		row.probes++
		if out, err := cmd.CombinedOutput(); err != nil {
			row.fail(strings.TrimSpace(err.Error() + " " + string(out)))
		}
	}
	row.perProbe = (rusage(syscall.RUSAGE_CHILDREN) - cpu0) / time.Duration(max(row.probes, 1))
	return row
}

// writeKeyPair writes the server's certificate and key, and the CA for curl.
func writeKeyPair(b *testing.B, dir string, ca *testweb.CA, cert tls.Certificate) {
	key, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), ca.PEM, 0o600)
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key}), 0o600)
}
