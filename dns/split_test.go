package dns

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"
)

// refuser is a Provider that refuses, whole, any batch holding a change
// that code says is bad (a content code), as Cloudflare does, and applies
// the others. It counts batch requests.
type refuser struct {
	mu      sync.Mutex
	records []Record
	batches int
	code    func(Record) int64 // 0: the change is good
	next    int
}

func (f *refuser) Records(_ context.Context, _ string, types []string) ([]Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Record(nil), f.records...), nil
}

func (f *refuser) Apply(_ context.Context, _ string, creates, deletes []Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches++
	for _, c := range creates {
		if code := f.code(c); code != 0 {
			return &RejectedError{Status: 400, Code: code, Message: "refused", Content: true, Err: fmt.Errorf("%d refused", code)}
		}
	}
	for _, c := range creates {
		f.next++
		c.ID = fmt.Sprintf("n%d", f.next)
		f.records = append(f.records, c)
	}
	f.records = slices.DeleteFunc(f.records, func(r Record) bool {
		return slices.ContainsFunc(deletes, func(d Record) bool { return d.ID == r.ID })
	})
	return nil
}

func (f *refuser) count() int { f.mu.Lock(); defer f.mu.Unlock(); return f.batches }

// addrs returns n addresses 10.0.0.1, 10.0.0.2, ...
func addrs(n int) []netip.Addr {
	var out []netip.Addr
	for i := 1; i <= n; i++ {
		out = append(out, netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i % 256)}))
	}
	return out
}

func splitReconciler(p Provider, groups ...Group) (*Reconciler, *time.Time) {
	now := time.Unix(1_700_000_000, 0)
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: func() Health {
		h := Health{}
		for _, g := range groups {
			for _, a := range g.Addrs {
				h[a] = true
			}
		}
		return h
	}, Log: discard(), Now: func() time.Time { return now }})
	r.SetGroups(groups, time.Minute)
	return r, &now
}

// TestSplit_OneReasonForAllStopsEarly: 64 restores all refused for one
// reason (a ttl of 30 on a zone that is not Enterprise) cost 3 requests
// (the batch, then both halves refused alike), not 127, and are all
// quarantined with the code.
func TestSplit_OneReasonForAllStopsEarly(t *testing.T) {
	p := &refuser{code: func(r Record) int64 {
		if r.TTL < 60 {
			return 9021
		}
		return 0
	}}
	r, _ := splitReconciler(p, Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: addrs(64), TTL: 30})
	r.Pass(context.Background())
	if n := p.count(); n != 3 {
		t.Errorf("%d batch requests for 64 changes refused alike, want 3", n)
	}
	q := r.Quarantined()
	if len(q) != 64 || q[0].Code != 9021 || !q[0].Set {
		t.Fatalf("quarantined %d changes (first %+v), want all 64 as a set with code 9021", len(q), q[0])
	}
}

// TestSplit_RequestsBoundedPerPass: 64 restores each refused for its own
// reason are split at most maxSplitRequests requests deep in a pass; the
// rest is quarantined as a set, and its retry narrows it down further.
func TestSplit_RequestsBoundedPerPass(t *testing.T) {
	p := &refuser{code: func(r Record) int64 { return 9000 + int64(netip.MustParseAddr(r.Content).As4()[3]) }}
	r, now := splitReconciler(p, Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: addrs(64), TTL: 60})
	r.Pass(context.Background())
	if n := p.count(); n > 1+maxSplitRequests {
		t.Errorf("%d batch requests in one pass, want at most %d", n, 1+maxSplitRequests)
	}
	q := r.Quarantined()
	sets := 0
	for _, e := range q {
		if e.Set {
			sets++
		}
	}
	if len(q) != 64 || sets == 0 || sets == 64 {
		t.Fatalf("quarantined %d (%d as a set), want all 64, some narrowed down and some not", len(q), sets)
	}
	*now = now.Add(QuarantineRetry)
	before := p.count()
	r.Pass(context.Background())
	if n := p.count() - before; n > 1+maxSplitRequests || n == 0 {
		t.Errorf("the retry sent %d requests, want 1 to %d", n, 1+maxSplitRequests)
	}
}

