package route53

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/r53emu"
)

// bigLab seeds n managed names big0..big<n-1>, each a simple A set of
// values addresses (198.18.x.y), so that removing one address from each
// name rewrites n sets of values values: with 300, each set's edit is
// 599 of a batch's 1,000 records and the write takes n change batches.
func bigLab(t *testing.T, n, values int) (*lab, []string, []netip.Addr) {
	t.Helper()
	var names []string
	for i := range n {
		names = append(names, fmt.Sprintf("big%d.example.com", i))
	}
	l := newLab(t, labOpts{names: names, rate: -1})
	var addrs []netip.Addr
	var vals []string
	for i := range values {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i / 250), byte(i%250 + 1)})
		addrs = append(addrs, a)
		vals = append(vals, a.String())
	}
	for _, nm := range names {
		l.emu.Seed(zone, set(nm, "A", "", nil, 60, vals...))
	}
	return l, names, addrs
}

// TestReview_PartialWriteIsNotUnsent: a write the limits split into
// several change batches fails at batch 2 (PriorRequestNotComplete,
// Throttling, or refused as stale after a racer's edit) after batch 1
// committed. The error must not tell the core that nothing was sent
// (dns.Unsent, or a FenceMovedError, which the core refunds whole):
// the core refunds the removal budget of every removal of the write,
// batch 1's included, and max_removals is exceeded at the next pass
// (TestReview_MaxRemovalsAcrossAPartialWrite shows it end to end).
func TestReview_PartialWriteIsNotUnsent(t *testing.T) {
	for _, tc := range []string{"PriorRequestNotComplete", "Throttling", "stale"} {
		t.Run(tc, func(t *testing.T) {
			l, names, addrs := bigLab(t, 3, 300)
			ctx := context.Background()
			f, err := l.p.ReadFence(ctx, zone)
			if err != nil {
				t.Fatal(err)
			}
			recs, err := l.p.Records(ctx, zone, []string{"A"})
			if err != nil {
				t.Fatal(err)
			}
			dead := only(addrs[0].String())(recs)
			if len(dead) != len(names) {
				t.Fatalf("%d records of the dead address, want %d", len(dead), len(names))
			}
			l.emu.Inject(r53emu.Fault{Method: "POST", Count: 1}) // batch 1: served
			release := make(chan struct{})
			switch tc {
			case "stale":
				l.emu.Inject(r53emu.Fault{Method: "POST", Count: 1, Until: release})
			default:
				l.emu.Inject(r53emu.Fault{Method: "POST", Count: 1, Status: 400, Code: tc})
			}
			done := make(chan error, 1)
			go func() {
				_, err := l.p.ApplyFenced(ctx, zone, f, dns.FenceStamp{Deployment: "test", Writer: "a", At: time.Now()}, nil, dead)
				done <- err
			}()
			if tc == "stale" {
				waitHolding(t, l.emu)
				// A racer's hand edit of the set batch 2 rewrites.
				vals := []string{"198.18.200.1"}
				for _, a := range addrs {
					vals = append(vals, a.String())
				}
				l.emu.Seed(zone, set(names[1], "A", "", nil, 60, vals...))
				close(release)
			}
			err = <-done
			if err == nil {
				t.Fatal("the write succeeded, want batch 2 to fail")
			}
			landed := 0
			for _, nm := range names {
				if s := find(l.emu.Sets(zone), nm, "A"); len(s) == 1 && !slices.Contains(s[0].Values, addrs[0].String()) {
					landed++
				}
			}
			if landed != 1 {
				t.Fatalf("%d names lost the dead address, want 1 (batch 1): %v", landed, err)
			}
			var moved *dns.FenceMovedError
			if dns.Unsent(err) || errors.As(err, &moved) {
				t.Errorf("batch 1 of the write committed, but its error says nothing of it was applied (Unsent %v, FenceMoved %v): %v", dns.Unsent(err), errors.As(err, &moved), err)
			}
		})
	}
}

// waitHolding waits until the emulator holds a request in transit.
func waitHolding(t *testing.T, emu *r53emu.Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for emu.Holding() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no request held after 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestReview_MaxRemovalsAcrossAPartialWrite: max_removals 4, one dead
// address at 8 names. The first pass sends 4 removals in one core batch,
// which the provider splits into 4 change batches; batch 2 is answered
// PriorRequestNotComplete after batch 1 committed. The next pass, in the
// same window, must not remove more than the 3 the budget has left.
func TestReview_MaxRemovalsAcrossAPartialWrite(t *testing.T) {
	l, names, addrs := bigLab(t, 8, 300)
	health := dns.Health{}
	for _, a := range addrs {
		health[a] = a != addrs[0]
	}
	now := time.Unix(1_700_000_000, 0)
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: l.p, Health: func() dns.Health { return health },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: func() time.Time { return now },
		Safety: dns.Safety{MaxRemovals: 4, RemovalWindow: time.Hour}})
	r.SetGroups([]dns.Group{{Zone: zone, Hostnames: names, Addrs: addrs, TTL: 60}}, time.Minute)
	removed := func() int {
		n := 0
		for _, nm := range names {
			if s := find(l.emu.Sets(zone), nm, "A"); len(s) == 1 && !slices.Contains(s[0].Values, addrs[0].String()) {
				n++
			}
		}
		return n
	}
	l.emu.Inject(r53emu.Fault{Method: "POST", Count: 1})
	l.emu.Inject(r53emu.Fault{Method: "POST", Count: 1, Status: 400, Code: "PriorRequestNotComplete"})
	if rep := r.Pass(context.Background()); rep.Err == nil {
		t.Fatal("pass 1 succeeded, want batch 2's PriorRequestNotComplete")
	}
	if n := removed(); n != 1 {
		t.Fatalf("after pass 1, %d removals made, want 1 (batch 1)", n)
	}
	now = now.Add(time.Minute)
	rep := r.Pass(context.Background())
	if rep.Err != nil {
		t.Fatalf("pass 2: %v", rep.Err)
	}
	if n := removed(); n > 4 {
		t.Errorf("%d removals in one window, over max_removals 4", n)
	}
}
