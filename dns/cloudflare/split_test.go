package cloudflare

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goavail/goavail/dns"
	"github.com/goavail/goavail/internal/cfemu"
)

// raceProvider is the Cloudflare adapter with a hook run between the
// listing and the batch: someone else edits the zone meanwhile.
type raceProvider struct {
	*Adapter
	afterList func()
}

func (p *raceProvider) Records(ctx context.Context, zone string, types []string) ([]dns.Record, error) {
	recs, err := p.Adapter.Records(ctx, zone, types)
	if p.afterList != nil {
		p.afterList()
		p.afterList = nil
	}
	return recs, err
}

var ip4 = netip.MustParseAddr("192.0.2.4")

// TestReconciler_BadChangeNeverBlocksAGoodOne runs, through the real SDK
// against the emulator, a zone where one change is refused for what it is,
// beside a valid removal (www loses the down 192.0.2.1). In every case the
// removal lands in the same pass; a refused change is quarantined with its
// code, once, and not sent again on the next pass; a record already there
// counts as made.
func TestReconciler_BadChangeNeverBlocksAGoodOne(t *testing.T) {
	long := strings.Repeat("c", 150)
	for _, tc := range []struct {
		name      string
		groups    []dns.Group
		seed      func(emu *cfemu.Server)
		race      func(emu *cfemu.Server) func()
		code      int64 // the quarantined change's code; 0: none quarantined
		wantAPI   string
		wantBatch int // batch requests in the first pass
	}{
		{
			name:   "CNAME conflict",
			groups: []dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com", "cdn.example.com"}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60}},
			seed: func(emu *cfemu.Server) {
				// cdn became a CNAME while 192.0.2.2 was out: restoring it is refused
				emu.Seed("example.com", cfemu.Record{Name: "cdn.example.com", Type: "CNAME", Content: "cdn.example.net"})
			},
			code:    81053,
			wantAPI: "www.example.com A 192.0.2.2",
			// the whole batch, then its halves: the removal alone, the create alone
			wantBatch: 3,
		},
		{
			name: "comment over the plan's limit",
			groups: []dns.Group{
				{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60},
				{Zone: "example.com", Hostnames: []string{"api.example.com"}, Addrs: []netip.Addr{ip2}, TTL: 60, Comment: long},
			},
			code:      9101,
			wantAPI:   "www.example.com A 192.0.2.2",
			wantBatch: 3,
		},
		{
			name: "record already there",
			groups: []dns.Group{
				{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60},
				{Zone: "example.com", Hostnames: []string{"api.example.com"}, Addrs: []netip.Addr{ip2}, TTL: 60},
			},
			race: func(emu *cfemu.Server) func() {
				return func() {
					emu.Seed("example.com", cfemu.Record{Name: "api.example.com", Type: "A", Content: "192.0.2.2", TTL: 60})
				}
			},
			wantAPI:   "api.example.com A 192.0.2.2,www.example.com A 192.0.2.2",
			wantBatch: 3,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu, cf := newFencedEmu(t)
			emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
			emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.2", TTL: 60})
			if tc.seed != nil {
				tc.seed(emu)
			}
			p := &raceProvider{Adapter: cf}
			if tc.race != nil {
				p.afterList = tc.race(emu)
			}
			var logs bytes.Buffer
			r := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Health: func() dns.Health { return dns.Health{ip1: false, ip2: true} },
				Log: slog.New(slog.NewTextHandler(&logs, nil))})
			r.SetGroups(tc.groups, time.Minute)
			emu.ResetRequests()
			rep := r.Pass(context.Background())
			if rep.Err != nil {
				t.Fatalf("pass failed: %v", rep.Err)
			}
			if got := aRecords(emu); got != tc.wantAPI {
				t.Fatalf("after one pass: %s, want %s\n%s", got, tc.wantAPI, logs.String())
			}
			if n := countBatches(emu); n != tc.wantBatch {
				t.Errorf("%d batch requests, want %d", n, tc.wantBatch)
			}
			q := r.Quarantined()
			if tc.code == 0 {
				if len(q) != 0 {
					t.Errorf("quarantined %+v, want none", q)
				}
				if !strings.Contains(logs.String(), "already in effect (code 81058)") {
					t.Errorf("the record already there is not logged as such:\n%s", logs.String())
				}
				return
			}
			if len(q) != 1 || q[0].Code != tc.code || q[0].Action != dns.ActionCreate || q[0].Message == "" {
				t.Fatalf("quarantine = %+v, want one create with code %d", q, tc.code)
			}
			if pq := rep.Plans[0].Quarantined; len(pq) != 1 || !pq[0].New {
				t.Errorf("the pass report's quarantine: %+v", pq)
			}
			if !strings.Contains(logs.String(), "result=quarantined code="+strconv.FormatInt(tc.code, 10)) {
				t.Errorf("no quarantine log line:\n%s", logs.String())
			}
			emu.ResetRequests()
			rep = r.Pass(context.Background())
			if n := countBatches(emu); n != 0 || rep.Err != nil {
				t.Errorf("second pass: %d batches, err %v; the quarantined change was sent again", n, rep.Err)
			}
			if pq := rep.Plans[0].Quarantined; len(pq) != 1 || pq[0].New {
				t.Errorf("second pass report's quarantine: %+v, want the same change, not new", pq)
			}
		})
	}
}

