package rfc2136

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/namedlab"
)

// primaryAndSecondary starts named as the zone's primary on 127.0.0.1 and
// a second named as its secondary on ::1, on the same port; the zone's NS
// set names both (ns1 A 127.0.0.1, ns2 AAAA ::1). With notify the primary
// sends the secondary a NOTIFY at every change.
func primaryAndSecondary(t *testing.T, notify bool) (prim, sec *namedlab.Server, port int) {
	port = namedlab.FreePort(t, "127.0.0.1", "::1")
	o := namedlab.Options{Zone: zone, Records: append(slices.Clone(seed), "@ IN NS ns2", "ns2 IN AAAA ::1"), Port: port}
	if notify {
		o.NotifyTo = []string{fmt.Sprintf("::1 port %d", port)}
	}
	prim = namedlab.Run(t, o)
	sec = namedlab.Run(t, namedlab.Options{Zone: zone, Addr: "::1", Port: port, Primary: fmt.Sprintf("127.0.0.1 port %d", port)})
	return prim, sec, port
}

// removeOne lists www and removes 192.0.2.1 through a fenced write; it
// returns the record removed and when the write was answered.
func removeOne(t *testing.T, p *Provider) (dns.Record, time.Time) {
	t.Helper()
	ctx := context.Background()
	f, err := p.ReadFence(ctx, zone)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := p.Records(ctx, zone, []string{"A"})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(recs, func(r dns.Record) bool { return r.Content == "192.0.2.1" })
	if i < 0 {
		t.Fatalf("listed %v, want 192.0.2.1", recs)
	}
	if _, err := p.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "d"}, nil, []dns.Record{recs[i]}); err != nil {
		t.Fatal(err)
	}
	return recs[i], time.Now()
}

func nsProvider(t *testing.T, s *namedlab.Server, port int) *Provider {
	p := newProvider(t, s, s.Secret)
	p.o.NameServerPort = port
	return p
}

// checker runs a propagation checker on p's nameservers; verified gets
// each change seen on all of them.
func checker(t *testing.T, p *Provider) (c *dns.PropagationChecker, verified chan dns.Propagation) {
	verified = make(chan dns.Propagation, 4)
	var logs bytes.Buffer
	c = dns.NewPropagationChecker(dns.PropagationConfig{NameServers: p.NameServers, Bound: time.Minute, Poll: 10 * time.Millisecond,
		OnVerified: func(pr dns.Propagation) { verified <- pr }, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, verified
}

// TestNameServers_ThePrimaryAndTheNSSet: the propagation check reads back
// from the primary and from every other address of the zone's NS set (the
// primary's own NS address is the primary); a removal counts as seen once
// the secondary serves it too. Logs the time to each.
func TestNameServers_ThePrimaryAndTheNSSet(t *testing.T) {
	prim, sec, port := primaryAndSecondary(t, true)
	p := nsProvider(t, prim, port)
	servers, err := p.NameServers(context.Background(), zone)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{prim.Addr, fmt.Sprintf("[::1]:%d", port)}; !slices.Equal(servers, want) {
		t.Fatalf("nameservers %v, want %v", servers, want)
	}
	c, verified := checker(t, p)
	gone, at := removeOne(t, p)
	c.Applied(zone, nil, []dns.Record{gone}, at)
	// The time to each server, read directly (polling for the change to
	// show, with a deadline): seen is when a query first answered without
	// the address, stale the start of the last query that still had it.
	seen, stale := map[*namedlab.Server]time.Duration{}, map[*namedlab.Server]time.Duration{}
	for deadline := time.Now().Add(20 * time.Second); len(seen) < 2 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		for _, s := range []*namedlab.Server{prim, sec} {
			if _, ok := seen[s]; ok {
				continue
			}
			before := time.Since(at)
			if slices.Contains(s.Lookup(t, "www.example.com", "A"), "192.0.2.1") {
				stale[s] = before
			} else {
				seen[s] = time.Since(at)
			}
		}
	}
	if len(seen) < 2 {
		t.Fatalf("the removal did not reach both servers within 20s: %v", seen)
	}
	select {
	case pr := <-verified:
		if !slices.Equal(pr.NameServers, servers) || pr.Propagation < stale[sec] {
			t.Errorf("verified %+v; want it read from %v, no sooner than the secondary had it (after %s)", pr, servers, stale[sec])
		}
		t.Logf("FIGURE removal (rfc2136, primary + NOTIFY'd secondary): time to primary %s, time to secondary %s, checker's propagation %s",
			seen[prim].Round(time.Microsecond), seen[sec].Round(time.Microsecond), pr.Propagation.Round(time.Microsecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the checker did not verify the removal within 20s")
	}
}

// TestNameServers_ALaggingSecondaryHoldsThePropagation: a secondary that
// has not transferred the change keeps the removal unverified while the
// primary already serves it; the figure includes its lag, from the write
// to the NOTIFY the test sends it.
func TestNameServers_ALaggingSecondaryHoldsThePropagation(t *testing.T) {
	prim, sec, port := primaryAndSecondary(t, false)
	p := nsProvider(t, prim, port)
	c, verified := checker(t, p)
	gone, at := removeOne(t, p)
	c.Applied(zone, nil, []dns.Record{gone}, at)
	// Wait for a round of the checker to settle the change unverified.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		select {
		case pr := <-verified:
			t.Fatalf("verified %+v while the secondary still serves the removed address", pr)
		default:
		}
		if _, waiting := c.Recent(); len(waiting) == 1 && len(waiting[0].NameServers) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the checker did not query within 20s")
		}
	}
	if slices.Contains(prim.Lookup(t, "www.example.com", "A"), "192.0.2.1") || !slices.Contains(sec.Lookup(t, "www.example.com", "A"), "192.0.2.1") {
		t.Fatal("want the primary without the address and the secondary (not notified) still with it")
	}
	notified := time.Since(at)
	sec.Notify(t)
	select {
	case pr := <-verified:
		if pr.Propagation < notified {
			t.Errorf("propagation %s, want at least the secondary's lag %s", pr.Propagation, notified)
		}
		t.Logf("FIGURE lagging secondary: notified %s after the write, propagation %s", notified.Round(time.Microsecond), pr.Propagation.Round(time.Microsecond))
	case <-time.After(20 * time.Second):
		t.Fatal("the checker did not verify the removal within 20s of the NOTIFY")
	}
}
