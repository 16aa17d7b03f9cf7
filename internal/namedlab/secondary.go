package namedlab

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// zoneStatement is the body of the zone statement: a primary with its
// update-policy, transfers allowed and NOTIFY sent only to o.NotifyTo; or,
// with o.Primary, a secondary of it that takes a NOTIFY from anyone.
func zoneStatement(o Options, policy, file string) string {
	if o.Primary != "" {
		return fmt.Sprintf("\ttype secondary;\n\tfile %q;\n\tprimaries { %s; };\n\tallow-notify { any; };\n", file, o.Primary)
	}
	notify := "\tnotify explicit;\n"
	if len(o.NotifyTo) > 0 {
		notify += fmt.Sprintf("\talso-notify { %s; };\n", strings.Join(o.NotifyTo, "; "))
	}
	// The whole journal is kept: it is the chaos suite's commit record (Journal).
	return fmt.Sprintf("\ttype primary;\n\tfile %q;\n\tupdate-policy { %s };\n\tallow-transfer { any; };\n\tmax-journal-size unlimited;\n%s", file, policy, notify)
}

// FreePort finds a port free for TCP and UDP on every one of ips, for a
// primary and a secondary on the same port at different addresses.
func FreePort(t testing.TB, ips ...string) int {
	t.Helper()
	for range 50 {
		port := freePort(t, ips[0])
		ok := true
		for _, ip := range ips[1:] {
			l, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(port)))
			if err != nil {
				ok = false
				break
			}
			u, err := net.ListenPacket("udp", net.JoinHostPort(ip, fmt.Sprint(port)))
			l.Close()
			if err != nil {
				ok = false
				break
			}
			u.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatalf("no port free for both TCP and UDP on all of %v", ips)
	return 0
}

// Notify sends the server a NOTIFY for its zone, as a primary does after a
// change: a secondary then asks its primary for the SOA and transfers the
// zone if it changed.
func (s *Server) Notify(t testing.TB) {
	t.Helper()
	m := new(mdns.Msg)
	m.SetNotify(mdns.Fqdn(s.Zone))
	c := &mdns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, s.Addr)
	if err != nil {
		t.Fatalf("notify %s: %v", s.Addr, err)
	}
	if r.Rcode != mdns.RcodeSuccess {
		t.Fatalf("notify %s: %s", s.Addr, mdns.RcodeToString[r.Rcode])
	}
}
