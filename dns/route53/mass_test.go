package route53

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/r53emu"
)

// TestReconciler_MassEvent is the mass event against the emulator
// through the dns core: 100 addresses × 50 hostnames in one zone, each
// hostname a weighted set of 100 values as the original goavail left it;
// half the addresses go down and one pass removes them. It counts the
// requests and checks the zone afterwards.
func TestReconciler_MassEvent(t *testing.T) {
	const hosts, addrs = 50, 100
	var names, values []string
	var all []netip.Addr
	for a := range addrs {
		ip := netip.AddrFrom4([4]byte{198, 18, byte(a / 250), byte(a%250 + 1)})
		all = append(all, ip)
		values = append(values, ip.String())
	}
	l := newLab(t, labOpts{names: []string{"none"}})
	for h := range hosts {
		n := fmt.Sprintf("h%d.example.com", h)
		names = append(names, n)
		l.emu.Seed(zone, set(n, "A", fmt.Sprintf("h%d", h), i64(0), 300, values...))
	}
	p := l.provider(t, labOpts{names: names, weighted: true})
	health := dns.Health{}
	for i, a := range all {
		health[a] = i%2 == 0
	}
	var logs bytes.Buffer
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Health: func() dns.Health { return health }, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	r.SetGroups([]dns.Group{{Zone: zone, Hostnames: names, Addrs: all, TTL: 300}}, time.Minute)
	l.emu.ResetRequests()
	start := time.Now()
	rep := r.Pass(context.Background())
	took := time.Since(start)
	if rep.Err != nil {
		t.Fatalf("pass: %v\n%s", rep.Err, logs.String())
	}
	if n := len(rep.Plans[0].Deletes); n != hosts*addrs/2 {
		t.Fatalf("%d deletes planned, want %d", n, hosts*addrs/2)
	}
	for _, s := range l.emu.Sets(zone) {
		if s.Type == "A" && (len(s.Values) != addrs/2 || s.SetIdentifier == "" || s.Weight == nil) {
			t.Fatalf("after the pass %s has %d values (identifier %q), want %d in its weighted set", s.Name, len(s.Values), s.SetIdentifier, addrs/2)
		}
	}
	byOp := map[string]int{}
	for _, q := range l.emu.Requests() {
		byOp[q.Method]++
	}
	// The core sends the 2500 deletes in 3 calls of at most BatchSize
	// (1000, 1000, 500: 20, 20 and 10 sets). Each set rewritten is a
	// DELETE of 100 values and a CREATE of 50: 150 of Route 53's 1000
	// records a batch, so 6 sets a batch: 4 + 4 + 2 change batches.
	if byOp["POST"] != 10 || byOp["GET"] != 3 {
		t.Errorf("%d change batches and %d GETs, want 10 and 3", byOp["POST"], byOp["GET"])
	}
	t.Logf("FIGURE mass event (100 addresses x 50 hostnames, weighted sets, half down, route53 against r53emu): %d requests (%d GET: zone look-up, fence, listings; %d change batches), pass %s",
		byOp["GET"]+byOp["POST"], byOp["GET"], byOp["POST"], took.Round(time.Millisecond))
}

// TestReconciler_ThrottledThenRetried: a change batch answered Throttling
// fails the pass as rate limited (the SDK does not retry it), nothing
// written; the next pass lands the change.
func TestReconciler_ThrottledThenRetried(t *testing.T) {
	l := newLab(t, labOpts{names: []string{"www.example.com"}})
	seedMigrated(l.emu)
	all := []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("198.18.0.3")}
	health := dns.Health{all[0]: false, all[1]: true, all[2]: true}
	var logs bytes.Buffer
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: l.p, Health: func() dns.Health { return health }, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	r.SetGroups([]dns.Group{{Zone: zone, Hostnames: []string{"www.example.com"}, Addrs: all, TTL: 120}}, time.Minute)
	l.emu.Inject(r53emu.Fault{Method: "POST", Status: 400, Code: "Throttling"})
	v := l.emu.Version(zone)
	rep := r.Pass(context.Background())
	var ra *dns.RetryAfterError
	if !errors.As(rep.Err, &ra) || l.emu.Version(zone) != v {
		t.Fatalf("throttled pass: %v (zone version %d -> %d), want a rate-limited error and nothing written", rep.Err, v, l.emu.Version(zone))
	}
	if rep := r.Pass(context.Background()); rep.Err != nil {
		t.Fatalf("next pass: %v\n%s", rep.Err, logs.String())
	}
	if got := find(l.emu.Sets(zone), "www.example.com", "A"); len(got) != 1 || len(got[0].Values) != 2 || slices.Contains(got[0].Values, "198.18.0.1") {
		t.Fatalf("after the retry www is %+v, want .2 and .3", got)
	}
}

// TestReconciler_MassEventWithinTheRate: with the emulator throttling as
// Route 53 does (5 requests per second per account), the mass event's 13
// requests are paced by the provider and none is throttled; with the
// pacing off the same pass is throttled (so the limit does bite).
func TestReconciler_MassEventWithinTheRate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		rate      int
		throttled bool
	}{{"paced", 0, false}, {"unpaced", -1, true}} {
		t.Run(tc.name, func(t *testing.T) {
			const hosts, addrs = 50, 100
			var names, values []string
			var all []netip.Addr
			for a := range addrs {
				ip := netip.AddrFrom4([4]byte{198, 18, byte(a / 250), byte(a%250 + 1)})
				all = append(all, ip)
				values = append(values, ip.String())
			}
			l := newLab(t, labOpts{names: []string{"none"}})
			for h := range hosts {
				n := fmt.Sprintf("h%d.example.com", h)
				names = append(names, n)
				l.emu.Seed(zone, set(n, "A", fmt.Sprintf("h%d", h), i64(0), 300, values...))
			}
			p := l.provider(t, labOpts{names: names, weighted: true, rate: tc.rate})
			health := dns.Health{}
			for i, a := range all {
				health[a] = i%2 == 0
			}
			var logs bytes.Buffer
			r := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Health: func() dns.Health { return health }, Log: slog.New(slog.NewTextHandler(&logs, nil))})
			r.SetGroups([]dns.Group{{Zone: zone, Hostnames: names, Addrs: all, TTL: 300}}, time.Minute)
			l.emu.ResetRequests()
			l.emu.SetRateLimit(5)
			rep := r.Pass(context.Background())
			throttled := 0
			for _, q := range l.emu.Requests() {
				if q.Code == "Throttling" {
					throttled++
				}
			}
			if tc.throttled {
				if throttled == 0 {
					t.Fatalf("unpaced: no request throttled; the emulator's limit does not bite (%d requests)", len(l.emu.Requests()))
				}
				return
			}
			if rep.Err != nil || throttled > 0 {
				t.Fatalf("paced pass: %v, %d requests throttled, want none\n%s", rep.Err, throttled, logs.String())
			}
			for _, s := range l.emu.Sets(zone) {
				if s.Type == "A" && len(s.Values) != addrs/2 {
					t.Fatalf("after the pass %s has %d values, want %d", s.Name, len(s.Values), addrs/2)
				}
			}
		})
	}
}
