package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/agent"
	"github.com/goavail/goavail/dns"
)

// TestRenderReasons: goavail status lists every failing check with its
// reason, and every warning, under the targets, and nothing when all pass.
func TestRenderReasons(t *testing.T) {
	doc := agent.StatusDoc{Targets: []agent.TargetDoc{
		{Addr: "192.0.2.1", Checks: []agent.CheckDoc{{Check: "icmp", State: "up"}, {Check: "https:443/", State: "down", Reason: "status 503 (Service Unavailable), want 2xx"}}},
		{Addr: "192.0.2.2", Checks: []agent.CheckDoc{{Check: "tcp:5432", State: "up", Reason: "connect: connection refused"}}},
		{Addr: "192.0.2.3", Checks: []agent.CheckDoc{{Check: "https:443/", State: "up", Warning: "tls: certificate expires in 20.0 days"}}},
	}}
	var b strings.Builder
	renderReasons(&b, doc)
	want := "\nfailing checks, and warnings:\n  192.0.2.1 https:443/ (down): status 503 (Service Unavailable), want 2xx\n  192.0.2.2 tcp:5432 (up): connect: connection refused\n" +
		"  192.0.2.3 https:443/ (up): warning: tls: certificate expires in 20.0 days\n"
	if b.String() != want {
		t.Errorf("got %q\nwant %q", b.String(), want)
	}
	b.Reset()
	renderReasons(&b, agent.StatusDoc{Targets: []agent.TargetDoc{{Addr: "192.0.2.1", Checks: []agent.CheckDoc{{Check: "icmp", State: "up"}}}}})
	if b.String() != "" {
		t.Errorf("all passing, yet %q", b.String())
	}
}

// TestRenderDNS_Golden renders the quarantine and propagation part of
// goavail status and compares it with testdata/status_dns.golden
// (-args -update rewrites it).
func TestRenderDNS_Golden(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	rec := func(name, content string) dns.Record { return dns.Record{Name: name, Type: "A", Content: content} }
	d := &agent.DNSStatus{
		Quarantined: []dns.Quarantined{{Zone: "example.com", Action: dns.ActionCreate, Record: rec("cdn.example.com", "192.0.2.10"), Code: 81053,
			Message: "An A, AAAA, or CNAME record with that host already exists.", Since: at, NextTry: at.Add(dns.QuarantineRetry)}},
		Unverified: []dns.Propagation{{Zone: "example.com", Action: dns.ActionCreate, Record: rec("www.example.com", "192.0.2.11"), AppliedAt: at, Late: true}},
		Propagation: []dns.Propagation{{Zone: "example.com", Action: dns.ActionDelete, Record: rec("www.example.com", "198.51.100.20"), AppliedAt: at,
			SeenAt: at.Add(1200 * time.Millisecond), Propagation: 1200 * time.Millisecond, OutageToDNS: 2500 * time.Millisecond, NameServers: []string{"192.0.2.53:53"}}},
	}
	var got bytes.Buffer
	renderDNS(&got, d)
	const golden = "testdata/status_dns.golden"
	checkGolden(t, golden, got.Bytes())
}
