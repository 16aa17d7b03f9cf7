package monitor

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/netlab"
	"github.com/goavail/goavail/internal/testweb"
)

// webHost is a namespaced host serving the cases the checks must tell
// apart: plain HTTP (switchable), HTTPS with a valid, an expired, a
// wrong-name and a 3-day certificate, a closed port and a blackholed one.
type webHost struct {
	h       *netlab.Host
	handler *testweb.Handler
	ca      *testweb.CA
}

const (
	portHTTP       = 80
	portValid      = 8443
	portExpired    = 8444
	portWrongName  = 8445
	portExpiring3d = 8446
	portClosed     = 9000
	portBlackhole  = 9001
)

func newWebHost(t *testing.T, subnet int) *webHost {
	lab := netlab.New(t, subnet)
	w := &webHost{h: lab.AddHost(), handler: &testweb.Handler{}, ca: testweb.NewCA(t)}
	certs := w.ca.StandardCerts(t, "www.example.com")
	for port, cert := range map[int]*tls.Certificate{portHTTP: nil, portValid: &certs.Valid, portExpired: &certs.Expired,
		portWrongName: &certs.WrongName, portExpiring3d: &certs.Expiring3d, portBlackhole: nil} {
		ln, err := w.h.Listen("tcp", fmt.Sprintf(":%d", port))
		if err != nil {
			t.Fatal(err)
		}
		testweb.Serve(t, ln, cert, w.handler)
	}
	w.h.BlackholePort(portBlackhole, true)
	return w
}

func webCheck(kind string, port int, mod func(*HTTPOptions)) *Check {
	c := &Check{Kind: kind, Key: kind, Port: port, Interval: time.Second, Timeout: 500 * time.Millisecond,
		HTTP: HTTPOptions{Path: "/", Method: "GET", Host: "www.example.com", StatusCodes: [][2]int{{200, 299}}, TLSVerify: true}}
	if mod != nil {
		mod(&c.HTTP)
	}
	return c
}