// TestReconciler_QuarantinedRestoreKeepsTheLastRecord: when the only
// address coming back for a name is refused, the removal of the name's
// last record is held back (the name never goes empty: it waits for its
// replacement, make before break), and made in the pass after the restore.
func TestReconciler_QuarantinedRestoreKeepsTheLastRecord(t *testing.T) {
	emu, cf := newFencedEmu(t)
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
	clock := newFakeClock()
	g := dns.Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2}, TTL: 60, Comment: strings.Repeat("c", 150)}
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return dns.Health{ip1: false, ip2: true} }, Log: discard(), Clock: clock})
	r.SetGroups([]dns.Group{g}, time.Minute)
	rep := r.Pass(context.Background())
	if got := aRecords(emu); got != "www.example.com A 192.0.2.1" {
		t.Fatalf("the name's last record went: %s", got)
	}
	if w := rep.Plans[0].Waiting; len(w) != 1 || w[0].Content != "192.0.2.1" {
		t.Errorf("waiting = %+v", w)
	}
	// The operator fixes the comment: the config change releases the
	// quarantine, the restore goes in the next pass, and the removal in
	// the pass after.
	g.Comment = "fixed"
	r.SetGroups([]dns.Group{g}, time.Minute)
	if q := r.Quarantined(); len(q) != 0 {
		t.Fatalf("a config change did not release the quarantine: %+v", q)
	}
	for range 2 {
		if rep := r.Pass(context.Background()); rep.Err != nil {
			t.Fatal(rep.Err)
		}
	}
	if got := aRecords(emu); got != "www.example.com A 192.0.2.2" {
		t.Errorf("after the fix: %s", got)
	}
}

// TestReconciler_QuarantineRetriesSlowlyAndOnZoneChange: a quarantined
// change is not sent again before dns.QuarantineRetry, unless the zone changes
// (the operator removes the CNAME), and then it is made.
func TestReconciler_QuarantineRetriesSlowlyAndOnZoneChange(t *testing.T) {
	emu, cf := newFencedEmu(t)
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
	cname := emu.Seed("example.com", cfemu.Record{Name: "cdn.example.com", Type: "CNAME", Content: "cdn.example.net"})
	clock := newFakeClock()
	g := dns.Group{Zone: "example.com", Hostnames: []string{"www.example.com", "cdn.example.com"}, Addrs: []netip.Addr{ip1}, TTL: 60}
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return dns.Health{ip1: true} }, Log: discard(), Clock: clock})
	r.SetGroups([]dns.Group{g}, time.Minute)
	r.Pass(context.Background())
	if q := r.Quarantined(); len(q) != 1 || q[0].Code != 81053 {
		t.Fatalf("quarantine = %+v", q)
	}
	for i := 0; i < 3; i++ {
		clock.Advance(time.Minute)
		emu.ResetRequests()
		r.Pass(context.Background())
		if n := countBatches(emu); n != 0 {
			t.Fatalf("pass %d: the quarantined change was sent again before its retry time", i)
		}
	}
	clock.Advance(dns.QuarantineRetry)
	emu.ResetRequests()
	r.Pass(context.Background())
	if n := countBatches(emu); n != 1 || len(r.Quarantined()) != 1 {
		t.Fatalf("at the retry time: %d batches, quarantine %+v; want one try, still refused", n, r.Quarantined())
	}
	emu.Remove("example.com", cname.ID) // the operator removes the CNAME
	r.Pass(context.Background())        // sees the zone change, releases the change
	r.Pass(context.Background())
	if got := aRecords(emu); got != "cdn.example.com A 192.0.2.1,www.example.com A 192.0.2.1" || len(r.Quarantined()) != 0 {
		t.Errorf("after the CNAME went: %s, quarantine %+v", got, r.Quarantined())
	}
}

// TestReconciler_LostAnswerThenStale: a batch applied whose answer is lost
// fails the pass; the retry is answered 81044 (already gone) and 81058
// (already there), and both changes count as made. (ip3 stays, so the
// removal and the restore go in one batch.)
func TestReconciler_LostAnswerThenStale(t *testing.T) {
	emu, cf := newFencedEmu(t)
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.1", TTL: 60})
	emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: "192.0.2.3", TTL: 60})
	p := unfenced{&staleProvider{Adapter: cf}} // the path of a provider without conditional writes
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: p, Health: func() dns.Health { return dns.Health{ip1: false, ip2: true, ip3: true} }, Log: discard()})
	r.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}}, time.Minute)
	emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/batch", LoseAnswer: true, Count: 1})
	rep := r.Pass(context.Background())
	if rep.Err == nil || dns.Unsent(rep.Err) {
		t.Fatalf("lost answer: err %v, want a transient error that may hide an applied request", rep.Err)
	}
	if got := aRecords(emu); !sameRecords(got, "www.example.com A 192.0.2.3,www.example.com A 192.0.2.2") {
		t.Fatalf("the emulator did not commit the batch: %s", got)
	}
	rep = r.Pass(context.Background()) // replays the stale listing: both changes are stale
	if rep.Err != nil || !rep.Plans[0].Applied || len(rep.Plans[0].Creates) != 1 || len(rep.Plans[0].Deletes) != 1 {
		t.Fatalf("retry: %+v", rep)
	}
	if got := aRecords(emu); !sameRecords(got, "www.example.com A 192.0.2.3,www.example.com A 192.0.2.2") {
		t.Errorf("after the retry: %s", got)
	}
}

