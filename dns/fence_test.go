package dns

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// slowList lists a snapshot, then (while the response is "in flight")
// lets the world move on before handing that snapshot back.
type slowList struct {
	*memProvider
	during func()
}

func (s *slowList) Records(ctx context.Context, zone string, types []string) ([]Record, error) {
	snap, err := s.memProvider.Records(ctx, zone, types)
	if s.during != nil {
		during := s.during
		s.during = nil
		during()
	}
	return snap, err
}

// TestReconciler_NoBatchOnAListingFromAnEarlierLease: the fence is taken
// before the zone is listed, and the batch goes only while that fence's
// lease still runs, so a batch is never planned on a listing made under an
// earlier lease. Schedule (the pass lists A then AAAA):
//
//	t=0  B, the writer, fences and lists: A gives {ip1, ip2}; the AAAA
//	     list hangs. B's agreement: ip1 up, ip2 down.
//	t~1  B's lease lapses (its fence's context ends); A holds a lease and,
//	     with newer states (ip1 down, ip2 up), deletes ip1: zone {ip2}.
//	t~7  B holds a new lease (a fence now says yes).
//	t=8  the AAAA list returns. Planned on the t=0 listing, B would delete
//	     ip2 and leave www with no record; it sends nothing instead.
func TestReconciler_NoBatchOnAListingFromAnEarlierLease(t *testing.T) {
	zone := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}}

	a := NewReconciler(ReconcilerConfig{Provider: zone, Health: func() Health { return Health{ip1: false, ip2: true} }, Log: discard(),
		Fence: func(ctx context.Context) (context.Context, context.CancelFunc, error) { return ctx, func() {}, nil }})
	a.SetGroups([]Group{small}, time.Minute)

	var endFirstLease context.CancelFunc
	slow := &slowList{memProvider: zone, during: func() {
		endFirstLease() // B's lease lapses
		if rep := a.Pass(context.Background()); rep.Err != nil {
			t.Fatal(rep.Err)
		}
	}}
	fences := 0
	b := NewReconciler(ReconcilerConfig{Provider: slow, Health: func() Health { return Health{ip1: true, ip2: false} }, Log: discard(),
		Writer: func() (bool, string) { return true, "B" },
		Fence: func(ctx context.Context) (context.Context, context.CancelFunc, error) {
			fences++
			c, cancel := context.WithCancel(ctx)
			if endFirstLease == nil {
				endFirstLease = cancel
			}
			return c, cancel, nil // B holds a lease each time it asks
		}})
	b.SetGroups([]Group{small}, time.Minute)
	rep := b.Pass(context.Background())
	if got := zone.contents("www.example.com"); got == "" {
		t.Fatalf("www.example.com has no record left: B applied a plan made from a listing taken before A's write")
	}
	if fences == 0 || zone.applies != 1 {
		t.Errorf("%d fences, %d applies: want B fenced and only A's batch applied", fences, zone.applies)
	}
	t.Logf("B's pass: %v", rep.Err)

	// The next pass lists again under a new fence and converges.
	if rep := b.Pass(context.Background()); rep.Err != nil || !strings.Contains(zone.contents("www.example.com"), "192.0.2.1") {
		t.Errorf("the next pass: %v, zone %s", rep.Err, zone.contents("www.example.com"))
	}
}

// slowApply applies each batch request and then runs a hook (a lease
// ending while the answer is on its way).
type slowApply struct {
	*memProvider
	after func() // runs once the batch is applied, before it returns
}

func (s *slowApply) Apply(ctx context.Context, zone string, creates, deletes []Record) error {
	if err := ctx.Err(); err != nil {
		return err // not sent
	}
	err := s.memProvider.Apply(ctx, zone, creates, deletes)
	if s.after != nil {
		s.after()
	}
	return err
}

// TestReconciler_BatchFencesChain: each batch request is fenced, and its
// fence is taken while the previous one still runs, so a pass of many
// batches is not bounded by the first lease: the lease the zone was listed
// under ends after the first batch, and the other four still go. A link
// that ends during its batch (a lease gap) stops the pass: the next pass
// lists again. The leases end when the test says, not on a timer.
func TestReconciler_BatchFencesChain(t *testing.T) {
	var addrs []netip.Addr
	var recs []Record
	h := Health{}
	for i := 1; i <= 6; i++ {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		addrs = append(addrs, a)
		recs = append(recs, rec(fmt.Sprint(i), "www.example.com", "A", a.String()))
		h[a] = i == 1 // five of six down
	}
	g := Group{Zone: "example.com", Hostnames: []string{"www.example.com"}, Addrs: addrs, TTL: 60}
	for _, tc := range []struct {
		name    string
		end     func(fences []context.CancelFunc) // run after the first batch
		applies int
	}{
		{"the listing's lease ends after the first batch: all five go", func(f []context.CancelFunc) { f[0]() }, 5},
		{"the latest link ends during its batch: the next is not sent", func(f []context.CancelFunc) { f[len(f)-1]() }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			zone := &memProvider{records: slices.Clone(recs)}
			var fences []context.CancelFunc
			p := &slowApply{memProvider: zone}
			p.after = func() {
				if zone.applies == 1 {
					tc.end(fences)
				}
			}
			r := NewReconciler(ReconcilerConfig{Provider: p, BatchSize: 1, Health: func() Health { return h }, Log: discard(),
				Writer: func() (bool, string) { return true, "me" },
				Fence: func(ctx context.Context) (context.Context, context.CancelFunc, error) {
					c, cancel := context.WithCancel(ctx)
					fences = append(fences, cancel)
					return c, cancel, nil
				}})
			r.SetGroups([]Group{g}, time.Minute)
			rep := r.Pass(context.Background())
			if zone.applies != tc.applies {
				t.Errorf("%d batches applied, want %d (err %v)", zone.applies, tc.applies, rep.Err)
			}
			if tc.applies == 1 && !errors.Is(rep.Err, ErrLeaseEnded) {
				t.Errorf("err %v, want ErrLeaseEnded", rep.Err)
			}
			if tc.applies == 5 && rep.Err != nil {
				t.Errorf("err %v, want none", rep.Err)
			}
		})
	}
}
