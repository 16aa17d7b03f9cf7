package dns

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestReconciler_NoBatchAfterASuspendTheTimerMissed: a fence's context
// may learn that its lease ended only when Err reads the lease's clock (a
// system suspend stops the process's timers, not CLOCK_BOOTTIME). Here the
// host is suspended right after the batch's fence read the clock: its
// context's timer has not fired, but Err says the lease is over. The batch
// check reads Err last, right before the send, and sends nothing.
func TestReconciler_NoBatchAfterASuspendTheTimerMissed(t *testing.T) {
	zone := &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}}
	suspended := errors.New("the lease ended by CLOCK_BOOTTIME during a suspend")
	fences := 0
	r := NewReconciler(ReconcilerConfig{Provider: zone, Health: func() Health { return Health{ip1: true, ip2: false} }, Log: discard(),
		Writer: func() (bool, string) { return true, "me" },
		Fence: func(ctx context.Context) (context.Context, context.CancelFunc, error) {
			fences++
			c, cancel := context.WithCancelCause(ctx)
			if fences == 2 { // the batch's fence: the host sleeps once it is taken
				cancel(suspended)
			}
			return c, func() { cancel(nil) }, nil
		}})
	r.SetGroups([]Group{small}, time.Minute)
	rep := r.Pass(context.Background())
	if fences != 2 {
		t.Fatalf("%d fences, want the zone's and the batch's", fences)
	}
	if zone.applies != 0 {
		t.Errorf("a batch was sent under a lease that ended in a suspend")
	}
	if !errors.Is(rep.Err, ErrLeaseEnded) || !errors.Is(rep.Err, suspended) {
		t.Errorf("err %v, want ErrLeaseEnded with the fence's cause", rep.Err)
	}
}

// slowListing is a zone whose listing answers only once the test lets it
// (the API is slow), or when its context ends.
type slowListing struct {
	*memProvider
	release chan struct{}
}

func (s *slowListing) Records(ctx context.Context, zone string, types []string) ([]Record, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.memProvider.Records(ctx, zone, types)
}

// testLink is a fence's context that ends when the test's clock passes
// its deadline (expire ends it), as a lease link does.
type testLink struct {
	context.Context
	until time.Time
}

func (l testLink) Deadline() (time.Time, bool) { return l.until, true }

// leaseLinks is a fake Fence on a fake clock: each link lasts 5 s from
// when it is taken; after refuseAfter links (0: never) it refuses.
type leaseLinks struct {
	clock       *fakeClock
	refuseAfter int

	mu      sync.Mutex
	taken   int
	cancels map[*context.CancelFunc]time.Time
}

func (f *leaseLinks) fence(ctx context.Context) (context.Context, context.CancelFunc, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuseAfter > 0 && f.taken >= f.refuseAfter {
		return ctx, func() {}, errors.New("not the writer")
	}
	f.taken++
	c, cancel := context.WithCancel(ctx)
	until := f.clock.Now().Add(5 * time.Second)
	f.cancels[&cancel] = until
	return testLink{c, until}, cancel, nil
}

// expire ends the links whose lease is over.
func (f *leaseLinks) expire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c, until := range f.cancels {
		if !f.clock.Now().Before(until) {
			(*c)()
			delete(f.cancels, c)
		}
	}
}

// TestReconciler_SlowListingChainsOntoRenewedLeases: a listing that takes
// 12 s, longer than two lease links (5 s each), is not cancelled when the
// first link ends: the fence is renewed while it runs, each link taken
// while the previous one runs, and the batch goes. When a renewal is
// refused and the latest link ends during the listing, the chain has a
// gap: the listing is dropped and nothing is sent.
func TestReconciler_SlowListingChainsOntoRenewedLeases(t *testing.T) {
	for _, tc := range []struct {
		name        string
		refuseAfter int
		applies     int
	}{
		{"leases renewed: the batch goes", 0, 1},
		{"a renewal refused: a gap, nothing sent", 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			zone := &slowListing{memProvider: &memProvider{records: []Record{rec("1", "www.example.com", "A", "192.0.2.1"), rec("2", "www.example.com", "A", "192.0.2.2")}},
				release: make(chan struct{})}
			links := &leaseLinks{clock: clock, refuseAfter: tc.refuseAfter, cancels: map[*context.CancelFunc]time.Time{}}
			r := NewReconciler(ReconcilerConfig{Provider: zone, Clock: clock, Health: func() Health { return Health{ip1: true, ip2: false} }, Log: discard(),
				Writer: func() (bool, string) { return true, "me" }, Fence: links.fence})
			r.SetGroups([]Group{small}, time.Minute)
			done := make(chan PassReport, 1)
			go func() { done <- r.Pass(context.Background()) }()
			// Move the clock on to each renewal the pass waits for, once it
			// waits for it (or by a second when it waits for none), until
			// the listing has taken 12 s or the pass is over.
			start := clock.Now()
			var rep PassReport
			over, renewing := false, false
			for !over && clock.Now().Sub(start) < 12*time.Second {
				at, ok := armed(clock, done, renewing)
				switch {
				case ok:
					renewing = true
					clock.Advance(at.Sub(clock.Now()))
				case len(done) > 0: // the pass is over
				case renewing:
					t.Fatal("the pass stopped renewing the fence during the listing")
				default:
					clock.Advance(time.Second)
				}
				links.expire()
				select {
				case rep = <-done:
					over = true
				default:
				}
			}
			close(zone.release)
			if !over {
				rep = <-done
			}
			if zone.applies != tc.applies {
				t.Errorf("%d batches applied, want %d (err %v; %d links taken)", zone.applies, tc.applies, rep.Err, links.taken)
			}
			if tc.applies == 0 && !errors.Is(rep.Err, ErrLeaseEnded) {
				t.Errorf("err %v, want ErrLeaseEnded", rep.Err)
			}
			if tc.applies > 0 && rep.Err != nil {
				t.Errorf("err %v", rep.Err)
			}
		})
	}
}

// armed waits until a timer of clock is armed, and returns when it fires;
// false if the pass is over, or none is armed within a second (real time:
// the pass renews nothing), or 20 s once it has renewed.
func armed(clock *fakeClock, done chan PassReport, renewing bool) (time.Time, bool) {
	bound := time.Second
	if renewing {
		bound = 20 * time.Second
	}
	for end := time.Now().Add(bound); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if at, ok := clock.Deadline(); ok {
			return at, true
		}
		if len(done) > 0 {
			return time.Time{}, false
		}
	}
	return time.Time{}, false
}