// unfenced hides a provider's conditional writes (dns.Fencer).
type unfenced struct{ dns.Provider }

// staleProvider lists the zone once and then keeps returning that listing,
// as a pass that raced its own lost answer would see it.
type staleProvider struct {
	*Adapter
	first []dns.Record
}

func (p *staleProvider) Records(ctx context.Context, zone string, types []string) ([]dns.Record, error) {
	if p.first != nil {
		return p.first, nil
	}
	recs, err := p.Adapter.Records(ctx, zone, types)
	p.first = recs
	return recs, err
}

// TestReconciler_SplitsABatchOverThePlansLimit: a batch_size above what
// the plan allows is refused whole; splitting gets every change through.
func TestReconciler_SplitsABatchOverThePlansLimit(t *testing.T) {
	emu, cf := newFencedEmu(t)
	emu.SetMaxBatch(4) // a batch of 3 changes and the fence's 2 is over it
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, BatchSize: 5, Health: func() dns.Health { return dns.Health{ip1: true, ip2: true, ip3: true, ip4: true} }, Log: discard()})
	r.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3, ip4}, TTL: 60}}, time.Minute)
	if rep := r.Pass(context.Background()); rep.Err != nil || len(r.Quarantined()) != 0 {
		t.Fatalf("%v, quarantine %+v", rep.Err, r.Quarantined())
	}
	if got := aRecords(emu); strings.Count(got, "www.example.com A") != 4 {
		t.Errorf("records: %s", got)
	}
}

func aRecords(emu *cfemu.Server) string {
	var out []string
	for _, r := range emu.Records("example.com") {
		if r.Type == "A" || r.Type == "AAAA" {
			out = append(out, r.Name+" "+r.Type+" "+r.Content)
		}
	}
	return strings.Join(out, ",")
}

func countBatches(emu *cfemu.Server) int {
	n := 0
	for _, r := range emu.Requests() {
		if strings.HasSuffix(r.Path, "/batch") {
			n++
		}
	}
	return n
}

// TestReconciler_RemovalBudgetCountsALostAnswer: with max_removals 1, a
// removal whose batch was applied but whose answer was lost still counts,
// so the next removal waits for the window (it would have gone if the
// budget were charged only on success).
func TestReconciler_RemovalBudgetCountsALostAnswer(t *testing.T) {
	emu, cf := newFencedEmu(t)
	for _, c := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		emu.Seed("example.com", cfemu.Record{Name: "www.example.com", Type: "A", Content: c, TTL: 60})
	}
	clock := newFakeClock()
	r := dns.NewReconciler(dns.ReconcilerConfig{Provider: cf, Health: func() dns.Health { return dns.Health{ip1: false, ip2: false, ip3: true} }, Log: discard(), Clock: clock,
		Safety: dns.Safety{MaxRemovals: 1, RemovalWindow: 10 * time.Minute}})
	r.SetGroups([]dns.Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: []netip.Addr{ip1, ip2, ip3}, TTL: 60}}, time.Minute)
	emu.Inject(cfemu.Fault{Method: http.MethodPost, PathSuffix: "/batch", LoseAnswer: true, Count: 1})
	if rep := r.Pass(context.Background()); rep.Err == nil || len(rep.Plans[0].Deferred) != 1 {
		t.Fatalf("first pass: %+v", rep)
	}
	if n := strings.Count(aRecords(emu), "www.example.com A"); n != 2 {
		t.Fatalf("the emulator did not apply the batch whose answer was lost: %s", aRecords(emu))
	}
	clock.Advance(time.Minute)
	emu.ResetRequests()
	rep := r.Pass(context.Background())
	if n := countBatches(emu); n != 0 || len(rep.Plans[0].Deferred) != 1 {
		t.Fatalf("second pass: %d batches, deferred %v; the lost-answer removal was not counted", n, rep.Plans[0].Deferred)
	}
	clock.Advance(10 * time.Minute)
	r.Pass(context.Background())
	if got := aRecords(emu); got != "www.example.com A 192.0.2.3" {
		t.Errorf("after the window: %s", got)
	}
}

// sameRecords compares two aRecords lists in any order.
func sameRecords(a, b string) bool {
	x, y := strings.Split(a, ","), strings.Split(b, ",")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
