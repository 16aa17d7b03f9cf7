package monitor

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/internal/testweb"
)

// rawServer answers every request on a loopback port with whatever
// answer writes on the connection, and returns the port.
func rawServer(t *testing.T, answer func(c net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				answer(c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeString(s string) func(net.Conn) {
	return func(c net.Conn) { c.Write([]byte(s)) }
}

// TestHTTPProber_SkipsInterimResponses: a 1xx before the answer (103
// Early Hints, an unsolicited 100 Continue) is skipped, as RFC 9110
// section 15.2 asks of a client; 101 is an answer; an endless stream of
// 1xx is cut off.
func TestHTTPProber_SkipsInterimResponses(t *testing.T) {
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nstatus: ok"
	hints := "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name, answer, reason string
	}{
		{"103 then 200", hints + ok, ""},
		{"100 then 200", "HTTP/1.1 100 Continue\r\n\r\n" + ok, ""},
		{"100, 103, 103 then 200", "HTTP/1.1 100 Continue\r\n\r\n" + hints + hints + ok, ""},
		{"101 is final", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", "status 101 (Switching Protocols), want 2xx"},
		{"11 interim responses", strings.Repeat(hints, 11) + ok, "first byte: more than 10 interim (1xx) responses"},
	} {
		port := rawServer(t, writeString(tc.answer))
		for _, follow := range []bool{false, true} {
			if follow && tc.name == "11 interim responses" {
				continue // net/http bounds 1xx by their header bytes only
			}
			c := webCheck(KindHTTP, port, func(o *HTTPOptions) { o.FollowRedirects = follow })
			out := NewProber(c).Probe(context.Background(), lo)
			if tc.reason == "" && !out.OK {
				t.Errorf("%s (follow_redirects %t): down: %s", tc.name, follow, out.Reason)
			}
			if tc.reason != "" && (out.OK || out.Reason != tc.reason) {
				t.Errorf("%s (follow_redirects %t): ok=%t %q, want down with %q", tc.name, follow, out.OK, out.Reason, tc.reason)
			}
		}
	}
}

// TestHTTPProber_BoundsResponseHeader: a server sending a 32 MiB header
// line (or many header lines, or many interim responses) fails the probe
// with a reason that says so, and the probe allocates a bounded amount of
// memory, not a copy of what the server sent.
func TestHTTPProber_BoundsResponseHeader(t *testing.T) {
	const huge = 32 << 20
	chunk := []byte(strings.Repeat("a", 64<<10))
	stream := func(prefix string, unit []byte) func(net.Conn) {
		return func(c net.Conn) {
			if _, err := c.Write([]byte(prefix)); err != nil {
				return
			}
			for sent := 0; sent < huge; sent += len(unit) {
				if _, err := c.Write(unit); err != nil {
					return // the prober gave up
				}
			}
		}
	}
	lines := []byte(strings.Repeat("X-Filler: 0123456789abcdef0123456789abcdef\r\n", 1024))
	hints := []byte(strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", 8)) // 8 per write: under the count bound
	lo := netip.MustParseAddr("127.0.0.1")
	const reason = "response header too large: over 64 KiB of status line and headers"
	for _, tc := range []struct {
		name   string
		answer func(net.Conn)
		follow []bool
	}{
		{"one 32 MiB header line", stream("HTTP/1.1 200 OK\r\nX-Huge: ", chunk), []bool{false, true}},
		{"32 MiB of header lines", stream("HTTP/1.1 200 OK\r\n", lines), []bool{false, true}},
		{"a 32 MiB status line", stream("HTTP/1.1 200 ", chunk), []bool{false, true}},
		{"interim responses with 64 KiB of headers", func(c net.Conn) {
			c.Write([]byte("HTTP/1.1 103 Early Hints\r\nX-Big: " + strings.Repeat("b", 40<<10) + "\r\n\r\n"))
			c.Write([]byte("HTTP/1.1 103 Early Hints\r\nX-Big: " + strings.Repeat("b", 40<<10) + "\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
		}, []bool{false, true}},
		{"only interim responses", stream("", hints), []bool{false}},
	} {
		port := rawServer(t, tc.answer)
		for _, follow := range tc.follow {
			c := webCheck(KindHTTP, port, func(o *HTTPOptions) { o.FollowRedirects = follow })
			c.Timeout = 30 * time.Second // only the bound may end the probe
			p := NewProber(c)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			out := p.Probe(context.Background(), lo)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s (follow_redirects %t): %q, %d KiB allocated", tc.name, follow, out.Reason, alloc>>10)
			want := reason
			if tc.name == "only interim responses" {
				want = "first byte: more than 10 interim (1xx) responses"
			}
			if out.OK || out.Reason != want {
				t.Errorf("%s (follow_redirects %t): ok=%t %q, want down with %q", tc.name, follow, out.OK, out.Reason, want)
			}
			// 32 MiB sent; a probe that kept it would allocate far more.
			// The bound is 64 KiB; the rest is buffers, the transport and
			// the race detector's bookkeeping.
			if alloc > 4<<20 {
				t.Errorf("%s (follow_redirects %t): the probe allocated %d KiB, want under 4 MiB", tc.name, follow, alloc>>10)
			}
		}
	}
}

// TestHTTPProber_ExpiryOfTheServedChain: tls_min_days_left reads the
// certificates the server sent, as blackbox_exporter does, not the root
// the agent trusts locally: a private root 3 days from its end does not
// fail every target (its owner renews it; the servers cannot), while a
// served intermediate or leaf that close to its end still does.
func TestHTTPProber_ExpiryOfTheServedChain(t *testing.T) {
	now := time.Now()
	day := 24 * time.Hour
	root := testweb.NewCAUntil(t, now.Add(3*day))
	leaf := root.Cert(t, "www.example.com", now.Add(-day), now.Add(365*day))
	longRoot := testweb.NewCA(t)
	inter := longRoot.Intermediate(t, now.Add(3*day))
	leafUnderInter := inter.Cert(t, "www.example.com", now.Add(-day), now.Add(365*day))
	leafUnderInter.Certificate = append(leafUnderInter.Certificate, inter.Chain())
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		name   string
		root   *testweb.CA
		cert   tls.Certificate
		reason string
	}{
		{"root 3 days from its end, leaf a year", root, leaf, ""},
		{"served intermediate 3 days from its end", longRoot, leafUnderInter, "tls: certificate expires in 3.0 days"},
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cert := tc.cert
		testweb.Serve(t, ln, &cert, &testweb.Handler{})
		for _, follow := range []bool{false, true} {
			c := webCheck(KindHTTPS, ln.Addr().(*net.TCPAddr).Port, func(o *HTTPOptions) {
				o.RootCAs, o.MinDaysLeft, o.FollowRedirects = tc.root.Pool, 5, follow
			})
			out := NewProber(c).Probe(context.Background(), lo)
			if tc.reason == "" && !out.OK {
				t.Errorf("%s (follow_redirects %t): down: %s", tc.name, follow, out.Reason)
			}
			if tc.reason != "" && (out.OK || !strings.HasPrefix(out.Reason, tc.reason)) {
				t.Errorf("%s (follow_redirects %t): ok=%t %q, want down with %q", tc.name, follow, out.OK, out.Reason, tc.reason)
			}
		}
	}
}