// TestSplit_GoodChangesRefusedWithBadOnesLandOnTheRetry: two groups in a
// zone, one with a ttl the zone refuses: the first pass quarantines the
// lot when both halves are refused alike, and the retry splits it all the
// way, so the good group's restores are made and only the bad ones stay.
func TestSplit_GoodChangesRefusedWithBadOnesLandOnTheRetry(t *testing.T) {
	p := &refuser{code: func(r Record) int64 {
		if r.TTL < 60 {
			return 9021
		}
		return 0
	}}
	as := addrs(8)
	r, now := splitReconciler(p,
		Group{Zone: "example.com", Hostnames: []string{"bad.example.com"}, Addrs: as[:4], TTL: 30},
		Group{Zone: "example.com", Hostnames: []string{"good.example.com"}, Addrs: as, TTL: 60})
	r.Pass(context.Background())
	goodHeld := 0
	for _, q := range r.Quarantined() {
		if q.Record.Name == "good.example.com" && q.Set {
			goodHeld++
		}
	}
	if goodHeld == 0 {
		t.Fatalf("first pass: no good change quarantined with the bad ones; the case under test did not arise")
	}
	*now = now.Add(QuarantineRetry)
	r.Pass(context.Background())
	good := 0
	for _, rec := range p.records {
		if rec.Name == "good.example.com" {
			good++
		}
	}
	if q := r.Quarantined(); good != 8 || len(q) != 4 {
		t.Errorf("after the retry: %d of 8 good records made, %d quarantined (want the 4 bad ones)", good, len(q))
	}
}

// TestSplit_RemovalLandsAmongManyBadRestores: a removal in a batch with 64
// restores each refused for its own reason is made in the same pass, at
// the second request, not held behind the split budget.
func TestSplit_RemovalLandsAmongManyBadRestores(t *testing.T) {
	as := addrs(66)
	p := &refuser{records: []Record{{ID: "d", Name: "www.example.com", Type: "A", Content: as[64].String(), TTL: 60},
		{ID: "k", Name: "www.example.com", Type: "A", Content: as[65].String(), TTL: 60}}}
	p.code = func(r Record) int64 { return 9000 + int64(netip.MustParseAddr(r.Content).As4()[3]) }
	now := time.Unix(1_700_000_000, 0)
	h := Health{}
	for _, a := range as {
		h[a] = true
	}
	h[as[64]] = false // its record goes
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: func() Health { return h }, Log: discard(), Now: func() time.Time { return now }})
	r.SetGroups([]Group{{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: as, TTL: 60}}, time.Minute)
	rep := r.Pass(context.Background())
	if len(rep.Plans[0].Deletes) != 1 || p.records[0].ID != "k" {
		t.Errorf("the removal was not made in the pass: deletes %v, records %v", rep.Plans[0].Deletes, p.records)
	}
}

// TestSplit_RemovalWaitsForItsNamesRefusedRestore: while a half of
// restores refused for its whole's code waits for its sibling of
// removals, the removal guard no longer counts on those restores: no
// name is left with no record.
func TestSplit_RemovalWaitsForItsNamesRefusedRestore(t *testing.T) {
	x, y := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")
	p := &refuser{records: []Record{rec("a", "a.example.com", "A", x.String()), rec("b", "b.example.com", "A", x.String())}}
	p.code = func(r Record) int64 {
		if r.TTL < 60 {
			return 9021
		}
		return 0
	}
	now := time.Unix(1_700_000_000, 0)
	r := NewReconciler(ReconcilerConfig{Provider: p, Health: func() Health { return Health{x: false, y: true} }, Log: discard(), Now: func() time.Time { return now }})
	r.SetGroups([]Group{{Zone: "example.com", Hostnames: []string{"a.example.com", "b.example.com"}, Addrs: []netip.Addr{x, y}, TTL: 30}}, time.Minute)
	r.Pass(context.Background())
	for _, name := range []string{"a.example.com", "b.example.com"} {
		if !slices.ContainsFunc(p.records, func(r Record) bool { return r.Name == name }) {
			t.Errorf("%s has no record left: its removal went while its restore was refused (records %v)", name, p.records)
		}
	}
}