// TestProbers_RealServers probes real servers in a namespace and checks
// each outcome and the reason it gives, for every failure kind.
func TestProbers_RealServers(t *testing.T) {
	w := newWebHost(t, 110)
	pool := func(o *HTTPOptions) { o.RootCAs = w.ca.Pool }
	for _, tc := range []struct {
		name   string
		check  *Check
		mode   testweb.Mode
		ok     bool
		reason string
		warn   string
	}{
		{"tcp open", &Check{Kind: KindTCP, Port: portHTTP, Timeout: time.Second}, testweb.OK, true, "", ""},
		{"tcp refused", &Check{Kind: KindTCP, Port: portClosed, Timeout: time.Second}, testweb.OK, false, "connect: connection refused", ""},
		{"tcp blackholed", &Check{Kind: KindTCP, Port: portBlackhole, Timeout: 300 * time.Millisecond}, testweb.OK, false, "timeout after 300ms in connect", ""},
		{"http 200", webCheck(KindHTTP, portHTTP, nil), testweb.OK, true, "", ""},
		{"http 503", webCheck(KindHTTP, portHTTP, nil), testweb.Status503, false, "status 503 (Service Unavailable), want 2xx", ""},
		{"http 503 allowed", webCheck(KindHTTP, portHTTP, func(o *HTTPOptions) { o.StatusCodes = [][2]int{{200, 299}, {503, 503}} }), testweb.Status503, true, "", ""},
		{"http body fails the regexp", webCheck(KindHTTP, portHTTP, func(o *HTTPOptions) { o.BodyMustMatch = []*regexp.Regexp{regexp.MustCompile("status: ok")} }),
			testweb.BadBody, false, `status 200, but the body does not match "status: ok"`, ""},
		{"http body matches the bad regexp", webCheck(KindHTTP, portHTTP, func(o *HTTPOptions) { o.BodyMustNotMatch = []*regexp.Regexp{regexp.MustCompile("(?i)error")} }),
			testweb.BadBody, false, `status 200, but the body matches "(?i)error"`, ""},
		{"http first byte timeout", webCheck(KindHTTP, portHTTP, nil), testweb.Stall, false, "timeout after 500ms in first byte", ""},
		{"http refused", webCheck(KindHTTP, portClosed, nil), testweb.OK, false, "connect: connection refused", ""},
		{"https blackholed", webCheck(KindHTTPS, portBlackhole, nil), testweb.OK, false, "timeout after 500ms in connect", ""},
		{"https valid", webCheck(KindHTTPS, portValid, pool), testweb.OK, true, "", ""},
		{"https unknown CA", webCheck(KindHTTPS, portValid, nil), testweb.OK, false, "tls: certificate signed by an unknown authority", ""},
		{"https expired", webCheck(KindHTTPS, portExpired, pool), testweb.OK, false, "tls: certificate expired or not yet valid", ""},
		{"https wrong name", webCheck(KindHTTPS, portWrongName, pool), testweb.OK, false, "tls: certificate is for other.invalid, not www.example.com", ""},
		{"https expired, not verified", webCheck(KindHTTPS, portExpired, func(o *HTTPOptions) { o.TLSVerify = false }), testweb.OK, true, "", ""},
		{"https 3 days left, limit 2: warning", webCheck(KindHTTPS, portExpiring3d, func(o *HTTPOptions) { pool(o); o.MinDaysLeft = 2 }), testweb.OK, true, "",
			"tls: certificate expires in 3.0 days"},
		{"https 3 days left, limit 5: down", webCheck(KindHTTPS, portExpiring3d, func(o *HTTPOptions) { pool(o); o.MinDaysLeft = 5 }), testweb.OK, false,
			"tls: certificate expires in 3.0 days", ""},
		{"https on a plain port", webCheck(KindHTTPS, portHTTP, pool), testweb.OK, false, "tls: the server did not answer with TLS", ""},
		{"https first byte timeout", webCheck(KindHTTPS, portValid, pool), testweb.Stall, false, "timeout after 500ms in first byte", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w.handler.Set(tc.mode)
			ctx, cancel := context.WithTimeout(context.Background(), max(tc.check.Timeout, time.Second))
			defer cancel()
			if tc.check.Timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tc.check.Timeout)
				defer cancel()
			}
			out := NewProber(tc.check).Probe(ctx, w.h.V4)
			if out.OK != tc.ok || !strings.HasPrefix(out.Reason, tc.reason) || (tc.reason == "") != (out.Reason == "") {
				t.Errorf("ok=%t reason=%q, want ok=%t reason starting %q", out.OK, out.Reason, tc.ok, tc.reason)
			}
			if !strings.HasPrefix(out.Warning, tc.warn) || (tc.warn == "") != (out.Warning == "") {
				t.Errorf("warning %q, want one starting %q", out.Warning, tc.warn)
			}
		})
	}
	w.handler.Set(testweb.OK)
	// IPv6 too: the same prober over the host's v6 address.
	if out := NewProber(webCheck(KindHTTPS, portValid, pool)).Probe(context.Background(), w.h.V6); !out.OK {
		t.Errorf("https over IPv6: %s", out.Reason)
	}
}

// TestHTTPProber_FreshConnectionPerProbe: every probe opens its own
// connection, so a server that stops accepting new ones is seen at once.
func TestHTTPProber_FreshConnectionPerProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns atomic.Int32
	counting := &countingListener{Listener: ln, n: &conns}
	testweb.Serve(t, counting, nil, &testweb.Handler{})
	port := ln.Addr().(*net.TCPAddr).Port
	p := NewProber(webCheck(KindHTTP, port, nil))
	for i := 0; i < 5; i++ {
		if out := p.Probe(context.Background(), netip.MustParseAddr("127.0.0.1")); !out.OK {
			t.Fatalf("probe %d: %s", i, out.Reason)
		}
	}
	if n := conns.Load(); n != 5 {
		t.Errorf("%d connections for 5 probes, want 5", n)
	}
}

type countingListener struct {
	net.Listener
	n *atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// TestChecker_SpreadsAndBounds: 200 jobs at one interval start spread over
// it (not in a burst), no more than MaxInFlight probes run at once, and a
// job whose probe is still running skips its turn.
func TestChecker_SpreadsAndBounds(t *testing.T) {
	const n, limit = 200, 16
	var mu sync.Mutex
	var starts []time.Time
	running, peak := 0, 0
	probe := proberFunc(func(ctx context.Context) Outcome {
		mu.Lock()
		starts = append(starts, time.Now())
		running++
		peak = max(peak, running)
		mu.Unlock()
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
		}
		mu.Lock()
		running--
		mu.Unlock()
		return Outcome{OK: true}
	})
	var results atomic.Int32
	c := NewChecker(limit, discardLogger(), func(CheckResult) { results.Add(1) })
	c.newProber = func(*Check) Prober { return probe }
	chk := &Check{Kind: KindTCP, Key: "tcp:1", Interval: time.Second, Timeout: 500 * time.Millisecond}
	var jobs []Job
	for i := range n {
		jobs = append(jobs, Job{Addr: addrN(i), Check: chk})
	}
	before := time.Now()
	c.SetJobs(jobs)
	// The schedule itself: one probe every interval/n, none outside [now, now+interval).
	c.mu.Lock()
	slots := map[time.Duration]bool{}
	for _, j := range c.jobs {
		off := j.next.Sub(before)
		if off < 0 || off >= time.Second+50*time.Millisecond {
			t.Errorf("first probe at +%s, outside the interval", off)
		}
		slots[off.Round(time.Second/n)] = true
	}
	c.mu.Unlock()
	if len(slots) < n*9/10 {
		t.Errorf("%d distinct send slots for %d jobs, want them spread", len(slots), n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for results.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if results.Load() < n {
		t.Fatalf("%d results, want %d", results.Load(), n)
	}
	if peak > limit {
		t.Errorf("%d probes ran at once, limit %d", peak, limit)
	}
	// Spread: the first n starts cover most of the interval, not one instant.
	first := starts[:n]
	if span := first[n-1].Sub(first[0]); span < 300*time.Millisecond { // loose: a busy machine may stall the start
		t.Errorf("first %d probes started within %s; want them spread over the 1s interval", n, span)
	}
}

type proberFunc func(ctx context.Context) Outcome

func (f proberFunc) Probe(ctx context.Context, _ netip.Addr) Outcome { return f(ctx) }

func addrN(i int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}) }

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestHTTPProber_Redirects: a redirect is a 3xx unless follow_redirects is
// set; followed, the next request for the same host goes to the same
// address.
func TestHTTPProber_Redirects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/new", http.StatusFound) })
	mux.Handle("/new", &testweb.Handler{})
	testweb.Serve(t, ln, nil, mux)
	port := ln.Addr().(*net.TCPAddr).Port
	lo := netip.MustParseAddr("127.0.0.1")
	for _, follow := range []bool{false, true} {
		c := webCheck(KindHTTP, port, func(o *HTTPOptions) {
			o.Path, o.FollowRedirects = "/old", follow
			o.BodyMustMatch = []*regexp.Regexp{regexp.MustCompile("status: ok")}
		})
		out := NewProber(c).Probe(context.Background(), lo)
		switch {
		case follow && !out.OK:
			t.Errorf("followed: %s", out.Reason)
		case !follow && out.Reason != "status 302 (Found), want 2xx":
			t.Errorf("not followed: ok=%t %q", out.OK, out.Reason)
		}
	}
}

// TestChecker_ReloadKeepsPhase: a job that stays keeps its next probe time
// across SetJobs (no burst, no gap); a new one is spread over its interval.
func TestChecker_ReloadKeepsPhase(t *testing.T) {
	c := NewChecker(4, discardLogger(), func(CheckResult) {})
	a := &Check{Kind: KindTCP, Key: "tcp:1", Interval: time.Second, Timeout: time.Second}
	b := &Check{Kind: KindTCP, Key: "tcp:2", Interval: time.Second, Timeout: time.Second}
	c.SetJobs([]Job{{addrN(1), a}, {addrN(2), a}, {addrN(3), a}})
	next := func(addr netip.Addr, key string) time.Time {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.index[jobKey{addr, key}].next
	}
	before := []time.Time{next(addrN(1), "tcp:1"), next(addrN(2), "tcp:1"), next(addrN(3), "tcp:1")}
	a2 := *a // a reload builds new checks; the key is what stays
	c.SetJobs([]Job{{addrN(3), &a2}, {addrN(1), &a2}, {addrN(4), b}})
	if got := next(addrN(1), "tcp:1"); !got.Equal(before[0]) {
		t.Errorf("staying job moved from %v to %v", before[0], got)
	}
	if got := next(addrN(3), "tcp:1"); !got.Equal(before[2]) {
		t.Errorf("staying job moved from %v to %v", before[2], got)
	}
	c.mu.Lock()
	_, gone := c.index[jobKey{addrN(2), "tcp:1"}]
	n := len(c.jobs)
	c.mu.Unlock()
	if gone || n != 3 {
		t.Errorf("after reload: removed job still there %t, %d jobs", gone, n)
	}
}

// TestChecker_DropsFailuresOfAPausedAgent: a failed probe that ends far
// past its timeout (the agent was stopped or starved, not the target slow)
// is not reported; one that fails in time is.
func TestChecker_DropsFailuresOfAPausedAgent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sleep  time.Duration // the probe ignores its context this long (a stalled process)
		report bool
	}{
		{"fails in time", 0, true},
		{"fails a little late", 100 * time.Millisecond, true},
		{"fails after a pause", 1500 * time.Millisecond, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := make(chan CheckResult, 1)
			c := NewChecker(4, discardLogger(), func(r CheckResult) { got <- r })
			c.newProber = func(*Check) Prober {
				return proberFunc(func(ctx context.Context) Outcome {
					<-ctx.Done()
					time.Sleep(tc.sleep)
					return Outcome{Reason: "timeout"}
				})
			}
			c.SetJobs([]Job{{addrN(1), &Check{Kind: KindTCP, Key: "tcp:1", Interval: 10 * time.Second, Timeout: 200 * time.Millisecond}}})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- c.Run(ctx) }()
			// The probe ends one way or the other: reported, or counted
			// late and dropped. Wait for that, not for a quiet spell.
			var reported bool
			for deadline := time.Now().Add(20 * time.Second); !reported && c.Late() == 0; {
				select {
				case <-got:
					reported = true
				case <-time.After(5 * time.Millisecond):
					if time.Now().After(deadline) {
						t.Fatal("the probe neither reported nor counted late")
					}
				}
			}
			cancel()
			<-done
			if reported != tc.report || (c.Late() == 1) == tc.report {
				t.Errorf("reported %t (late %d), want reported %t", reported, c.Late(), tc.report)
			}
		})
	}
}

// TestHTTPProber_CancelEndsAProbeAtOnce: a shutdown (ctx cancelled long
// before the probe's timeout) ends a probe waiting for its first byte.
func TestHTTPProber_CancelEndsAProbeAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &testweb.Handler{}
	h.Set(testweb.Stall)
	testweb.Serve(t, ln, nil, h)
	c := webCheck(KindHTTP, ln.Addr().(*net.TCPAddr).Port, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	out := NewProber(c).Probe(ctx, netip.MustParseAddr("127.0.0.1"))
	if took := time.Since(start); out.OK || took > 10*time.Second {
		t.Errorf("ok=%t after %s, want a failure soon after the cancel", out.OK, took)
	}
}
